/**
 * The four colours the reporters use. Hand-written rather than a colour
 * package because those read environment variables when imported, and spool
 * must run with no `--allow-env` at all.
 *
 * @module
 */

/** Colour functions; each returns its input unchanged when colour is off. */
export interface Palette {
  green(text: string): string;
  red(text: string): string;
  yellow(text: string): string;
  dim(text: string): string;
  bold(text: string): string;
}

/**
 * A palette that colours only when `enabled`.
 *
 * @param enabled Whether to emit escape codes.
 * @returns The palette.
 */
export function palette(enabled: boolean): Palette {
  const wrap = (open: number, close: number) => (text: string) =>
    enabled ? `\x1b[${open}m${text}\x1b[${close}m` : text;
  return {
    green: wrap(32, 39),
    red: wrap(31, 39),
    yellow: wrap(33, 39),
    dim: wrap(2, 22),
    bold: wrap(1, 22),
  };
}
