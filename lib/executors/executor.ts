/**
 * The embedding API's common face: one {@linkcode Executor} interface over an
 * io flavour (calls overlap on the event loop, as Python's
 * `ThreadPoolExecutor`) and a cpu flavour (calls run on a pool of Web
 * Workers, as `ProcessPoolExecutor`), and {@linkcode executor}, the factory
 * where switching between them is one word.
 *
 * A call is a function of one input and a context holding an `AbortSignal`.
 * Functions cannot cross into a worker, so the cpu flavour names them by
 * module URL and export ({@linkcode moduleFunction}), as Piscina does; the
 * io flavour takes those too, and plain functions besides.
 *
 * @module
 */

import { moduleUrl } from "./_executor_core.ts";
import type { Future } from "./future.ts";
import type { Permissions } from "../declare/permissions.ts";
import { IoExecutor } from "./io_executor.ts";
import { CpuExecutor } from "./cpu_executor.ts";

/** The flavour of an executor: `"io"` for the event loop, `"cpu"` for Web Workers. */
export type ExecutorKind = "io" | "cpu";

/** What a submitted function receives besides its input. */
export interface CallContext {
  /**
   * Aborted when the call is cancelled while it runs (its `submit` signal,
   * or the end of a `map` loop). In a worker the signal never aborts: the
   * executor stops the call by ending the worker.
   */
  signal: AbortSignal;
}

/** A function an executor can call: one input, and a {@linkcode CallContext}. */
export type LocalFunction<I, O> = (input: I, context: CallContext) => O | PromiseLike<O>;

/**
 * A function named by the module that exports it, so that a worker can
 * import it. Build one with {@linkcode moduleFunction} to keep its types.
 */
export interface ModuleFunction<I = unknown, O = unknown> {
  /** URL of the module, such as `import.meta.resolve("./work.ts")`. */
  readonly module: string | URL;
  /** The name it is exported under. */
  readonly export: string;
  /** Only carries the function's type to `submit` and `map`; never set. */
  readonly signature?: LocalFunction<I, O>;
}

/** What `submit` and `map` accept: a function, or a function named by module and export. */
export type Callable<I, O> = LocalFunction<I, O> | ModuleFunction<I, O>;

/** Options for {@linkcode Executor.submit}. */
export interface SubmitOptions {
  /**
   * Aborting removes a queued call (its future is `cancelled`), or stops a
   * running one: an io call sees the abort on its context's signal, a cpu
   * call's worker is ended and replaced.
   */
  signal?: AbortSignal;
  /**
   * cpu only: objects to transfer to the worker with the input rather than
   * copy, such as a `MessagePort` or a large `ArrayBuffer`.
   */
  transfer?: Transferable[];
}

/** Options for {@linkcode Executor.map}. */
export interface MapOptions {
  /**
   * cpu only: how many inputs go to a worker in one message; larger chunks
   * cut messaging cost for many small calls. Ignored by the io flavour, as
   * Python ignores it for threads. Default 1, minimum 1.
   */
  chunkSize?: number;
  /**
   * How many chunks may be submitted and not yet yielded; reading the
   * inputs pauses while the buffer is full, so `map` can walk an endless or
   * slow async iterable. Default twice `maxWorkers`, minimum 1.
   */
  bufferSize?: number;
  /** Aborting stops the map: queued and running calls are cancelled, the loop throws the reason. */
  signal?: AbortSignal;
}

/** Options for {@linkcode Executor.shutdown}. */
export interface ShutdownOptions {
  /** Wait for every submitted call to finish before resolving. Default `true`. */
  wait?: boolean;
  /** Cancel the calls that have not started; running ones still finish. Default `false`. */
  cancelFutures?: boolean;
  /**
   * Aborting stops waiting: every call still queued or running is cancelled
   * with the reason, the workers end, and `shutdown` throws the reason.
   */
  signal?: AbortSignal;
}

