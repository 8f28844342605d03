/**
 * Whether a value is a promise or another thenable: what a body or a call
 * returned decides whether it is awaited (a plain value is not, which saves
 * a microtask turn per result on the hot paths of both sides).
 *
 * @module
 */

/** Whether `value` has a callable `then`. */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === "object" || typeof value === "function") && value !== null &&
    typeof (value as PromiseLike<unknown>).then === "function";
}
