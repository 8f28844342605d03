/**
 * The engine of both executors' `map`: submits chunks of inputs as the loop
 * consumes results, and hands the results back in input order.
 *
 * It is a hand-written iterator, not an async generator, because it is the
 * hot path of a map over many tiny calls: a generator's `yield` costs several
 * microtask turns per item, while a step here that has its value ready costs
 * one resolved promise. A synchronous source is read synchronously, and a
 * plain array by index.
 *
 * @module
 */

import { CancelledError } from "../errors.ts";
import type { Outcome } from "./_executor_core.ts";

/** Options {@linkcode mapInOrder} needs, already defaulted. */
export interface MapPlan {
  chunkSize: number;
  bufferSize: number;
  signal: AbortSignal | undefined;
}

/** Submits one chunk; the promise rejects only when the whole chunk failed. */
export type SubmitChunk<I, O> = (inputs: I[], signal: AbortSignal) => PromiseLike<Outcome<O>>;

/**
 * Returns the results of `submitChunk` over chunks of `inputs`, in input
 * order. Nothing is read or submitted until the first `next()`; then at
 * most `bufferSize` chunks are in flight ahead of the loop. An async source
 * is read concurrently with the loop, so that a slow source does not hold
 * back results already done.
 *
 * @param submitChunk Submits one chunk.
 * @param inputs The inputs.
 * @param plan Chunk size, buffer size and signal.
 * @returns The results in input order; leaving the loop early cancels what
 * is still queued or running.
 */
export function mapInOrder<I, O>(
  submitChunk: SubmitChunk<I, O>,
  inputs: Iterable<I> | AsyncIterable<I>,
  plan: MapPlan,
): AsyncIterableIterator<O, undefined> {
  return new MapIterator<I, O, O>(submitChunk, inputs, plan, false);
}

/**
 * {@linkcode mapInOrder}, one step per chunk: each step is the array of a
 * chunk's results. A chunk whose call failed yields the results before the
 * failure first; the next step throws.
 *
 * @param submitChunk Submits one chunk.
 * @param inputs The inputs.
 * @param plan Chunk size, buffer size and signal.
 * @returns Arrays of results, in input order.
 */
export function mapChunksInOrder<I, O>(
  submitChunk: SubmitChunk<I, O>,
  inputs: Iterable<I> | AsyncIterable<I>,
  plan: MapPlan,
): AsyncIterableIterator<O[], undefined> {
  return new MapIterator<I, O, O[]>(submitChunk, inputs, plan, true);
}

// The built-in iterator of arrays: an array that keeps it is read by index.
const ARRAY_ITERATOR = Array.prototype[Symbol.iterator];

interface Slot<O> {
  outcome: Outcome<O> | undefined;
  failure: { reason: unknown } | undefined;
  settled: Promise<void>;
}

/** Steps through results one by one (`S` = `O`) or chunk by chunk (`S` = `O[]`). */
class MapIterator<I, O, S> implements AsyncIterableIterator<S, undefined> {
  #submit: SubmitChunk<I, O>;
  #byChunk: boolean;
  #inputs: Iterable<I> | AsyncIterable<I>;
  #chunkSize: number;
  #bufferSize: number;
  #userSignal: AbortSignal | undefined;
  #stop = new AbortController();
  #signal: AbortSignal;
  #sync: Iterator<I> | undefined;
  /** A plain array is read by index, as its iterator would, without a step object per input. */
  #array: readonly I[] | undefined;
  #index = 0;
  #async: AsyncIterator<I> | undefined;
  #started = false;
  #sourceDone = false;
  #sourceFailure: { reason: unknown } | undefined;
  #buffer: Slot<O>[] = [];
  #values: O[] = [];
  #at = 0;
  #pendingError: { reason: unknown } | undefined;
  #finished = false;
  #wakeLoop: (() => void) | undefined;
  #wakeReader: (() => void) | undefined;
  #aborted: Promise<never> | undefined;

