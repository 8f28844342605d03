/**
 * A counting semaphore for async code: at most `permits` holders at once,
 * the rest wait in first-come order. A permit is a {@linkcode LockGuard}
 * released by `using` at the end of its block.
 *
 * @module
 */

/** A held permit or lock; releasing it twice is harmless. */
export interface LockGuard extends Disposable {
  /** Gives the permit or lock back (what `using` does at the end of the block). */
  release(): void;
}

/** Options for {@linkcode Semaphore.acquire} and {@linkcode Mutex.lock}. */
export interface AcquireOptions {
  /** Aborting stops waiting: the waiter leaves the queue and the call throws the reason. */
  signal?: AbortSignal;
}

/**
 * Limits how many async holders proceed at once, like Python's
 * `threading.BoundedSemaphore`: each permit is a guard that can be released
 * once, so the count can never grow past `permits`. Waiters are served in
 * the order they came; a released permit goes straight to the first of them.
 *
 * @example At most two downloads at once
 * ```ts
 * import assert from "node:assert/strict";
 * import { Semaphore } from "@spool/spool";
 *
 * const slots = new Semaphore(2);
 * let active = 0;
 * let most = 0;
 * async function download(url: string): Promise<string> {
 *   using _permit = await slots.acquire();
 *   most = Math.max(most, ++active);
 *   await new Promise((resolve) => setTimeout(resolve, 10));
 *   active--;
 *   return `got ${url}`;
 * }
 * await Promise.all(["a", "b", "c", "d"].map(download));
 * assert.equal(most, 2);
 * ```
 */
export class Semaphore {
  #permits: number;
  #available: number;
  // A Set keeps insertion order and deletes in O(1): a FIFO that an aborted
  // waiter can leave from the middle.
  #waiters = new Set<() => void>();

  /**
   * Makes a semaphore with every permit free.
   *
   * @param permits How many holders at once; at least 1.
   * @throws {RangeError} When `permits` is not a positive integer.
   */
  constructor(permits: number) {
    if (!Number.isInteger(permits) || permits < 1) {
      throw new RangeError(
        `Cannot create semaphore as 'permits' must be a positive integer: current value is ${permits}`,
      );
    }
    this.#permits = permits;
    this.#available = permits;
  }

  /** How many holders it admits at once. */
  get permits(): number {
    return this.#permits;
  }

  /** How many permits are free now. */
  get available(): number {
    return this.#available;
  }

  /** How many callers wait for a permit. */
  get waiting(): number {
    return this.#waiters.size;
  }

  /**
   * Takes a permit if one is free, without waiting.
   *
   * @returns The permit, or `undefined` when none is free.
   */
  tryAcquire(): LockGuard | undefined {
    if (this.#available === 0) return undefined;
    this.#available--;
    return this.#guard();
  }

  /**
   * Waits for a permit.
   *
   * @param options `signal` to stop waiting.
   * @returns The permit; release it with `using` or `release()`.
   * @throws The signal's reason when it aborts before a permit is free.
   */
  acquire(options: AcquireOptions = {}): Promise<LockGuard> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const free = this.tryAcquire();
    if (free !== undefined) return Promise.resolve(free);
    return new Promise<LockGuard>((resolve, reject) => {
      const onAbort = () => {
        this.#waiters.delete(grant);
        reject(signal!.reason);
      };
      // Called by a release: the permit passes over without touching the count.
      const grant = () => {
        signal?.removeEventListener("abort", onAbort);
        resolve(this.#guard());
      };
      this.#waiters.add(grant);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  #guard(): LockGuard {
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      const next = this.#waiters.values().next();
      if (next.done) {
        this.#available++;
      } else {
        this.#waiters.delete(next.value);
        next.value();
      }
    };
    return { release, [Symbol.dispose]: release };
  }
}
