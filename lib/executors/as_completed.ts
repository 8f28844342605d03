/**
 * {@linkcode asCompleted}: futures handed back in the order they finish,
 * as Python's `concurrent.futures.as_completed`.
 *
 * @module
 */

import type { Future } from "./future.ts";

/** Options for {@linkcode asCompleted}. */
export interface AsCompletedOptions {
  /**
   * Aborting ends the wait, as Python's `timeout`: every future already done
   * is still yielded, then the next step throws the signal's reason.
   */
  signal?: AbortSignal;
}

/**
 * One step of {@linkcode asCompleted}: a finished future and where it stood
 * in the input.
 *
 * The future comes wrapped because a future is awaitable: TypeScript types
 * the variable of `for await` as what its values resolve to, so a bare
 * future would be typed as its result.
 */
export interface Completion<F> {
  /** The future, done. Await it (or call `result()`) for its value or error. */
  readonly future: F;
  /** Its index among the futures passed in (the first, for one passed twice). */
  readonly index: number;
}

interface Waiter<F> {
  resolve(step: IteratorResult<Completion<F>, undefined>): void;
  reject(reason: unknown): void;
}

/**
 * Yields futures as they finish, fastest first, like Python's
 * `as_completed`. Futures already done come first, in input order. It yields
 * the futures, not their results, so a failed call throws only where its
 * future is awaited. A future passed twice is yielded once. Concurrent
 * `next()` calls each get their own future.
 *
 * @typeParam F The futures' type, such as `Future<number> | Future<string>`.
 * @param futures The futures to wait for.
 * @param options `signal` to stop waiting.
 * @returns An async iterator of `{ future, index }`, in completion order.
 * @throws The signal's reason, from the first step that finds nothing done
 * after it aborted.
 *
 * @example Handle results in the order they finish
 * ```ts
 * import assert from "node:assert/strict";
 * import { asCompleted, IoExecutor } from "@spool/spool";
 *
 * await using pool = new IoExecutor({ maxWorkers: 4 });
 * const wait = (ms: number) => new Promise<number>((resolve) => setTimeout(() => resolve(ms), ms));
 * const futures = [30, 10, 20].map((ms) => pool.submit(wait, ms));
 * const order: number[] = [];
 * for await (const { future, index } of asCompleted(futures)) {
 *   assert.equal(futures[index], future);
 *   order.push(await future);
 * }
 * assert.deepEqual(order, [10, 20, 30]);
 * ```
 */
export function asCompleted<F extends Future<unknown>>(
  futures: Iterable<F>,
  options: AsCompletedOptions = {},
): AsyncIterableIterator<Completion<F>, undefined> {
  const { signal } = options;
  const indexes = new Map<F, number>();
  for (const future of futures) if (!indexes.has(future)) indexes.set(future, indexes.size);
  const finished: Completion<F>[] = [];
  const waiters: Waiter<F>[] = [];
  // Futures neither yielded nor promised to a waiting next().
  let unclaimed = indexes.size;
  let closed = false;

  const onAbort = () => {
    for (const waiter of waiters.splice(0)) waiter.reject(signal!.reason);
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  const close = () => {
    closed = true;
    signal?.removeEventListener("abort", onAbort);
    for (const waiter of waiters.splice(0)) waiter.resolve({ value: undefined, done: true });
  };
  for (const [future, index] of indexes) {
    // Called synchronously when the future settles (or now, if it is done),
    // so that `finished` is never behind the futures' states.
    future.addDoneCallback(() => {
      if (closed) return;
      const step = { future, index };
      const waiter = waiters.shift();
      if (waiter === undefined) finished.push(step);
      else waiter.resolve({ value: step, done: false });
    });
  }

  const iterator: AsyncIterableIterator<Completion<F>, undefined> = {
    next(): Promise<IteratorResult<Completion<F>, undefined>> {
      if (closed) return Promise.resolve({ value: undefined, done: true });
      const step = finished.shift();
      if (step !== undefined) {
        unclaimed--;
        if (unclaimed === 0) close();
        return Promise.resolve({ value: step, done: false });
      }
      if (unclaimed === 0) return Promise.resolve({ value: undefined, done: true });
      if (signal?.aborted) return Promise.reject(signal.reason);
      return new Promise((resolve, reject) => {
        unclaimed--;
        waiters.push({
          resolve: (result) => {
            if (unclaimed === 0 && waiters.length === 0 && !closed) close();
            resolve(result);
          },
          reject: (reason) => {
            unclaimed++;
            reject(reason);
          },
        });
      });
    },
    return(): Promise<IteratorResult<Completion<F>, undefined>> {
      close();
      finished.length = 0;
      return Promise.resolve({ value: undefined, done: true });
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
