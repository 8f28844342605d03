/**
 * A bounded channel between async producers and consumers, Python's
 * `queue.Queue` with Go's `close`: `send` waits while the buffer is full
 * (backpressure), `receive` waits while it is empty, and once closed the
 * channel drains and then ends every `for await` loop over it. To cross
 * workers, connect a port to it with {@linkcode WorkerChannel.connect}.
 *
 * @module
 */

/** Options for {@linkcode Channel.send} and {@linkcode Channel.receive}. */
export interface ChannelOptions {
  /** Aborting stops waiting; the value of an aborted send is not sent. */
  signal?: AbortSignal;
}

/** Thrown by sending on a closed channel. */
export class ChannelClosedError extends Error {
  /**
   * Makes the error.
   *
   * @param message What could not be done.
   */
  constructor(message = "Cannot send: the channel is closed") {
    super(message);
    this.name = "ChannelClosedError";
  }
}

interface Sender<T> {
  value: T;
  resolve: () => void;
  reject: (reason: unknown) => void;
}

type Receiver<T> = (result: IteratorResult<T, undefined>) => void;

/**
 * A first-in first-out channel with a fixed capacity. Each value is
 * received once, by one consumer.
 *
 * @example A producer and a consumer with backpressure
 * ```ts
 * import assert from "node:assert/strict";
 * import { Channel } from "@spool/spool";
 *
 * const jobs = new Channel<number>(2);
 * const producer = (async () => {
 *   for (let n = 1; n <= 5; n++) await jobs.send(n); // waits while 2 are queued
 *   jobs.close();
 * })();
 * const received: number[] = [];
 * for await (const n of jobs) received.push(n);
 * await producer;
 * assert.deepEqual(received, [1, 2, 3, 4, 5]);
 * ```
 */
export class Channel<T> implements AsyncIterable<T>, Disposable {
  #capacity: number;
  #buffer: T[] = [];
  #head = 0;
  #senders = new Set<Sender<T>>();
  #receivers = new Set<Receiver<T>>();
  #closed = false;
  #finished: PromiseWithResolvers<void> = Promise.withResolvers();

  /**
   * Makes an open, empty channel.
   *
   * @param capacity How many values wait in the channel before `send`
   * waits: `0` hands each value straight from sender to receiver,
   * `Infinity` never waits.
   * @throws {RangeError} When `capacity` is not a non-negative integer or `Infinity`.
   */
  constructor(capacity: number) {
    if (!(Number.isInteger(capacity) || capacity === Infinity) || capacity < 0) {
      throw new RangeError(
        `Cannot create channel as 'capacity' must be a non-negative integer or Infinity: current value is ${capacity}`,
      );
    }
    this.#capacity = capacity;
  }

  /** How many values the channel holds before `send` waits. */
  get capacity(): number {
    return this.#capacity;
  }

  /** How many values wait to be received. */
  get size(): number {
    return this.#buffer.length - this.#head;
  }

  /** Whether `close` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Resolves once the channel is closed and its last value has been received. */
  get finished(): Promise<void> {
    return this.#finished.promise;
  }

  /**
   * Sends a value, waiting while the channel is full.
   *
   * @param value The value.
   * @param options `signal` to stop waiting.
   * @throws {ChannelClosedError} When the channel is closed, or closes while the send waits.
   * @throws The signal's reason when it aborts the wait.
   */
  send(value: T, options: ChannelOptions = {}): Promise<void> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#closed) return Promise.reject(new ChannelClosedError());
    if (this.trySend(value)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        this.#senders.delete(sender);
        reject(signal!.reason);
      };
      const sender: Sender<T> = {
        value,
        resolve: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
        reject: (reason) => {
          signal?.removeEventListener("abort", onAbort);
          reject(reason);
        },
      };
      this.#senders.add(sender);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /**
   * Sends a value if that needs no wait.
   *
   * @param value The value.
   * @returns `false` when the channel is full.
   * @throws {ChannelClosedError} When the channel is closed.
   */
  trySend(value: T): boolean {
    if (this.#closed) throw new ChannelClosedError();
    const receiver = first(this.#receivers);
    if (receiver !== undefined) {
      this.#receivers.delete(receiver);
      receiver({ value, done: false });
      return true;
    }
    if (this.size >= this.#capacity) return false;
    this.#buffer.push(value);
    return true;
  }

  /**
   * Receives the next value, waiting while the channel is empty.
   *
   * @param options `signal` to stop waiting.
   * @returns `{ value, done: false }`, or `{ done: true }` once the channel
   * is closed and empty.
   * @throws The signal's reason when it aborts the wait.
   */
  receive(options: ChannelOptions = {}): Promise<IteratorResult<T, undefined>> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const ready = this.tryReceive();
    if (ready !== undefined) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.#receivers.delete(receiver);
        reject(signal!.reason);
      };
      const receiver: Receiver<T> = (result) => {
        signal?.removeEventListener("abort", onAbort);
        resolve(result);
      };
      this.#receivers.add(receiver);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /**
   * Receives a value if one is ready.
   *
   * @returns `{ value, done: false }`, `{ done: true }` once the channel is
   * closed and empty, or `undefined` when a value may still come.
   */
  tryReceive(): IteratorResult<T, undefined> | undefined {
    if (this.size > 0) {
      const value = this.#buffer[this.#head];
      this.#buffer[this.#head++] = undefined as T;
      if (this.#head * 2 >= this.#buffer.length) {
        this.#buffer = this.#buffer.slice(this.#head);
        this.#head = 0;
      }
      // A waiting sender's value takes the freed place.
      const sender = first(this.#senders);
      if (sender !== undefined) {
        this.#senders.delete(sender);
        this.#buffer.push(sender.value);
        sender.resolve();
      }
      this.#checkFinished();
      return { value, done: false };
    }
    const sender = first(this.#senders);
    if (sender !== undefined) {
      this.#senders.delete(sender);
      sender.resolve();
      return { value: sender.value, done: false };
    }
    if (this.#closed) return { value: undefined, done: true };
    return undefined;
  }

  /**
   * Closes the channel: no more sends; waiting sends fail; receivers get the
   * values already in the channel, then `done`. Closing twice is harmless.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const error = new ChannelClosedError(
      "Cannot send: the channel was closed while the send waited",
    );
    for (const sender of this.#senders) sender.reject(error);
    this.#senders.clear();
    for (const receiver of this.#receivers) receiver({ value: undefined, done: true });
    this.#receivers.clear();
    this.#checkFinished();
  }

  /** Closes the channel, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * Receives values until the channel is closed and empty. Leaving the loop
   * early does not close the channel: other consumers may go on.
   *
   * @returns An async iterator over the values.
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    while (true) {
      const result = await this.receive();
      if (result.done) return;
      yield result.value;
    }
  }

  #checkFinished(): void {
    if (this.#closed && this.size === 0) this.#finished.resolve();
  }
}

function first<T>(set: Set<T>): T | undefined {
  const next = set.values().next();
  return next.done ? undefined : next.value;
}
