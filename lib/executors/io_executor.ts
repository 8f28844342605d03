/**
 * The io flavour of the executor, Python's `ThreadPoolExecutor` for Deno:
 * calls overlap on the event loop, at most `maxWorkers` at once, through the
 * same {@linkcode IoLane} that runs io tasks. Good for work that waits
 * (fetches, files, timers); cpu-bound calls gain nothing here, as threads
 * gain nothing under Python's GIL.
 *
 * @module
 */

import {
  type Call,
  ExecutorCore,
  moduleUrl,
  type Outcome,
  positiveInteger,
} from "./_executor_core.ts";
import { mapChunksInOrder, mapInOrder, type MapPlan, type SubmitChunk } from "./_map_in_order.ts";
import type {
  Callable,
  Executor,
  ExecutorKind,
  LocalFunction,
  MapOptions,
  ShutdownOptions,
  SubmitOptions,
} from "./executor.ts";
import type { Future } from "./future.ts";
import { IoLane } from "../run/io_lane.ts";
import { DEFAULT_CONCURRENCY } from "../run/scheduler.ts";

/** Options for {@linkcode IoExecutor}. */
export interface IoExecutorOptions {
  /** How many calls run at once on the event loop. Default 64, minimum 1. */
  maxWorkers?: number;
}

/**
 * Runs calls concurrently on the event loop under a limit. Takes plain
 * functions and {@linkcode ModuleFunction}s (imported on the main thread).
 *
 * @example Three one-second waits take about one second
 * ```ts
 * import assert from "node:assert/strict";
 * import { IoExecutor } from "@spool/spool";
 *
 * const wait = (ms: number, { signal }: { signal: AbortSignal }) =>
 *   new Promise<string>((resolve, reject) => {
 *     const timer = setTimeout(() => resolve(`waited ${ms} ms`), ms);
 *     signal.addEventListener("abort", () => {
 *       clearTimeout(timer);
 *       reject(signal.reason);
 *     });
 *   });
 *
 * await using pool = new IoExecutor({ maxWorkers: 3 });
 * const start = performance.now();
 * const results = await Array.fromAsync(pool.map(wait, [100, 100, 100]));
 * assert.deepEqual(results, ["waited 100 ms", "waited 100 ms", "waited 100 ms"]);
 * assert.ok(performance.now() - start < 290);
 * ```
 */
export class IoExecutor implements Executor {
  #lane: IoLane;
  #core: ExecutorCore;
  #modules = new Map<string, Promise<Record<string, unknown>>>();

  /**
   * Makes the executor.
   *
   * @param options `maxWorkers`.
   * @throws {RangeError} When `maxWorkers` is not a positive integer.
   */
  constructor(options: IoExecutorOptions = {}) {
    const maxWorkers = options.maxWorkers ?? DEFAULT_CONCURRENCY;
    this.#lane = new IoLane(positiveInteger("maxWorkers", maxWorkers, "create io executor"));
    this.#core = new ExecutorCore("io executor", () => {});
  }

  /** Always `"io"`. */
  get kind(): ExecutorKind {
    return "io";
  }

  /** How many calls run at once. */
  get maxWorkers(): number {
    return this.#lane.concurrency;
  }

  /** How many submitted calls wait for a free slot. */
  get pendingCount(): number {
    return this.#lane.pendingCount;
  }

  /** How many calls are running. */
  get activeCount(): number {
    return this.#lane.activeCount;
  }

  /**
   * Schedules `target(input, { signal })` on the event loop.
   *
   * @param target A function or a {@linkcode ModuleFunction}.
   * @param input Its input.
   * @param options `signal`: aborting removes a queued call, and is passed to
   * a running one.
   * @returns The call's future.
   * @throws {Error} When the executor was shut down.
   * @throws {TypeError} When `target` is neither a function nor a module function.
   */
  submit<O>(target: Callable<void, O>): Future<O>;
  submit<I, O>(target: Callable<I, O>, input: I, options?: SubmitOptions): Future<O>;
  submit<I, O>(target: Callable<I, O>, input?: I, options: SubmitOptions = {}): Future<O> {
    const fn = this.#resolve(target);
    const call = this.#core.open<O>(options.signal);
    this.#run(call, fn, input as I);
    return call.controller.future;
  }

  /**
   * Calls `target` on every input, at most `maxWorkers` at once, and yields
   * the results in input order. `chunkSize` is ignored, as for Python's
   * threads.
   *
   * @param target A function or a {@linkcode ModuleFunction}.
   * @param inputs A list, an iterable or an async iterable.
   * @param options `bufferSize` (default twice `maxWorkers`), `signal`.
   * @returns The results, in input order.
   * @throws {Error} When the executor was shut down.
   * @throws {RangeError} When `chunkSize` or `bufferSize` is not a positive integer.
   */
  map<I, O>(
    target: Callable<I, O>,
    inputs: Iterable<I> | AsyncIterable<I>,
    options: MapOptions = {},
  ): AsyncIterableIterator<O, undefined> {
    const [submitChunk, plan] = this.#mapPlan(target, options, false);
    return mapInOrder(submitChunk, inputs, plan);
  }

