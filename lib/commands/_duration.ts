/**
 * Durations as command options take them: a number of ms, or `"250ms"`,
 * `"90s"`, `"5m"`, `"1h"`.
 *
 * @module
 */

/**
 * A duration in ms.
 *
 * @param value ms, or a number with a unit.
 * @returns The ms, or `undefined` when the value is not a duration above 0.
 */
export function parseDuration(value: number | string): number | undefined {
  if (typeof value === "number") return value > 0 ? value : undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(String(value));
  if (match === null) return undefined;
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[match[2] ?? "ms"]!;
  const ms = Number(match[1]) * unit;
  return ms > 0 ? ms : undefined;
}
