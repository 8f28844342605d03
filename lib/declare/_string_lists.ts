/**
 * Checks and copies of the string lists a task declares (`deps`, `inputs`,
 * `outputs`, `env`), as plain indexed loops: defineTasks runs cold in every
 * sandbox host over every task of the file, where a closure per list and an
 * iterator per element cost more than the checks themselves.
 *
 * @module
 */

/**
 * What is wrong with a list a task declares, if anything: its first element
 * that is not a string (or is `""`, with `nonEmpty`), or a hole. A hole
 * (`["a", , "b"]`, a doubled comma) reached the graph as `undefined` and
 * failed there with "Cannot read properties of undefined".
 *
 * @param list An array.
 * @param nonEmpty Whether `""` is refused.
 * @returns `undefined` when every element is a string; else what is wrong,
 * such as `element 1 is missing: a doubled comma?`.
 */
export function stringListProblem(list: readonly unknown[], nonEmpty: boolean): string | undefined {
  for (let i = 0; i < list.length; i++) {
    const item = list[i];
    if (typeof item === "string") {
      if (nonEmpty && item === "") return `element ${i} is an empty string`;
    } else if (!(i in list)) {
      return `element ${i} is missing: a doubled comma?`;
    } else {
      return `element ${i} is ${item === null ? "null" : `a ${typeof item}`}`;
    }
  }
  return undefined;
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