  /**
   * Like {@linkcode IoExecutor.map}, but each step is the array of the
   * results of `chunkSize` inputs (each input is still its own call). Useful
   * to match a cpu executor's `mapChunks`, or to handle results in batches.
   *
   * @param target A function or a {@linkcode ModuleFunction}.
   * @param inputs A list, an iterable or an async iterable.
   * @param options `chunkSize` (default 1), `bufferSize` (default twice
   * `maxWorkers`), `signal`.
   * @returns Arrays of results, in input order.
   * @throws {Error} When the executor was shut down.
   * @throws {RangeError} When `chunkSize` or `bufferSize` is not a positive integer.
   */
  mapChunks<I, O>(
    target: Callable<I, O>,
    inputs: Iterable<I> | AsyncIterable<I>,
    options: MapOptions = {},
  ): AsyncIterableIterator<O[], undefined> {
    const [submitChunk, plan] = this.#mapPlan(target, options, true);
    return mapChunksInOrder(submitChunk, inputs, plan);
  }

  #mapPlan<I, O>(
    target: Callable<I, O>,
    options: MapOptions,
    byChunk: boolean,
  ): [SubmitChunk<I, O>, MapPlan] {
    this.#core.assertOpen();
    const fn = this.#resolve(target);
    const chunkSize = positiveInteger("chunkSize", options.chunkSize ?? 1, "map");
    const bufferSize = positiveInteger(
      "bufferSize",
      options.bufferSize ?? 2 * this.maxWorkers,
      "map",
    );
    const one = (input: I, signal: AbortSignal) => {
      const call = this.#core.open<O>(signal, true);
      this.#run(call, fn, input);
      return call.controller.future;
    };
    const submitChunk = (chunk: I[], signal: AbortSignal): PromiseLike<Outcome<O>> => {
      if (chunk.length === 1) {
        return one(chunk[0], signal).then(
          (value): Outcome<O> => ({ values: [value] }),
          (reason): Outcome<O> => ({ values: [], error: { reason } }),
        );
      }
      const futures = chunk.map((input) => one(input, signal));
      return Promise.allSettled(futures).then((settled) => {
        const values: O[] = [];
        for (const result of settled) {
          if (result.status === "rejected") return { values, error: { reason: result.reason } };
          values.push(result.value);
        }
        return { values };
      });
    };
    // map ignores chunkSize, as Python does for threads: one call per step.
    return [submitChunk, {
      chunkSize: byChunk ? chunkSize : 1,
      bufferSize,
      signal: options.signal,
    }];
  }

  /**
   * Stops taking work; with `wait`, resolves once every call has settled.
   *
   * @param options `wait` (default `true`), `cancelFutures`, `signal`.
   * @throws The signal's reason when it aborts the wait.
   */
  shutdown(options?: ShutdownOptions): Promise<void> {
    return this.#core.shutdown(options);
  }

  /** Shuts down and waits, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }

  #run<I, O>(call: Call<O>, fn: LocalFunction<I, O>, input: I): void {
    const { controller, signal } = call;
    if (signal.aborted) {
      controller.cancel(signal.reason);
      return;
    }
    this.#lane.run(async (signal) => {
      if (!controller.start()) return undefined as O;
      // Start the call on a later tick, so that submit returns before even
      // a synchronous function runs.
      await undefined;
      return await fn(input, { signal });
    }, { signal }).then(
      (value) => controller.resolve(value),
      (error) => {
        // Never started: the lane dropped it from its queue on abort.
        if (controller.future.state === "pending") controller.cancel(error);
        else controller.reject(error);
      },
    );
  }

  #resolve<I, O>(target: Callable<I, O>): LocalFunction<I, O> {
    if (typeof target === "function") return target;
    if (typeof target === "object" && target !== null && "module" in target) {
      const href = moduleUrl(target.module);
      const name = target.export;
      return async (input, context) => {
        const module = await this.#import(href);
        const fn = module[name];
        if (typeof fn !== "function") {
          throw new TypeError(
            `Cannot call "${name}" from ${href}: the module exports no function of that name`,
          );
        }
        return await (fn as LocalFunction<I, O>)(input, context);
      };
    }
    throw new TypeError(
      `Cannot submit to the io executor as 'target' must be a function or { module, export }: current value is ${
        String(target)
      }`,
    );
  }

  #import(href: string): Promise<Record<string, unknown>> {
    let module = this.#modules.get(href);
    if (module === undefined) {
      module = import(href);
      this.#modules.set(href, module);
    }
    return module;
  }
}
