/**
 * Futures: the handle an executor returns for one submitted call, as in
 * Python's `concurrent.futures`. A future is promise-like (`await` it), can be
 * cancelled while it waits, and never raises an unhandled rejection: a
 * failure surfaces only where the result is awaited. {@linkcode asCompleted}
 * hands futures back in the order they finish; {@linkcode wait} waits for
 * the first, the first failure, or all of them.
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
  // Typed without T: a field that takes a T would make Future<T> invariant,
  // so that Future<number> would not pass where a Future<unknown> is asked.
  #resolve!: (value: unknown) => void;
  #reject!: (reason: unknown) => void;
  #onCancel: (reason: unknown) => void;
  #callbacks: ((future: Future<unknown>) => void)[] | undefined;

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
      this.#resolve = resolve as (value: unknown) => void;
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

  /**
   * The result, as Python's `result(timeout)`: waits for the call and
   * returns its value or throws its error. Aborting `signal` stops the wait
   * (the call goes on) and throws the signal's reason. Without a signal this
   * is `await future`.
   *
   * @param options `signal` to stop waiting, such as `AbortSignal.timeout(ms)`.
   * @returns The call's result.
   * @throws The call's error, a {@linkcode CancelledError}, or the signal's reason.
   *
   * @example Wait at most 50 ms for a result
   * ```ts
   * import assert from "node:assert/strict";
   * import { IoExecutor } from "@spool/spool";
   *
   * await using pool = new IoExecutor();
   * const slow = pool.submit(() => new Promise((resolve) => setTimeout(resolve, 200)));
   * await assert.rejects(slow.result({ signal: AbortSignal.timeout(50) }), { name: "TimeoutError" });
   * assert.equal(slow.state, "running");
   * ```
   */
  result(options: { signal?: AbortSignal } = {}): Promise<T> {
    return withSignal(this.#promise, options.signal);
  }

  /**
   * The call's error, as Python's `exception(timeout)`: waits for the call
   * and returns what it threw, or `undefined` when it returned.
   *
   * @param options `signal` to stop waiting.
   * @returns The error, or `undefined`.
   * @throws A {@linkcode CancelledError} when the future was cancelled (as
   * Python raises `CancelledError`), or the signal's reason.
   *
   * @example Look at a failure without a try block
   * ```ts
   * import assert from "node:assert/strict";
   * import { IoExecutor } from "@spool/spool";
   *
   * await using pool = new IoExecutor();
   * const failing = pool.submit((n: number) => {
   *   if (n < 0) throw new RangeError(`negative: ${n}`);
   *   return Math.sqrt(n);
   * }, -1);
   * const error = await failing.exception();
   * assert.ok(error instanceof RangeError);
   * assert.equal(await pool.submit(Math.sqrt, 4).exception(), undefined);
   * ```
   */
  exception(options: { signal?: AbortSignal } = {}): Promise<unknown> {
    const error = this.#promise.then(
      () => undefined,
      (reason) => {
        if (this.#state === "cancelled") throw reason;
        return reason;
      },
    );
    return withSignal(error, options.signal);
  }

  /**
   * Calls `callback(future)` once the future is done, as Python's
   * `add_done_callback`: synchronously, as it settles, or at once when it is
   * already done. Callbacks run in the order they were added. One that
   * throws does not stop the others; its error is reported as an uncaught
   * error (`reportError`), as an event listener's would be: unless a
   * `globalThis` `"error"` listener calls `preventDefault()`, that ends the
   * process (Python logs it and goes on).
   *
   * @param callback Called with this future.
   *
   * @example Count finished calls as they finish
   * ```ts
   * import assert from "node:assert/strict";
   * import { IoExecutor } from "@spool/spool";
   *
   * await using pool = new IoExecutor();
   * const finished: string[] = [];
   * const futures = [1, 2, 3].map((n) => pool.submit((x: number) => x * 10, n));
   * for (const future of futures) {
   *   future.addDoneCallback((done) => finished.push(done.state));
   * }
   * await Promise.all(futures);
   * assert.deepEqual(finished, ["fulfilled", "fulfilled", "fulfilled"]);
   * ```
   */
  addDoneCallback(callback: (future: this) => void): void {
    if (this.done) {
      runCallback(callback as (future: Future<unknown>) => void, this);
      return;
    }
    (this.#callbacks ??= []).push(callback as (future: Future<unknown>) => void);
  }

  /** `"Future"`; with `then`, `catch` and `finally` it makes a future usable wherever a `Promise` is. */
  get [Symbol.toStringTag](): string {
    return "Future";
  }

  #settle(state: FutureState, value: unknown): boolean {
    if (this.done) return false;
    this.#state = state;
    if (state === "fulfilled") this.#resolve(value);
    else this.#reject(value);
    const callbacks = this.#callbacks;
    this.#callbacks = undefined;
    if (callbacks !== undefined) { for (const callback of callbacks) runCallback(callback, this); }
    return true;
  }
}

function runCallback(callback: (future: Future<unknown>) => void, future: Future<unknown>): void {
  try {
    callback(future);
  } catch (error) {
    reportError(error);
  }
}

/** `promise`, or the signal's reason if it aborts first; the promise goes on either way. */
function withSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
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
