/**
 * {@linkcode wait}: Python's `concurrent.futures.wait`, for a set of futures.
 *
 * @module
 */

import type { Future } from "./future.ts";

/** When {@linkcode wait} returns, as Python's `return_when`. */
export type ReturnWhen = "firstCompleted" | "firstException" | "allCompleted";

/** Options for {@linkcode wait}. */
export interface WaitOptions {
  /**
   * `"allCompleted"` (the default): when every future is done.
   * `"firstCompleted"`: when any is. `"firstException"`: when any call has
   * failed (a cancelled future is not a failure), else when all are done.
   */
  returnWhen?: ReturnWhen;
  /**
   * Aborting returns the sets as they stand, as Python's `timeout` does:
   * `wait` never throws the reason. Check `notDone` to tell.
   */
  signal?: AbortSignal;
}

/** What {@linkcode wait} returns: Python's `(done, not_done)`. */
export interface WaitResult<F> {
  /** The futures that are done (fulfilled, rejected or cancelled). */
  done: Set<F>;
  /** The others. */
  notDone: Set<F>;
}

/**
 * Waits until the futures reach the `returnWhen` condition, or `signal`
 * aborts, and splits them into done and not done. Nothing is cancelled.
 *
 * @typeParam F The futures' type.
 * @param futures The futures; one passed twice counts once.
 * @param options `returnWhen`, `signal`.
 * @returns The done and not-done sets.
 * @throws {TypeError} When `returnWhen` is not one of the three names.
 *
 * @example Stop at the first failure
 * ```ts
 * import assert from "node:assert/strict";
 * import { IoExecutor, wait } from "@spool/spool";
 *
 * await using pool = new IoExecutor();
 * const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
 * const slow = pool.submit(() => sleep(100));
 * const failing = pool.submit(async () => {
 *   await sleep(10);
 *   throw new Error("boom");
 * });
 * const { done, notDone } = await wait([slow, failing], { returnWhen: "firstException" });
 * assert.deepEqual([...done], [failing]);
 * assert.deepEqual([...notDone], [slow]);
 * ```
 */
export function wait<F extends Future<unknown>>(
  futures: Iterable<F>,
  options: WaitOptions = {},
): Promise<WaitResult<F>> {
  const { returnWhen = "allCompleted", signal } = options;
  if (!RETURN_WHEN.includes(returnWhen)) {
    throw new TypeError(
      `Cannot wait for futures as 'returnWhen' must be "firstCompleted", "firstException" or "allCompleted": current value is ${
        JSON.stringify(returnWhen)
      }`,
    );
  }
  const all = [...new Set(futures)];
  let pending = all.length;
  let failed = false;
  let finished = false;
  return new Promise((resolve) => {
    const finish = () => {
      if (finished) return;
      finished = true;
      signal?.removeEventListener("abort", finish);
      const done = new Set<F>();
      const notDone = new Set<F>();
      for (const future of all) (future.done ? done : notDone).add(future);
      resolve({ done, notDone });
    };
    const reached = () =>
      pending === 0 || (returnWhen === "firstCompleted" && pending < all.length) ||
      (returnWhen === "firstException" && failed);
    for (const future of all) {
      // Synchronous, and at once for a future already done.
      future.addDoneCallback(() => {
        pending--;
        if (future.state === "rejected") failed = true;
        if (!finished && reached()) finish();
      });
    }
    if (reached() || signal?.aborted) finish();
    else signal?.addEventListener("abort", finish, { once: true });
  });
}

const RETURN_WHEN: readonly string[] = ["firstCompleted", "firstException", "allCompleted"];
