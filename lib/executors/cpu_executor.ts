/**
 * The cpu flavour of the executor, Python's `ProcessPoolExecutor` for Deno:
 * calls run in parallel on a pool of Web Workers, each started on demand,
 * kept warm, and spawned with exactly the executor's declared permissions.
 * The workers are the task runner's: a {@linkcode WorkerPool} whose slots
 * are keyed by the module they call into, speaking the one protocol.
 * Functions are named by module URL and export ({@linkcode moduleFunction}),
 * because a function cannot cross into a worker; inputs and results are
 * structured-cloned (a `SharedArrayBuffer` is shared, not copied).
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
import { type Breakage, submitCall, WorkerPool } from "../pool/worker_pool.ts";
import { displayFile, SpoolError } from "../errors.ts";
import type {
  Callable,
  Executor,
  ExecutorKind,
  MapOptions,
  ModuleFunction,
  ShutdownOptions,
  SubmitOptions,
} from "./executor.ts";
import type { Future } from "./future.ts";
import { assertGranted, normalizePermissions, type Permissions } from "../declare/permissions.ts";

/** Options for {@linkcode CpuExecutor}. */
export interface CpuExecutorOptions {
  /** How many workers at most. Default `navigator.hardwareConcurrency`, minimum 1. */
  maxWorkers?: number;
  /**
   * What the workers may access, as a task declares it (`{ read: ["./data"] }`);
   * nothing declared means nothing granted, whatever the process holds.
   */
  permissions?: Permissions;
  /**
   * How long, in ms, idle workers stay warm once no call is queued or
   * running; then they end, so that a script that never shuts the executor
   * down still exits. The next call starts workers again. `Infinity` keeps
   * them until `shutdown()` (and keeps the process alive until then).
   * Default 500, minimum 0.
   */
  idleTimeout?: number;
  /**
   * Retire a worker after this many calls (a map chunk counts as one) and
   * start a fresh one in its place, as Python's `max_tasks_per_child`: for
   * modules that leak or keep state between calls. `1` gives every call a
   * new worker. Default `Infinity`, minimum 1.
   */
  maxTasksPerWorker?: number;
}

/**
 * A worker died while it held a call, or could not start because its module
 * does not load: Python's `BrokenProcessPool`. The message names the
 * function, the module and what the worker reported. Unlike Python's, only
 * the calls on that worker fail: the executor replaces the worker and goes
 * on, except that a module that cannot load fails every call into it.
 *
 * @example Tell a broken worker from an error the function threw
 * ```ts
 * import assert from "node:assert/strict";
 * import { BrokenWorkerError, CpuExecutor, moduleFunction } from "@spool/spool";
 *
 * const source = "export function crash() { setTimeout(() => { throw new Error('boom'); }); return new Promise(() => {}); }";
 * const module = `data:application/javascript,${encodeURIComponent(source)}`;
 *
 * await using pool = new CpuExecutor({ maxWorkers: 1 });
 * await assert.rejects(pool.submit(moduleFunction<() => void>(module, "crash")), (error) => {
 *   assert.ok(error instanceof BrokenWorkerError);
 *   assert.match(error.message, /boom/);
 *   return true;
 * });
 * ```
 */
export class BrokenWorkerError extends SpoolError {
  /** The module the worker served. */
  readonly module: string;
  /** The index of the worker's slot. */
  readonly worker: number;

  /**
   * Makes the error.
   *
   * @param message What broke, naming the function and the cause.
   * @param options `module`, `worker`, and what the worker reported as `cause`.
   */
  constructor(message: string, options: { module: string; worker: number; cause?: unknown }) {
    super(message, "BROKEN_WORKER", 1, { cause: options.cause });
    this.name = "BrokenWorkerError";
    this.module = options.module;
    this.worker = options.worker;
  }
}

/**
 * Runs calls in parallel on Web Workers. Needs `--unstable-worker-options`
 * (or `"unstable": ["worker-options"]` in deno.json) for worker permissions.
 *
 * @example Two heavy calls run on two workers at once
 * ```ts
 * import assert from "node:assert/strict";
 * import { CpuExecutor, moduleFunction } from "@spool/spool";
 *
 * const source = "export function sumOfSquares(n) { let s = 0; for (let i = 0; i < n; i++) s += i * i; return s; }";
 * const module = `data:application/javascript,${encodeURIComponent(source)}`;
 * const sumOfSquares = moduleFunction<(n: number) => number>(module, "sumOfSquares");
 *
 * await using pool = new CpuExecutor({ maxWorkers: 2 });
 * const [a, b] = await Promise.all([pool.submit(sumOfSquares, 1000), pool.submit(sumOfSquares, 10)]);
 * assert.deepEqual([a, b], [332833500, 285]);
 * ```
 */
export class CpuExecutor implements Executor {
  #size: number;
  #pool: WorkerPool;
  #permissions: Permissions;
  #core: ExecutorCore;