/** Options for {@linkcode executor}: the union of both flavours' options. */
export interface ExecutorOptions {
  /**
   * How many calls run at once: for io, concurrent calls on the event loop
   * (default 64); for cpu, the number of workers (default
   * `navigator.hardwareConcurrency`). Minimum 1.
   */
  maxWorkers?: number;
  /**
   * cpu only: what the workers may access; nothing declared means nothing
   * granted. io calls run on the main thread with the process's permissions.
   */
  permissions?: Permissions;
  /**
   * cpu only: how long, in ms, idle workers stay warm before they end so
   * that the process can exit. Default 500; `Infinity` keeps them until
   * `shutdown()`.
   */
  idleTimeout?: number;
}

/**
 * One interface over both flavours, so that code written against it switches
 * between the event loop and workers by one word.
 */
export interface Executor extends AsyncDisposable {
  /** `"io"` or `"cpu"`. */
  readonly kind: ExecutorKind;
  /** How many calls run at once. */
  readonly maxWorkers: number;
  /** How many submitted calls wait for a free slot. */
  readonly pendingCount: number;
  /** How many calls are running. */
  readonly activeCount: number;

  /**
   * Schedules `target()`, a function that takes no input, and returns its
   * future at once.
   *
   * @param target The function, or for cpu a {@linkcode ModuleFunction}.
   * @returns The call's future; a failure surfaces only where it is awaited.
   * @throws {Error} When the executor was shut down.
   * @throws {TypeError} When a cpu executor is given a plain function.
   */
  submit<O>(target: Callable<void, O>): Future<O>;
  /**
   * Schedules `target(input)` and returns its future at once.
   *
   * @param target The function, or for cpu a {@linkcode ModuleFunction}.
   * @param input Its input; structured-cloned into a worker for cpu.
   * @param options `signal` to cancel it, `transfer` for cpu.
   * @returns The call's future; a failure surfaces only where it is awaited.
   * @throws {Error} When the executor was shut down.
   * @throws {TypeError} When a cpu executor is given a plain function.
   */
  submit<I, O>(target: Callable<I, O>, input: I, options?: SubmitOptions): Future<O>;

  /**
   * Calls `target` on every input and yields the results in input order,
   * like Python's `Executor.map`. Nothing starts until the loop asks for the
   * first result; at most `bufferSize` chunks are in flight.
   *
   * @param target The function, or for cpu a {@linkcode ModuleFunction}.
   * @param inputs A list, an iterable or an async iterable.
   * @param options `chunkSize`, `bufferSize`, `signal`.
   * @returns The results, in input order.
   * @throws A call's error, at that call's place in the order; the error of
   * the inputs' iterable after the results before it.
   */
  map<I, O>(
    target: Callable<I, O>,
    inputs: Iterable<I> | AsyncIterable<I>,
    options?: MapOptions,
  ): AsyncIterableIterator<O, undefined>;

  /**
   * The batch form of `map`: each step is the array of the results of one
   * chunk of `chunkSize` inputs. A map over many tiny calls then costs one
   * loop step per chunk, not one per input.
   *
   * @param target The function, or for cpu a {@linkcode ModuleFunction}.
   * @param inputs A list, an iterable or an async iterable.
   * @param options `chunkSize`, `bufferSize`, `signal`.
   * @returns Arrays of results, in input order.
   * @throws A call's error, after the results before it.
   */
  mapChunks<I, O>(
    target: Callable<I, O>,
    inputs: Iterable<I> | AsyncIterable<I>,
    options?: MapOptions,
  ): AsyncIterableIterator<O[], undefined>;

  /**
   * Stops taking work and frees the executor (for cpu, ends its workers)
   * once submitted calls are done. Calling it again is harmless.
   *
   * @param options `wait`, `cancelFutures`, `signal`.
   * @throws The signal's reason when it aborts the wait.
   */
  shutdown(options?: ShutdownOptions): Promise<void>;
}

