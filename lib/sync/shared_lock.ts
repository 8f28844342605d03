/**
 * A lock that works across workers: its whole state is one 32-bit cell of a
 * `SharedArrayBuffer`, so every worker that receives the buffer holds the
 * same lock, Python's `multiprocessing.Lock`. Workers take it with `lock()`,
 * which blocks the thread (`Atomics.wait`); the main thread should use
 * `lockAsync()`, which waits without blocking the event loop.
 *
 * The cell follows Drepper's futex mutex ("Futexes Are Tricky", mutex 2):
 * 0 unlocked, 1 locked, 2 locked with waiters, so an uncontended lock and
 * unlock cost one atomic operation each and never call into the kernel.
 *
 * @module
 */

import type { AcquireOptions, LockGuard } from "./semaphore.ts";

const UNLOCKED = 0;
const LOCKED = 1;
const CONTENDED = 2;

/**
 * A mutual-exclusion lock over shared memory, for code in several workers.
 * Pass `lock.buffer` to the workers (it is shared, not copied) and wrap it
 * there with `new SharedLock(buffer)`.
 *
 * @example Guard a counter that two workers share
 * ```ts
 * import assert from "node:assert/strict";
 * import { CpuExecutor, moduleFunction, SharedLock } from "@spool/spool";
 *
 * const source = `
 *   import { SharedLock } from ${JSON.stringify(import.meta.resolve("@spool/spool"))};
 *   export function add({ lock, counter, times }) {
 *     const mutex = new SharedLock(lock);
 *     const cell = new Int32Array(counter);
 *     for (let i = 0; i < times; i++) {
 *       using _held = mutex.lock();
 *       Atomics.store(cell, 0, Atomics.load(cell, 0) + 1);
 *     }
 *   }`;
 * const add = moduleFunction<(input: object) => void>(
 *   `data:application/javascript,${encodeURIComponent(source)}`,
 *   "add",
 * );
 *
 * const lock = new SharedLock();
 * const counter = new SharedArrayBuffer(4);
 * await using pool = new CpuExecutor({ maxWorkers: 2, permissions: { read: true } });
 * const input = { lock: lock.buffer, counter, times: 1000 };
 * await Promise.all([pool.submit(add, input), pool.submit(add, input)]);
 * assert.equal(new Int32Array(counter)[0], 2000);
 * ```
 */
export class SharedLock {
  /** How many bytes of a buffer one lock uses. */
  static readonly BYTES: number = 4;

  #cell: Int32Array;

  /**
   * Makes a lock over shared memory, or attaches to one.
   *
   * @param buffer The shared memory holding the lock; a new one when
   * omitted. Every `SharedLock` over the same bytes is the same lock.
   * @param byteOffset Where the lock's 4 bytes start; a multiple of 4.
   * @throws {RangeError} When the offset is not a multiple of 4 or the
   * buffer is too small.
   */
  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(SharedLock.BYTES), byteOffset = 0) {
    if (byteOffset % 4 !== 0 || byteOffset < 0 || byteOffset + 4 > buffer.byteLength) {
      throw new RangeError(
        `Cannot create shared lock as 'byteOffset' must be a multiple of 4 inside the buffer: current value is ${byteOffset}`,
      );
    }
    this.#cell = new Int32Array(buffer, byteOffset, 1);
  }

  /** The shared memory to hand to workers. */
  get buffer(): SharedArrayBuffer {
    return this.#cell.buffer as SharedArrayBuffer;
  }

  /** Where the lock's 4 bytes start in {@linkcode SharedLock.buffer}. */
  get byteOffset(): number {
    return this.#cell.byteOffset;
  }

  /** Whether some thread holds the lock now (it may change at once). */
  get locked(): boolean {
    return Atomics.load(this.#cell, 0) !== UNLOCKED;
  }

  /**
   * Takes the lock if it is free, without waiting.
   *
   * @returns The guard, or `undefined` when the lock is held.
   */
  tryLock(): LockGuard | undefined {
    if (Atomics.compareExchange(this.#cell, 0, UNLOCKED, LOCKED) !== UNLOCKED) return undefined;
    return this.#guard();
  }

  /**
   * Takes the lock, blocking this thread until it is free. Meant for
   * workers; on the main thread it would stall the event loop, so use
   * {@linkcode SharedLock.lockAsync} there.
   *
   * @returns The guard; release it with `using` or `release()`.
   */
  lock(): LockGuard {
    let state = Atomics.compareExchange(this.#cell, 0, UNLOCKED, LOCKED);
    while (state !== UNLOCKED) {
      if (
        state === CONTENDED ||
        Atomics.compareExchange(this.#cell, 0, LOCKED, CONTENDED) !== UNLOCKED
      ) {
        Atomics.wait(this.#cell, 0, CONTENDED);
      }
      state = Atomics.compareExchange(this.#cell, 0, UNLOCKED, CONTENDED);
    }
    return this.#guard();
  }

  /**
   * Takes the lock, waiting without blocking the thread.
   *
   * @param options `signal` to stop waiting.
   * @returns The guard; release it with `using` or `release()`.
   * @throws The signal's reason when it aborts before the lock is free.
   */
  async lockAsync(options: AcquireOptions = {}): Promise<LockGuard> {
    const { signal } = options;
    signal?.throwIfAborted();
    let state = Atomics.compareExchange(this.#cell, 0, UNLOCKED, LOCKED);
    if (state === UNLOCKED) return this.#guard();
    // A pending Atomics.waitAsync does not keep Deno's event loop alive.
    const keepAlive = setInterval(() => {}, 1 << 30);
    try {
      while (state !== UNLOCKED) {
        if (
          state === CONTENDED ||
          Atomics.compareExchange(this.#cell, 0, LOCKED, CONTENDED) !== UNLOCKED
        ) {
          await this.#waitAsync(signal);
        }
        state = Atomics.compareExchange(this.#cell, 0, UNLOCKED, CONTENDED);
      }
    } finally {
      clearInterval(keepAlive);
    }
    return this.#guard();
  }

  async #waitAsync(signal: AbortSignal | undefined): Promise<void> {
    const wait = Atomics.waitAsync(this.#cell, 0, CONTENDED);
    if (!wait.async) return;
    if (signal === undefined) {
      await wait.value;
      return;
    }
    const { promise, reject } = Promise.withResolvers<never>();
    const onAbort = () => {
      reject(signal.reason);
      // The abandoned wait may still take an unlock's wake-up: pass it on,
      // or a real waiter would sleep through it.
      wait.value.then((result) => {
        if (result === "ok") Atomics.notify(this.#cell, 0, 1);
      });
    };
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      await Promise.race([wait.value, promise]);
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }

  #guard(): LockGuard {
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      if (Atomics.sub(this.#cell, 0, 1) !== LOCKED) {
        Atomics.store(this.#cell, 0, UNLOCKED);
        Atomics.notify(this.#cell, 0, 1);
      }
    };
    return { release, [Symbol.dispose]: release };
  }
}
