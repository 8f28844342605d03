/**
 * Checks and copies of the string lists a task declares (`deps`, `inputs`,
 * `outputs`, `env`), as plain indexed loops: defineTasks runs cold in every
 * sandbox host over every task of the file, where a closure per list and an
 * iterator per element cost more than the checks themselves.
 *
 * @module
 */

/**
 * Whether every element of an array is a string (and not `""`, with
 * `nonEmpty`). Holes are skipped, as `Array.prototype.some` skips them, so
 * that a list accepted before stays accepted.
 *
 * @param list An array.
 * @param nonEmpty Whether `""` is refused.
 * @returns `true` when every present element passes.
 */
export function isStringList(list: readonly unknown[], nonEmpty: boolean): boolean {
  for (let i = 0; i < list.length; i++) {
    const item = list[i];
    if (typeof item === "string") {
      if (nonEmpty && item === "") return false;
    } else if (item !== undefined || i in list) {
      return false;
    }
  }
  return true;
}

/**
 * The list without repeats, first occurrences in order: `[...new Set(list)]`
 * without a Set for the short lists tasks declare, and in an array of the
 * exact size when nothing repeats (one grown by `push` holds 17 slots).
 *
 * @param list Strings, possibly repeated.
 * @returns A new array.
 */
export function distinct(list: readonly string[]): string[] {
  const n = list.length;
  if (n === 0) return [];
  if (n === 1) return [list[0]];
  if (n > 16) return [...new Set(list)];
  for (let i = 1; i < n; i++) {
    for (let j = 0; j < i; j++) {
      if (list[i] === list[j]) return [...new Set(list)];
    }
  }
  return [...list];
}
