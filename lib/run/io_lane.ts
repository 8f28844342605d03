/**
 * The io lane: runs async functions concurrently on the event loop under a
 * concurrency limit. The wait queue is a linked list, so enqueueing,
 * dequeueing and removing an aborted waiter are each O(1).
 *
 * @module
 */

interface Waiter {
  start: () => void;
  prev: Waiter | undefined;
  next: Waiter | undefined;
  queued: boolean;
}

/** Options for {@linkcode IoLane.run}. */
export interface IoRunOptions {
  /** Aborting removes a queued function from the queue; a running one gets the signal. */
  signal?: AbortSignal;
}

/** A concurrency limiter for async work on the event loop. */
export class IoLane {
  #limit: number;
  #active = 0;
  #size = 0;
  #head: Waiter | undefined;
  #tail: Waiter | undefined;

  /**
   * Creates a lane that runs at most `concurrency` functions at once.
   *
   * @param concurrency How many functions may run at once; at least 1,
   * `Infinity` for no limit.
   * @throws {RangeError} When `concurrency` is not a positive integer or
   * `Infinity`.
   */
  constructor(concurrency: number) {
    if (!(Number.isInteger(concurrency) || concurrency === Infinity) || concurrency < 1) {
      throw new RangeError(
        `Cannot create io lane as 'concurrency' must be a positive integer: current value is ${concurrency}`,
      );
    }
    this.#limit = concurrency;
  }

  /** The concurrency limit. */
  get concurrency(): number {
    return this.#limit;
  }

  /** How many functions are running. */
  get activeCount(): number {
    return this.#active;
  }

  /** How many functions wait for a slot. */
  get pendingCount(): number {
    return this.#size;
  }

  /**
   * Runs `fn` once a slot is free.
   *
   * @param fn The work; receives the signal passed in options (or a signal
   * that never aborts).
   * @param options `signal` to cancel.
   * @returns What `fn` returns.
   * @throws The signal's reason when aborted before starting; otherwise
   * whatever `fn` throws.
   */
  run<T>(fn: (signal: AbortSignal) => T | PromiseLike<T>, options: IoRunOptions = {}): Promise<T> {
    const signal = options.signal ?? NEVER;
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.#active < this.#limit) return this.#execute(fn, signal);
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter = {
        start: () => {
          signal.removeEventListener("abort", onAbort);
          this.#execute(fn, signal).then(resolve, reject);
        },
        prev: this.#tail,
        next: undefined,
        queued: true,
      };
      const onAbort = () => {
        this.#unlink(waiter);
        reject(signal.reason);
      };
      if (signal !== NEVER) signal.addEventListener("abort", onAbort, { once: true });
      if (this.#tail === undefined) this.#head = waiter;
      else this.#tail.next = waiter;
      this.#tail = waiter;
      this.#size++;
    });
  }

  async #execute<T>(
    fn: (signal: AbortSignal) => T | PromiseLike<T>,
    signal: AbortSignal,
  ): Promise<T> {
    this.#active++;
    try {
      return await fn(signal);
    } finally {
      this.#active--;
      const next = this.#head;
      if (next !== undefined) {
        this.#unlink(next);
        next.start();
      }
    }
  }

  #unlink(waiter: Waiter): void {
    if (!waiter.queued) return;
    waiter.queued = false;
    if (waiter.prev === undefined) this.#head = waiter.next;
    else waiter.prev.next = waiter.next;
    if (waiter.next === undefined) this.#tail = waiter.prev;
    else waiter.next.prev = waiter.prev;
    waiter.prev = waiter.next = undefined;
    this.#size--;
  }
}

const NEVER: AbortSignal = new AbortController().signal;
