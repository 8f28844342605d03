/**
 * A mutual-exclusion lock for async code on one thread: it guards a
 * read-modify-write that awaits in the middle, which would otherwise lose
 * updates when two such sections interleave. For memory shared between
 * workers use {@linkcode SharedLock}.
 *
 * @module
 */

import { type AcquireOptions, type LockGuard, Semaphore } from "./semaphore.ts";

/**
 * Python's `threading.Lock` for async code: one holder at a time, waiters
 * served in order, released by `using` at the end of the block.
 *
 * @example Keep an async read-modify-write whole
 * ```ts
 * import assert from "node:assert/strict";
 * import { Mutex } from "@spool/spool";
 *
 * const mutex = new Mutex();
 * const account = { balance: 0 };
 * async function deposit(amount: number): Promise<void> {
 *   using _lock = await mutex.lock();
 *   const balance = account.balance;
 *   await new Promise((resolve) => setTimeout(resolve, 1));
 *   account.balance = balance + amount;
 * }
 * await Promise.all([deposit(10), deposit(20), deposit(30)]);
 * assert.equal(account.balance, 60);
 * ```
 */
export class Mutex {
  #semaphore = new Semaphore(1);

  /** Whether someone holds the lock. */
  get locked(): boolean {
    return this.#semaphore.available === 0;
  }

  /** How many callers wait for the lock. */
  get waiting(): number {
    return this.#semaphore.waiting;
  }

  /**
   * Takes the lock if it is free, without waiting.
   *
   * @returns The guard, or `undefined` when the lock is held.
   */
  tryLock(): LockGuard | undefined {
    return this.#semaphore.tryAcquire();
  }

  /**
   * Waits for the lock.
   *
   * @param options `signal` to stop waiting.
   * @returns The guard; release it with `using` or `release()`.
   * @throws The signal's reason when it aborts before the lock is free.
   */
  lock(options?: AcquireOptions): Promise<LockGuard> {
    return this.#semaphore.acquire(options);
  }
}
