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

/**
 * What takes a slot through {@linkcode enterLane}: called back, not awaited,
 * so that a function waiting or running holds no promise or async frame.
 */
export interface LaneEntrant {
  /** It has a slot: run, then give it back with {@linkcode leaveLane}. */
  enter(): void;
  /** The signal aborted before it had a slot: it never runs. */
  refused(reason: unknown): void;
}

let enterInto: (lane: IoLane, signal: AbortSignal, entrant: LaneEntrant) => void;
let leaveFrom: (lane: IoLane) => void;

/**
 * Takes a slot for `entrant`, as {@linkcode IoLane.run} does for a function:
 * at once when one is free (`enter` is called before this returns), else in
 * turn. spool's scheduler uses it for io attempts; `run` stays the public way.
 *
 * @param lane The lane.
 * @param signal Aborting it while the entrant waits calls `refused`.
 * @param entrant What to call.
 */
export function enterLane(lane: IoLane, signal: AbortSignal, entrant: LaneEntrant): void {
  enterInto(lane, signal, entrant);
}

/**
 * Gives back a slot {@linkcode enterLane} gave: to the next waiter, or free.
 *
 * @param lane The lane.
 */
export function leaveLane(lane: IoLane): void {
  leaveFrom(lane);
}

/** Options for {@linkcode IoLane.run}. */
export interface IoRunOptions {
  /** Aborting removes a queued function from the queue; a running one gets the signal. */
  signal?: AbortSignal;
}

/** A concurrency limiter for async work on the event loop. */
export class IoLane {
  static {
    enterInto = (lane, signal, entrant) => lane.#enter(signal, entrant);
    leaveFrom = (lane) => lane.#leave();
  }

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
    if (this.#active < this.#limit) {
      this.#active++;
      return this.#execute(fn, signal);
    }
    // `then` is called here, in the caller's async context, so `fn` runs in
    // it (AsyncLocalStorage sees the caller's store, as with p-limit) rather
    // than in the context of the function that finished and handed over its
    // slot. Measured against AsyncResource and AsyncLocalStorage.snapshot(),
    // this is the cheapest way: about 0.2 µs per queued function.
    return this.#turn(signal).then(() => this.#execute(fn, signal));
  }

  /** Takes a free slot now, or waits in turn (then, in the caller's async context). */
  #enter(signal: AbortSignal, entrant: LaneEntrant): void {
    if (signal.aborted) return entrant.refused(signal.reason);
    if (this.#active < this.#limit) {
      this.#active++;
      return entrant.enter();
    }
    this.#turn(signal).then(() => entrant.enter(), (reason) => entrant.refused(reason));
  }

  /** Resolves when a slot passes to this waiter; rejects if `signal` aborts first. */
  #turn(signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        start: () => {
          signal.removeEventListener("abort", onAbort);
          resolve();
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

  /** Runs `fn` in a slot already counted, then hands the slot to the next waiter or frees it. */
  async #execute<T>(
    fn: (signal: AbortSignal) => T | PromiseLike<T>,
    signal: AbortSignal,
  ): Promise<T> {
    try {
      return await fn(signal);
    } finally {
      this.#leave();
    }
  }

  /** Hands the slot to the next waiter or frees it. */
  #leave(): void {
    const next = this.#head;
    if (next === undefined) {
      this.#active--;
    } else {
      // The slot passes straight to the next waiter, so that no caller
      // arriving before that waiter's turn can take it.
      this.#unlink(next);
      next.start();
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
