/**
 * A {@linkcode Channel} that crosses workers, Python's `multiprocessing.Queue`:
 * the channel lives on the main thread, and every worker that should use it
 * gets a `MessagePort` connected to it. Producers and consumers in any number
 * of workers (and the main thread) share the one buffer, its capacity and
 * its backpressure; each value is received once. Values are structured-cloned.
 *
 * The main thread relays each operation, so one value costs a message round
 * trip: fine for handing out jobs and collecting results, not for millions
 * of tiny values (batch them).
 *
 * @module
 */

import { type Channel, ChannelClosedError, type ChannelOptions } from "./channel.ts";

/** Endpoint to the main side; `id` correlates the answer. */
type ToHub =
  | { type: "send"; id: number; value: unknown }
  | { type: "receive"; id: number }
  | { type: "cancel"; id: number }
  | { type: "close" }
  | { type: "disconnect" };

/** Main side to endpoint. */
type FromHub =
  | { type: "sent"; id: number }
  | { type: "received"; id: number; value: unknown }
  | { type: "ended"; id: number }
  | { type: "refused"; id: number }
  /** The channel is closed and drained; the main side closed its port. */
  | { type: "finished" };

/**
 * One end of a channel, usable in a worker. On the main thread, connect a
 * port with {@linkcode WorkerChannel.connect} and hand it to the worker
 * (transfer it); in the worker, wrap the port with `new WorkerChannel(port)`.
 *
 * Close the main-side channel when the producers are done: an open channel
 * keeps its ports, and with them the process, alive. Once it is closed and
 * drained, every port closes by itself.
 *
 * @example A worker consumes jobs that the main thread sends
 * ```ts
 * import assert from "node:assert/strict";
 * import { Channel, CpuExecutor, moduleFunction, WorkerChannel } from "@spool/spool";
 *
 * const source = `
 *   import { WorkerChannel } from ${JSON.stringify(import.meta.resolve("@spool/spool"))};
 *   export async function total(port) {
 *     let sum = 0;
 *     for await (const n of new WorkerChannel(port)) sum += n;
 *     return sum;
 *   }`;
 * const total = moduleFunction<(port: MessagePort) => Promise<number>>(
 *   `data:application/javascript,${encodeURIComponent(source)}`,
 *   "total",
 * );
 *
 * await using pool = new CpuExecutor({ maxWorkers: 1 });
 * const jobs = new Channel<number>(4);
 * const port = WorkerChannel.connect(jobs);
 * const result = pool.submit(total, port, { transfer: [port] });
 * for (let n = 1; n <= 10; n++) await jobs.send(n);
 * jobs.close();
 * assert.equal(await result, 55);
 * ```
 */
export class WorkerChannel<T> implements AsyncIterable<T>, Disposable {
  #port: MessagePort;
  #requests = new Map<number, { receive: boolean; answer: (answer: FromHub) => void }>();
  // Values that arrived for a receive that was aborted meanwhile: the next
  // receive takes them, so that no value is lost.
  #spare: unknown[] = [];
  #nextId = 0;
  #finished = false;

  /**
   * Connects a new port to a channel on this thread and serves it: the
   * other end of the port, wrapped in a `WorkerChannel`, sends to and
   * receives from `channel`.
   *
   * @param channel The channel to share.
   * @returns The port to transfer to a worker.
   */
  static connect<T>(channel: Channel<T>): MessagePort {
    const { port1: hub, port2: remote } = new MessageChannel();
    const pending = new Map<number, AbortController>();
    let finished = false;
    const post = (message: FromHub) => hub.postMessage(message);
    const shut = () => {
      for (const controller of pending.values()) controller.abort();
      hub.close();
    };
    // Answers still on their way must go out before the port closes.
    const finishIfIdle = () => {
      if (!finished || pending.size > 0) return;
      post({ type: "finished" });
      shut();
    };
    hub.onmessage = async ({ data }: MessageEvent<ToHub>) => {
      if (data.type === "close") return channel.close();
      if (data.type === "disconnect") return shut();
      if (data.type === "cancel") return pending.get(data.id)?.abort();
      const controller = new AbortController();
      pending.set(data.id, controller);
      const { signal } = controller;
      try {
        if (data.type === "send") {
          await channel.send(data.value as T, { signal });
          post({ type: "sent", id: data.id });
        } else {
          const result = await channel.receive({ signal });
          post(
            result.done
              ? { type: "ended", id: data.id }
              : { type: "received", id: data.id, value: result.value },
          );
        }
      } catch (error) {
        if (!signal.aborted && error instanceof ChannelClosedError) {
          post({ type: "refused", id: data.id });
        }
      } finally {
        pending.delete(data.id);
        finishIfIdle();
      }
    };
    channel.finished.then(() => {
      finished = true;
      finishIfIdle();
    });
    return remote;
  }

