/**
 * Futures: the handle an executor returns for one submitted call, as in
 * Python's `concurrent.futures`. A future is promise-like (`await` it), can be
 * cancelled while it waits, and never raises an unhandled rejection: a
 * failure surfaces only where the result is awaited. {@linkcode asCompleted}
 * hands futures back in the order they finish.
 *
 * Executors create futures through a {@linkcode FutureController}; code that
 * uses an executor only ever sees the {@linkcode Future}.
 *
 * @module
 */

import { CancelledError } from "../errors.ts";

/**
 * Where a future is in its life: `pending` (queued), `running`, or one of the
 * final states `fulfilled`, `rejected` and `cancelled`.
 */
export type FutureState = "pending" | "running" | "fulfilled" | "rejected" | "cancelled";

// Set in Future's static block: the controller reaches the future's private
// state through these, so that the future itself exposes no setters.
let createFuture: <T>(onCancel: (reason: unknown) => void) => Future<T>;
let settleFuture: <T>(future: Future<T>, state: FutureState, value: unknown) => boolean;
let startFuture: <T>(future: Future<T>) => boolean;

/**
 * The eventual result of a call submitted to an executor. Await it for the
 * result; the call's error is thrown there, and only there.
 *
 * @example Await a future, or cancel it while it waits
 * ```ts
 * import assert from "node:assert/strict";
 * import { IoExecutor } from "@spool/spool";
 *
 * await using pool = new IoExecutor({ maxWorkers: 1 });
 * const first = pool.submit((n: number) => n * 2, 21);
 * const second = pool.submit((n: number) => n * 3, 1);
 * assert.equal(second.state, "pending");
 * assert.equal(second.cancel(), true);
 * assert.equal(await first, 42);
 * assert.equal(second.state, "cancelled");
 * ```
 */
export class Future<T> implements PromiseLike<T> {
  #state: FutureState = "pending";
  #promise: Promise<T>;
  #resolve!: (value: T) => void;
  #reject!: (reason: unknown) => void;
  #onCancel: (reason: unknown) => void;

