/**
 * A wait on an operation that completes on another thread (a SHA-256 of
 * nothing). With nothing else ready meanwhile, Deno's event loop looks at
 * its sockets; a loop that always has a message ready (a yield by a message
 * to itself) does so only every 61st turn (tokio's event interval). The
 * runner's start loop and an io host's worker take their turns this way
 * while thousands of tasks start. The operation is taken when spool loads,
 * before any task code can replace `crypto.subtle`.
 *
 * @module
 */

const subtle = globalThis.crypto?.subtle;
const digest = subtle?.digest;
const reflectApply = Reflect.apply;
const NOTHING = new Uint8Array(0);

/** Whether there is such an operation here (`crypto.subtle`); yield some other way if not. */
export const canParkOnOperation: boolean = digest !== undefined;

/**
 * Waits on the operation; only where {@linkcode canParkOnOperation}.
 *
 * @returns Settles once it has completed (its value is of no use).
 */
export function parkOnOperation(): Promise<unknown> {
  return reflectApply(digest!, subtle, ["SHA-256", NOTHING]);
}