  /**
   * Wraps a port connected to a channel.
   *
   * @param port A port from {@linkcode WorkerChannel.connect}.
   */
  constructor(port: MessagePort) {
    this.#port = port;
    port.onmessage = ({ data }: MessageEvent<FromHub>) => {
      if (data.type === "finished") return this.#finish();
      const request = this.#requests.get(data.id);
      if (request !== undefined) {
        this.#requests.delete(data.id);
        request.answer(data);
      } else if (data.type === "received") {
        // The answer to an aborted receive: give it to a receive still
        // waiting, or keep it for the next one.
        const waiting = [...this.#requests].find(([, r]) => r.receive);
        if (waiting === undefined) return this.#spare.push(data.value);
        this.#requests.delete(waiting[0]);
        // Its own receive on the main side is no longer needed.
        this.#port.postMessage({ type: "cancel", id: waiting[0] } satisfies ToHub);
        waiting[1].answer({ ...data, id: waiting[0] });
      }
    };
  }

  /**
   * Sends a value into the channel, waiting while it is full.
   *
   * @param value The value; structured-cloned.
   * @param options `signal` to stop waiting (a send that races the abort
   * may still be delivered).
   * @throws {ChannelClosedError} When the channel is closed.
   * @throws The signal's reason when it aborts the wait.
   */
  async send(value: T, options: ChannelOptions = {}): Promise<void> {
    const answer = await this.#request({ type: "send", id: this.#nextId++, value }, options.signal);
    if (answer.type !== "sent") throw new ChannelClosedError();
  }

  /**
   * Receives the next value, waiting while the channel is empty.
   *
   * @param options `signal` to stop waiting.
   * @returns `{ value, done: false }`, or `{ done: true }` once the channel
   * is closed and empty.
   * @throws The signal's reason when it aborts the wait.
   */
  async receive(options: ChannelOptions = {}): Promise<IteratorResult<T, undefined>> {
    if (this.#spare.length > 0) return { value: this.#spare.shift() as T, done: false };
    const answer = await this.#request({ type: "receive", id: this.#nextId++ }, options.signal);
    if (answer.type === "received") return { value: answer.value as T, done: false };
    return { value: undefined, done: true };
  }

  /** Closes the channel for everyone: no more sends; receivers drain it. */
  close(): void {
    if (!this.#finished) this.#port.postMessage({ type: "close" } satisfies ToHub);
  }

  /**
   * Lets go of the port, leaving the channel open for others. Pending
   * operations end: receives with `done`, sends with {@linkcode ChannelClosedError}.
   */
  disconnect(): void {
    if (this.#finished) return;
    this.#port.postMessage({ type: "disconnect" } satisfies ToHub);
    this.#finish();
  }

  /** Disconnects, for `using`. */
  [Symbol.dispose](): void {
    this.disconnect();
  }

  /**
   * Receives values until the channel is closed and empty.
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

  #request(message: ToHub & { id: number }, signal: AbortSignal | undefined): Promise<FromHub> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#finished) {
      return Promise.resolve(
        message.type === "send"
          ? { type: "refused", id: message.id }
          : { type: "ended", id: message.id },
      );
    }
    return new Promise<FromHub>((resolve, reject) => {
      const onAbort = () => {
        this.#requests.delete(message.id);
        this.#port.postMessage({ type: "cancel", id: message.id } satisfies ToHub);
        reject(signal!.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#requests.set(message.id, {
        receive: message.type === "receive",
        answer: (answer) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(answer);
        },
      });
      this.#port.postMessage(message);
    });
  }

  #finish(): void {
    this.#finished = true;
    // "ended" reads as done to a waiting receive, and as refused to a send.
    for (const [id, request] of this.#requests) request.answer({ type: "ended", id });
    this.#requests.clear();
    this.#port.close();
  }
}