  /**
   * Makes the executor; workers start on demand.
   *
   * @param options `maxWorkers`, `permissions`, `idleTimeout`, `maxTasksPerWorker`.
   * @throws {RangeError} When `maxWorkers` or `maxTasksPerWorker` is not a positive integer, or
   * `idleTimeout` is negative.
   * @throws {TypeError} When `permissions` is not a valid declaration.
   * @throws {PermissionError} When `permissions` exceed what the process holds.
   */
  constructor(options: CpuExecutorOptions = {}) {
    this.#size = positiveInteger(
      "maxWorkers",
      options.maxWorkers ?? navigator.hardwareConcurrency,
      "create cpu executor",
    );
    const permissions = normalizePermissions("cpu executor", options.permissions);
    assertGranted([{ name: "cpu executor", permissions }]);
    const idleTimeout = options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT;
    if (!(idleTimeout >= 0)) {
      throw new RangeError(
        `Cannot create cpu executor as 'idleTimeout' must be a number of ms, 0 or more: current value is ${idleTimeout}`,
      );
    }
    // In-process workers: a SharedArrayBuffer is shared with them, and
    // `transfer` moves buffers, as with Python's pool and Piscina.
    const maxTasksPerWorker = options.maxTasksPerWorker ?? Infinity;
    if (maxTasksPerWorker !== Infinity) {
      positiveInteger("maxTasksPerWorker", maxTasksPerWorker, "create cpu executor");
    }
    const pool = new WorkerPool(undefined, {
      size: this.#size,
      isolation: "worker",
      idleTimeout,
      maxTasksPerWorker,
    });
    this.#pool = pool;
    this.#permissions = permissions;
    this.#core = new ExecutorCore("cpu executor", () => pool.close());
  }

  /** Always `"cpu"`. */
  get kind(): ExecutorKind {
    return "cpu";
  }

  /** How many workers at most, and calls at once. */
  get maxWorkers(): number {
    return this.#size;
  }

  /** How many submitted calls (or map chunks) wait for a worker. */
  get pendingCount(): number {
    return this.#pool.pendingCount;
  }

  /** How many calls (or map chunks) a worker holds. */
  get activeCount(): number {
    return this.#pool.activeCount;
  }

  /**
   * Schedules `target(input)` on a worker.
   *
   * @param target A {@linkcode ModuleFunction}.
   * @param input Its input, structured-cloned.
   * @param options `signal`: aborting removes a queued call or ends the
   * worker running it; `transfer`: objects to move rather than copy.
   * @returns The call's future.
   * @throws {Error} When the executor was shut down.
   * @throws {TypeError} When `target` is a plain function, not `{ module, export }`.
   */
  submit<O>(target: Callable<void, O>): Future<O>;
  submit<I, O>(target: Callable<I, O>, input: I, options?: SubmitOptions): Future<O>;
  submit<I, O>(target: Callable<I, O>, input?: I, options: SubmitOptions = {}): Future<O> {
    const named = moduleOf(target);
    const call = this.#core.open<O>(options.signal);
    this.#dispatch(call, named, [input], options.transfer ?? [], (outcome) => {
      if (outcome.error !== undefined) call.controller.reject(outcome.error.reason);
      else call.controller.resolve(outcome.values[0] as O);
    });
    return call.controller.future;
  }

  /**
   * Calls `target` on every input on the workers, `chunkSize` inputs per
   * message, and yields the results in input order.
   *
   * @param target A {@linkcode ModuleFunction}.
   * @param inputs A list, an iterable or an async iterable.
   * @param options `chunkSize` (default 1), `bufferSize` (default twice
   * `maxWorkers`), `signal`.
   * @returns The results, in input order.
   * @throws {Error} When the executor was shut down.
   * @throws {TypeError} When `target` is a plain function.
   * @throws {RangeError} When `chunkSize` or `bufferSize` is not a positive integer.
   */
  map<I, O>(
    target: Callable<I, O>,
    inputs: Iterable<I> | AsyncIterable<I>,
    options: MapOptions = {},
  ): AsyncIterableIterator<O, undefined> {
    const [submitChunk, plan] = this.#mapPlan(target, options);
    return mapInOrder(submitChunk, inputs, plan);
  }

  /**
   * The batch form of {@linkcode CpuExecutor.map}: each step is the array of
   * one chunk's results, as the worker sent it. For maps over many tiny
   * calls: the loop then costs one step per chunk, not one per input.
   *
   * @param target A {@linkcode ModuleFunction}.
   * @param inputs A list, an iterable or an async iterable.
   * @param options `chunkSize` (default 1), `bufferSize` (default twice
   * `maxWorkers`), `signal`.
   * @returns Arrays of results, in input order; a chunk whose call failed
   * yields the results before the failure, then the next step throws.
   * @throws {Error} When the executor was shut down.
   * @throws {TypeError} When `target` is a plain function.
   * @throws {RangeError} When `chunkSize` or `bufferSize` is not a positive integer.
   *
   * @example Sum a million results, a thousand at a time
   * ```ts
   * import assert from "node:assert/strict";
   * import { CpuExecutor, moduleFunction } from "@spool/spool";
   *
   * const module = `data:application/javascript,${encodeURIComponent("export const twice = (n) => 2 * n;")}`;
   * const twice = moduleFunction<(n: number) => number>(module, "twice");
   * await using pool = new CpuExecutor({ maxWorkers: 2 });
   * let sum = 0;
   * const inputs = Array.from({ length: 1_000_000 }, (_, i) => i);
   * for await (const chunk of pool.mapChunks(twice, inputs, { chunkSize: 1000 })) {
   *   for (const value of chunk) sum += value;
   * }
   * assert.equal(sum, 999_999_000_000);
   * ```
   */
  mapChunks<I, O>(
    target: Callable<I, O>,
    inputs: Iterable<I> | AsyncIterable<I>,
    options: MapOptions = {},
  ): AsyncIterableIterator<O[], undefined> {
    const [submitChunk, plan] = this.#mapPlan(target, options);
    return mapChunksInOrder(submitChunk, inputs, plan);
  }

  #mapPlan<I, O>(target: Callable<I, O>, options: MapOptions): [SubmitChunk<I, O>, MapPlan] {
    this.#core.assertOpen();
    const named = moduleOf(target);
    const chunkSize = positiveInteger("chunkSize", options.chunkSize ?? 1, "map");
    const bufferSize = positiveInteger(
      "bufferSize",
      options.bufferSize ?? 2 * this.#size,
      "map",
    );
    const submitChunk = (chunk: I[], signal: AbortSignal) => {
      const call = this.#core.open<Outcome<O>>(signal, true);
      this.#dispatch(
        call,
        named,
        chunk,
        [],
        (outcome) => call.controller.resolve(outcome as Outcome<O>),
      );
      return call.controller.future;
    };
    return [submitChunk, { chunkSize, bufferSize, signal: options.signal }];
  }

  /**
   * Stops taking work; ends the workers once every call has settled.
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

  /**
   * Hands a chunk of calls to the pool and settles `call` from the answer.
   * The call is cancelled when its signal aborts (ending its worker if it
   * runs), and rejected when its inputs cannot be sent or its worker broke.
   */
  #dispatch<X>(
    call: Call<X>,
    target: { module: string; export: string },
    inputs: unknown[],
    transfer: Transferable[],
    onOutcome: (outcome: Outcome<unknown>) => void,
  ): void {
    const { controller, signal } = call;
    if (signal.aborted) {
      controller.cancel(signal.reason);
      return;
    }
    let abort = () => {};
    const onAbort = () => {
      abort();
      controller.cancel(signal.reason);
    };
    const settled = () => signal.removeEventListener("abort", onAbort);
    signal.addEventListener("abort", onAbort, { once: true });
    abort = submitCall(this.#pool, {
      ...target,
      inputs,
      transfer,
      permissions: this.#permissions,
      start: () => controller.start(),
      done: (outcome) => {
        settled();
        onOutcome(outcome);
      },
      fail: (error) => {
        settled();
        controller.reject(error);
      },
      broken: (breakage) => {
        settled();
        controller.reject(brokenError(target, breakage));
      },
    });
  }
}