  constructor(
    submit: SubmitChunk<I, O>,
    inputs: Iterable<I> | AsyncIterable<I>,
    plan: MapPlan,
    byChunk: boolean,
  ) {
    this.#submit = submit;
    this.#byChunk = byChunk;
    this.#inputs = inputs;
    this.#chunkSize = plan.chunkSize;
    this.#bufferSize = plan.bufferSize;
    this.#userSignal = plan.signal;
    this.#signal = plan.signal === undefined
      ? this.#stop.signal
      : AbortSignal.any([plan.signal, this.#stop.signal]);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<S, undefined>> {
    if (this.#at < this.#values.length) {
      const value = this.#values[this.#at++] as unknown as S;
      return Promise.resolve({ value, done: false });
    }
    return this.#advance();
  }

  return(): Promise<IteratorResult<S, undefined>> {
    this.#finish();
    return Promise.resolve({ value: undefined, done: true });
  }

  async #advance(): Promise<IteratorResult<S, undefined>> {
    if (this.#finished) return { value: undefined, done: true };
    try {
      if (this.#pendingError !== undefined) throw this.#pendingError.reason;
      if (!this.#started) this.#start();
      this.#userSignal?.throwIfAborted();
      while (true) {
        while (this.#buffer.length === 0 && !this.#sourceDone) {
          await this.#race(new Promise<void>((resolve) => this.#wakeLoop = resolve));
          this.#wakeLoop = undefined;
        }
        const head = this.#buffer.shift();
        if (head === undefined) {
          if (this.#sourceFailure !== undefined) throw this.#sourceFailure.reason;
          this.#finish();
          return { value: undefined, done: true };
        }
        this.#fill();
        if (head.outcome === undefined && head.failure === undefined) {
          await this.#race(head.settled);
        }
        if (head.failure !== undefined) throw head.failure.reason;
        const { values, error } = head.outcome!;
        if (error !== undefined) this.#pendingError = error;
        if (values.length > 0) {
          if (this.#byChunk) return { value: values as unknown as S, done: false };
          this.#values = values;
          this.#at = 1;
          return { value: values[0] as unknown as S, done: false };
        }
        if (error !== undefined) throw error.reason;
      }
    } catch (reason) {
      this.#finish();
      throw reason;
    }
  }

  /** Waits for `promise`, or throws the caller's signal's reason as soon as it aborts. */
  #race(promise: Promise<void>): Promise<void> {
    const signal = this.#userSignal;
    if (signal === undefined) return promise;
    this.#aborted ??= new Promise<never>((_, reject) => {
      if (signal.aborted) reject(signal.reason);
      else signal.addEventListener("abort", () => reject(signal.reason), { once: true });
    });
    this.#aborted.catch(() => {});
    return Promise.race([promise, this.#aborted]);
  }

  #start(): void {
    this.#started = true;
    const inputs = this.#inputs;
    if (Symbol.asyncIterator in inputs) {
      this.#async = inputs[Symbol.asyncIterator]();
      this.#read();
    } else if (Array.isArray(inputs) && inputs[Symbol.iterator] === ARRAY_ITERATOR) {
      this.#array = inputs;
      this.#fill();
    } else {
      try {
        this.#sync = inputs[Symbol.iterator]();
      } catch (reason) {
        this.#sourceFailure = { reason };
        this.#sourceDone = true;
        return;
      }
      this.#fill();
    }
  }

  /** For a synchronous source: submits chunks until the buffer is full. */
  #fill(): void {
    if (this.#array !== undefined) return this.#fillFromArray(this.#array);
    const source = this.#sync;
    if (source === undefined) {
      this.#wakeReader?.();
      return;
    }
    while (!this.#sourceDone && this.#buffer.length < this.#bufferSize && !this.#signal.aborted) {
      const chunk: I[] = [];
      try {
        while (chunk.length < this.#chunkSize) {
          const step = source.next();
          if (step.done) {
            this.#sourceDone = true;
            break;
          }
          chunk.push(step.value);
        }
      } catch (reason) {
        this.#sourceFailure = { reason };
        this.#sourceDone = true;
      }
      if (chunk.length > 0) this.#push(chunk);
    }
  }

  /**
   * For a plain array: its length is read at each chunk, so that items
   * pushed while the loop runs are mapped too, and a hole reads as
   * `undefined`, as with its iterator.
   */
  #fillFromArray(array: readonly I[]): void {
    while (!this.#sourceDone && this.#buffer.length < this.#bufferSize && !this.#signal.aborted) {
      const start = this.#index;
      let chunk: I[];
      try {
        const end = Math.min(array.length, start + this.#chunkSize);
        if (end <= start) {
          this.#sourceDone = true;
          return;
        }
        chunk = new Array<I>(end - start);
        for (let i = start; i < end; i++) chunk[i - start] = array[i];
        this.#index = end;
      } catch (reason) {
        // A proxy's trap threw: as a throwing iterator, after the results before.
        this.#sourceFailure = { reason };
        this.#sourceDone = true;
        return;
      }
      this.#push(chunk);
    }
  }

  /** For an async source: reads and submits until it ends, pausing while the buffer is full. */
  async #read(): Promise<void> {
    const source = this.#async!;
    try {
      while (!this.#signal.aborted) {
        while (this.#buffer.length >= this.#bufferSize && !this.#signal.aborted) {
          await new Promise<void>((resolve) => this.#wakeReader = resolve);
          this.#wakeReader = undefined;
        }
        if (this.#signal.aborted) return;
        const chunk: I[] = [];
        let last = false;
        while (chunk.length < this.#chunkSize) {
          const step = await source.next();
          if (step.done) {
            last = true;
            break;
          }
          chunk.push(step.value);
        }
        if (this.#signal.aborted) return;
        if (chunk.length > 0) this.#push(chunk);
        this.#wakeLoop?.();
        if (last) return;
      }
    } catch (reason) {
      this.#sourceFailure = { reason };
    } finally {
      this.#sourceDone = true;
      this.#wakeLoop?.();
    }
  }

  #push(chunk: I[]): void {
    let promise: PromiseLike<Outcome<O>>;
    try {
      promise = this.#submit(chunk, this.#signal);
    } catch (reason) {
      // The executor refused (it was shut down): the results before come first.
      this.#sourceFailure = { reason };
      this.#sourceDone = true;
      return;
    }
    const slot: Slot<O> = { outcome: undefined, failure: undefined, settled: undefined! };
    slot.settled = Promise.resolve(promise).then(
      (outcome) => void (slot.outcome = outcome),
      (reason) => void (slot.failure = { reason }),
    );
    this.#buffer.push(slot);
  }

  /** Stops reading and cancels whatever is still queued or running: nobody will read it. */
  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#values = [];
    this.#at = 0;
    this.#buffer.length = 0;
    this.#stop.abort(new CancelledError("Cannot get the result: the map loop ended before it"));
    this.#wakeReader?.();
    if (!this.#sourceDone) {
      const source = this.#sync ?? this.#async;
      // Not awaited: a source blocked in next() would hold the loop's exit.
      try {
        Promise.resolve(source?.return?.()).catch(() => {});
      } catch {
        // A source whose return() throws has nothing more to clean up.
      }
    }
  }
}
