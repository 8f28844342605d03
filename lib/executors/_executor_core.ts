/**
 * What both executor flavours share: the bookkeeping of submitted calls
 * (their futures, their abort signals, shutdown). `map` is in
 * _map_in_order.ts.
 *
 * @module
 */

import { FutureController } from "./future.ts";
import type { ShutdownOptions } from "./executor.ts";

/** One submitted call as an executor tracks it. */
export interface Call<O> {
  /** Settles the call's future. */
  controller: FutureController<O>;
  /** Aborts when the caller's signal does, the future is cancelled, or shutdown forces it. */
  signal: AbortSignal;
}

/** The result of a chunk of calls: the values before the first failure, and that failure. */
export interface Outcome<O> {
  /** Results in input order, up to the first failure. */
  values: O[];
  /** The first failure, when there was one. */
  error?: { reason: unknown };
}

/**
 * Checks a count option.
 *
 * @param name The option's name, for the message.
 * @param value Its value.
 * @param what What fails, for the message, such as `"create executor"`.
 * @returns The value.
 * @throws {RangeError} When it is not a positive integer.
 */
export function positiveInteger(name: string, value: number, what: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(
      `Cannot ${what} as '${name}' must be a positive integer: current value is ${value}`,
    );
  }
  return value;
}

/**
 * Checks a module function's module and returns its absolute URL.
 *
 * @param module The `module` of a module function.
 * @returns The URL's href.
 * @throws {TypeError} When it is not an absolute URL.
 */
export function moduleUrl(module: string | URL): string {
  if (!URL.canParse(module)) {
    throw new TypeError(
      `Cannot name a module function as 'module' must be an absolute URL such as import.meta.resolve("./work.ts"): current value is ${
        JSON.stringify(String(module))
      }`,
    );
  }
  return new URL(module).href;
}

/** Tracks an executor's calls from submit to settlement, and its shutdown. */
export class ExecutorCore {
  #label: string;
  #release: () => void;
  #calls = new Map<Call<unknown>, AbortController>();
  #closed = false;
  #released = false;
  #idle: (() => void)[] = [];

  /**
   * @param label The executor's name in messages, such as `"cpu executor"`.
   * @param release Frees the executor's resources once shut down and idle.
   */
  constructor(label: string, release: () => void) {
    this.#label = label;
    this.#release = release;
  }

  /**
   * Throws when the executor no longer takes work.
   *
   * @throws {Error} After shutdown.
   */
  assertOpen(): void {
    if (this.#closed) {
      throw new Error(`Cannot submit to the ${this.#label}: it has been shut down`);
    }
  }

  /**
   * Registers a new call.
   *
   * @param signal The caller's signal, if any.
   * @param forMap Whether a `map` submits it, for the message after shutdown.
   * @returns The call, its future pending.
   * @throws {Error} After shutdown.
   */
  open<O>(signal: AbortSignal | undefined, forMap = false): Call<O> {
    if (forMap && this.#closed) {
      throw new Error(
        `Cannot continue the map: the ${this.#label} was shut down before the map submitted its next input; read a map before shutting its executor down`,
      );
    }
    this.assertOpen();
    const own = new AbortController();
    const controller = new FutureController<O>((reason) => own.abort(reason));
    const call: Call<O> = {
      controller,
      signal: signal === undefined ? own.signal : AbortSignal.any([signal, own.signal]),
    };
    this.#calls.set(call as Call<unknown>, own);
    const settled = () => {
      this.#calls.delete(call as Call<unknown>);
      if (this.#calls.size === 0) { for (const resolve of this.#idle.splice(0)) resolve(); }
    };
    controller.future.then(settled, settled);
    return call;
  }

  /**
   * Stops taking work, optionally cancels queued calls, and frees the
   * executor once every call has settled.
   *
   * @param options `wait`, `cancelFutures`, `signal`.
   * @throws The signal's reason when it aborts the wait.
   */
  async shutdown(options: ShutdownOptions = {}): Promise<void> {
    const { wait = true, cancelFutures = false, signal } = options;
    this.#closed = true;
    if (cancelFutures) {
      for (const call of [...this.#calls.keys()]) call.controller.future.cancel();
    }
    const idle = this.#calls.size === 0
      ? Promise.resolve()
      : new Promise<void>((resolve) => this.#idle.push(resolve));
    const freed = idle.then(() => {
      if (this.#released) return;
      this.#released = true;
      this.#release();
    });
    if (!wait) return;
    if (signal === undefined) return await freed;
    const onAbort = () => {
      for (const own of [...this.#calls.values()]) own.abort(signal.reason);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    try {
      await Promise.race([
        freed,
        new Promise<never>((_, reject) => {
          if (signal.aborted) reject(signal.reason);
          else signal.addEventListener("abort", () => reject(signal.reason), { once: true });
        }),
      ]);
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }
}