/** How long idle workers stay warm by default, in ms. */
const DEFAULT_IDLE_TIMEOUT = 500;

// The checked URL of each module function, so that a loop of submits does
// not parse the same URL each time.
const checked = new WeakMap<object, { raw: string | URL; module: string; export: string }>();

function moduleOf(target: Callable<never, unknown>): { module: string; export: string } {
  if (typeof target === "object" && target !== null && "module" in target) {
    const { module, export: name } = target as ModuleFunction;
    let named = checked.get(target);
    if (named === undefined || named.raw !== module || named.export !== name) {
      named = { raw: module, module: moduleUrl(module), export: name };
      checked.set(target, named);
    }
    return { module: named.module, export: named.export };
  }
  throw new TypeError(
    `Cannot submit to the cpu executor as 'target' must be { module, export }: current value is ${
      typeof target === "function" ? `the function ${target.name || "(anonymous)"}` : String(target)
    }; functions cannot cross into a worker, name it with moduleFunction(url, name)`,
  );
}

function brokenError(
  target: { module: string; export: string },
  breakage: Breakage,
): BrokenWorkerError {
  const file = displayFile(target.module);
  const message = breakage.starting
    ? `Cannot start a worker for ${file}: ${breakage.reason}`
    : `Cannot finish "${target.export}" from ${file}: worker ${breakage.worker} stopped (${breakage.reason})`;
  return new BrokenWorkerError(message, {
    module: target.module,
    worker: breakage.worker,
    cause: breakage.reason,
  });
}