/**
 * Names a function by its module URL and export name, with its types, so
 * that a cpu executor's worker can import it. Import the module's types only
 * (`import type`), or not at all: the main thread does not load it for cpu.
 *
 * @typeParam F The function's type, such as `typeof work.square`.
 * @param module The module's URL, such as `import.meta.resolve("./work.ts")`.
 * @param name The export's name.
 * @returns A reference that `submit` and `map` accept in both flavours.
 * @throws {TypeError} When `module` is not a valid URL.
 *
 * @example Name a function that a worker can import
 * ```ts
 * import assert from "node:assert/strict";
 * import { CpuExecutor, moduleFunction } from "@spool/spool";
 *
 * const source = "export function square(n) { return n * n; }";
 * const module = `data:application/javascript,${encodeURIComponent(source)}`;
 * const square = moduleFunction<(n: number) => number>(module, "square");
 *
 * await using pool = new CpuExecutor({ maxWorkers: 1 });
 * assert.equal(await pool.submit(square, 12), 144);
 * ```
 */
export function moduleFunction<F extends (input: never, context: CallContext) => unknown>(
  module: string | URL,
  name: string,
): ModuleFunction<Parameters<F> extends [] ? void : Parameters<F>[0], Awaited<ReturnType<F>>> {
  return { module: moduleUrl(module), export: name };
}

/**
 * Makes an executor of either flavour: `"io"` runs calls concurrently on the
 * event loop (Python's threads), `"cpu"` runs them in parallel on Web Workers
 * (Python's processes). The rest of the code stays the same.
 *
 * @param kind `"io"` or `"cpu"`.
 * @param options `maxWorkers`, and for cpu `permissions`.
 * @returns A new executor; shut it down (or `await using` it) when done.
 * @throws {RangeError} When `maxWorkers` is not a positive integer.
 * @throws {TypeError} When `kind` is neither `"io"` nor `"cpu"`.
 * @throws {PermissionError} When cpu `permissions` exceed the process's.
 *
 * @example Switch between the event loop and workers by one word
 * ```ts
 * import assert from "node:assert/strict";
 * import { executor, moduleFunction } from "@spool/spool";
 *
 * const source = "export const double = (n) => n * 2;";
 * const module = `data:application/javascript,${encodeURIComponent(source)}`;
 * const double = moduleFunction<(n: number) => number>(module, "double");
 *
 * for (const kind of ["io", "cpu"] as const) {
 *   await using pool = executor(kind, { maxWorkers: 2 });
 *   assert.deepEqual(await Array.fromAsync(pool.map(double, [1, 2, 3])), [2, 4, 6]);
 * }
 * ```
 */
export function executor(kind: "io", options?: ExecutorOptions): IoExecutor;
/**
 * Makes a cpu executor: calls run in parallel on Web Workers.
 *
 * @param kind `"cpu"`.
 * @param options `maxWorkers`, `permissions`.
 * @returns A new {@linkcode CpuExecutor}.
 * @throws {RangeError} When `maxWorkers` is not a positive integer.
 * @throws {PermissionError} When `permissions` exceed the process's.
 */
export function executor(kind: "cpu", options?: ExecutorOptions): CpuExecutor;
/**
 * Makes an executor of the flavour named at run time.
 *
 * @param kind `"io"` or `"cpu"`.
 * @param options `maxWorkers`, and for cpu `permissions`.
 * @returns A new executor.
 * @throws {RangeError} When `maxWorkers` is not a positive integer.
 * @throws {TypeError} When `kind` is neither `"io"` nor `"cpu"`.
 */
export function executor(kind: ExecutorKind, options?: ExecutorOptions): Executor;
export function executor(kind: ExecutorKind, options: ExecutorOptions = {}): Executor {
  switch (kind) {
    case "io":
      return new IoExecutor({ maxWorkers: options.maxWorkers });
    case "cpu":
      return new CpuExecutor(options);
    default:
      throw new TypeError(
        `Cannot create executor as 'kind' must be "io" or "cpu": current value is ${
          JSON.stringify(kind)
        }`,
      );
  }
}
