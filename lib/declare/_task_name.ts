/**
 * What a task's name may be: letters, marks, digits, `_`, `.`, `:` and
 * `-`, not starting with a mark or punctuation. `define.ts` refuses any
 * other name, and the no-op fast path refuses a record holding one, so that
 * no name printed to a terminal can carry a control character.
 *
 * @module
 */

/** A valid task name (marks, `\p{M}`, after the first character: Devanagari, Thai, decomposed accents). */
export const TASK_NAME = /^[\p{L}\p{N}_][\p{L}\p{M}\p{N}_.:\-]*$/u;
