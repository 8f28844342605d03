/**
 * How the reports write durations: rounded to the microsecond in a report,
 * and for people as `850 ms`, `2.31 s`, `1 m 04 s`. Apart from
 * `report.ts`, which re-exports both, so that the no-op fast path can
 * print its summary without loading the report's other modules.
 *
 * @module
 */

/**
 * Formats a duration for people: `850 ms`, `2.31 s`, `1 m 04 s`.
 *
 * @param ms A duration in milliseconds.
 * @returns The formatted duration.
 */
export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)} s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  return `${minutes} m ${String(seconds).padStart(2, "0")} s`;
}

/**
 * Rounds a time in ms to the microsecond, as reports carry it.
 *
 * @param ms A time in milliseconds.
 * @returns The time rounded to three decimals.
 */
export function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
