/**
 * Sizes for people, as `spool cache info` prints them.
 *
 * @module
 */

/**
 * Formats a byte count: `512 B`, `3.4 MiB`, `1.0 GiB`.
 *
 * @param bytes A size in bytes.
 * @returns The formatted size.
 */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}