  static {
    createFuture = <T>(onCancel: (reason: unknown) => void) => new Future<T>(onCancel);
    settleFuture = (future, state, value) => future.#settle(state, value);
    startFuture = (future) => {
      if (future.#state !== "pending") return false;
      future.#state = "running";
      return true;
    };
  }

  private constructor(onCancel: (reason: unknown) => void) {
    this.#onCancel = onCancel;
    this.#promise = new Promise<T>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // A failure nobody awaits is dropped silently, as in Python; awaiting
    // the future (through `then`) still sees it.
    this.#promise.catch(() => {});
  }

  /** Where the future is: `pending`, `running`, `fulfilled`, `rejected` or `cancelled`. */
  get state(): FutureState {
    return this.#state;
  }

  /** Whether the future reached a final state (fulfilled, rejected or cancelled). */
  get done(): boolean {
    return this.#state !== "pending" && this.#state !== "running";
  }

  /**
   * Cancels the call if it has not started, removing it from the executor's
   * queue; awaiting the future then throws a {@linkcode CancelledError}. As in
   * Python, a running or finished call is not cancelled: to stop a running
   * call, abort the `signal` passed to `submit`.
   *
   * @returns `true` when the future is now cancelled, `false` when it was
   * already running or done.
   */
  cancel(): boolean {
    if (this.#state === "cancelled") return true;
    if (this.#state !== "pending") return false;
    const reason = new CancelledError("Cannot get the result: the future was cancelled");
    this.#settle("cancelled", reason);
    this.#onCancel(reason);
    return true;
  }

  /**
   * Attaches callbacks for the result or the error, like `Promise.then`.
   *
   * @param onfulfilled Called with the result.
   * @param onrejected Called with the error (the call's own, the signal's
   * reason, a {@linkcode CancelledError} or a `BrokenWorkerError`).
   * @returns A promise for the callback's result.
   */
  then<R1 = T, R2 = never>(
    onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this.#promise.then(onfulfilled, onrejected);
  }

  /**
   * Attaches a callback for the error, like `Promise.catch`.
   *
   * @param onrejected Called with the error.
   * @returns A promise for the result or the callback's result.
   */
  catch<R = never>(onrejected?: ((reason: unknown) => R | PromiseLike<R>) | null): Promise<T | R> {
    return this.#promise.catch(onrejected);
  }

  /**
   * Attaches a callback for when the future settles, like `Promise.finally`.
   *
   * @param onfinally Called once the future is done.
   * @returns A promise that settles like the future.
   */
  finally(onfinally?: (() => void) | null): Promise<T> {
    return this.#promise.finally(onfinally);
  }

  /** `"Future"`; with `then`, `catch` and `finally` it makes a future usable wherever a `Promise` is. */
  get [Symbol.toStringTag](): string {
    return "Future";
  }

  #settle(state: FutureState, value: unknown): boolean {
    if (this.done) return false;
    this.#state = state;
    if (state === "fulfilled") this.#resolve(value as T);
    else this.#reject(value);
    return true;
  }
}

/**
 * The executor's side of a {@linkcode Future}: moves it to running and
 * settles it. Settling twice is a no-op, so racing outcomes (a result
 * arriving as the call is aborted) need no extra bookkeeping.
 *
 * @example Settle a future by hand
 * ```ts
 * import assert from "node:assert/strict";
 * import { FutureController } from "./future.ts";
 *
 * const controller = new FutureController<number>(() => {});
 * assert.equal(controller.start(), true);
 * controller.resolve(7);
 * assert.equal(await controller.future, 7);
 * ```
 */
export class FutureController<T> {
  /** The future this controller settles. */
  readonly future: Future<T>;

  /**
   * @param onCancel Called when `future.cancel()` succeeds, with the
   * {@linkcode CancelledError}; the executor removes the call from its queue.
   */
  constructor(onCancel: (reason: unknown) => void) {
    this.future = createFuture<T>(onCancel);
  }

  /**
   * Marks the future running, as Python's `set_running_or_notify_cancel`.
   *
   * @returns `false` when the future is no longer pending (it was cancelled).
   */
  start(): boolean {
    return startFuture(this.future);
  }

  /**
   * Fulfils the future.
   *
   * @param value The result.
   */
  resolve(value: T): void {
    settleFuture(this.future, "fulfilled", value);
  }

  /**
   * Rejects the future with the call's error.
   *
   * @param error The error.
   */
  reject(error: unknown): void {
    settleFuture(this.future, "rejected", error);
  }

  /**
   * Settles the future as cancelled by the executor (its signal aborted, or
   * shutdown dropped it).
   *
   * @param reason What awaiting the future throws.
   */
  cancel(reason: unknown): void {
    settleFuture(this.future, "cancelled", reason);
  }
}

/** Options for {@linkcode asCompleted}. */
export interface AsCompletedOptions {
  /** Aborting ends the iteration: the next step throws the signal's reason. */
  signal?: AbortSignal;
}

/**
 * Yields futures as they finish, fastest first, like Python's
 * `as_completed`. It yields the futures themselves, not their results, so a
 * failed call throws only where its future is awaited. A future passed twice
 * is yielded once.
 *
 * @param futures The futures to wait for.
 * @param options `signal` to stop waiting.
 * @returns An async iterator over the same futures, in completion order.
 * @throws The signal's reason, from the step that was waiting when it aborted.
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
 * for await (const future of asCompleted(futures)) order.push(await future);
 * assert.deepEqual(order, [10, 20, 30]);
 * ```
 */
export function asCompleted<T>(
  futures: Iterable<Future<T>>,
  options: AsCompletedOptions = {},
): AsyncIterableIterator<Future<T>> {
  const { signal } = options;
  const unique = [...new Set(futures)];
  const finished: Future<T>[] = [];
  let wake: (() => void) | undefined;
  const onSettled = (future: Future<T>) => () => {
    finished.push(future);
    wake?.();
  };
  for (const future of unique) future.then(onSettled(future), onSettled(future));
  let yielded = 0;
  // Not an async generator: `yield` there would unwrap the future and throw
  // its error early.
  const iterator: AsyncIterableIterator<Future<T>> = {
    async next(): Promise<IteratorResult<Future<T>>> {
      if (yielded === unique.length) return { value: undefined, done: true };
      signal?.throwIfAborted();
      while (finished.length === 0) {
        await new Promise<void>((resolve, reject) => {
          const onAbort = () => reject(signal!.reason);
          wake = () => {
            signal?.removeEventListener("abort", onAbort);
            resolve();
          };
          signal?.addEventListener("abort", onAbort, { once: true });
        });
        wake = undefined;
      }
      yielded++;
      return { value: finished.shift()!, done: false };
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
