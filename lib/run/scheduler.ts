/**
 * `run()`: plans a task set (targets and what they depend on), checks
 * permissions, and drives the graph through the io lane and the cpu lane,
 * starting each task the moment its dependencies are done.
 *
 * The cpu lane is an interface: the local worker pool is one implementation,
 * and a distributed backend is another that plugs in through `cpuLane`.
 *
 * @module
 */

import type { Task, TaskSet } from "../declare/define.ts";
import { Execution } from "./_execution.ts";
import { isValidLimit } from "./_deadline.ts";
import { IoLane } from "./io_lane.ts";
import { PermissionError } from "../errors.ts";
import {
  findMissingGrants,
  permissionKey,
  type Permissions,
  workerLoadGrant,
} from "../declare/permissions.ts";
import { buildReport, type RunReport } from "../report/report.ts";
import type { Reporter, RunPlan } from "../report/reporter.ts";
import { planRun, shellGrantsOf } from "./plan.ts";
import { captureIoConsole } from "./_io_console.ts";
import type {
  ChunkResult,
  CpuChunk,
  CpuResult,
  CpuRunOptions,
  IoJob,
  Isolation,
  WarmDemand,
  WorkerPool,
} from "../pool/worker_pool.ts";
import { hostGrants, promptGuard } from "./_sandbox_checks.ts";
import { guardMainThread } from "./_main_guard.ts";

/** The worker side's entry, as worker_pool.ts names it (not imported: see run()). */
const WORKER_MAIN = new URL("../pool/worker_main.ts", import.meta.url).href;
import type { CacheOptions } from "../cache/task_cache.ts";
import type { RunCache } from "../cache/open_run_cache.ts";

/** The default io concurrency limit. */
export const DEFAULT_CONCURRENCY = 64;

/** Where cpu task bodies run: the local worker pool, or a remote backend. */
export interface CpuLane {
  /** How many cpu tasks run at once. */
  readonly size: number;
  /** How many shard chunks to keep sent but not back; default `size`. */
  readonly chunksInFlight?: number;
  /**
   * Runs one cpu task's body.
   *
   * @param task The task's name.
   * @param deps Its dependencies' results.
   * @param options Its permissions, an abort signal and a start callback.
   */
  run(task: string, deps: Record<string, unknown>, options: CpuRunOptions): Promise<CpuResult>;
  /**
   * Runs a sharded task's `map` over one chunk of its items. Without it, a
   * sharded task runs whole through `run`, on one worker.
   *
   * @param task The task's name.
   * @param chunk The items and the index of the first.
   * @param options Its permissions and an abort signal.
   */
  runChunk?(task: string, chunk: CpuChunk, options: CpuRunOptions): Promise<ChunkResult>;
  /**
   * Runs a sharded task's `items` function or final fold where its chunks
   * run. Without it, they run on the runner's thread.
   *
   * @param task The task's name.
   * @param step Which of the two.
   * @param input Its deps, or the chunks' results.
   * @param options Its permissions and an abort signal.
   */
  runShardStep?(
    task: string,
    step: "items" | "fold",
    input: Record<string, unknown> | unknown[],
    options: CpuRunOptions,
  ): Promise<CpuResult>;
  /** Starts capacity ahead of work. */
  warm?(demand: Iterable<WarmDemand>): void;
  /**
   * Where each worker index ran, for a lane whose workers are elsewhere
   * (`machine pid N slot M`); goes to the report's `workerNames`.
   */
  workerNames?(): string[];
  /** Releases every resource. */
  close(): void;
}

/** Options for {@linkcode run}. */
export interface RunOptions {
  /** Tasks to run, with what they depend on; every task when empty. */
  targets?: readonly string[];
  /** Worker pool size; defaults to `navigator.hardwareConcurrency`. Minimum 1. */
  workers?: number;
  /** How many io tasks run at once; default 64. Minimum 1. */
  concurrency?: number;
  /** After a failure, go on with every task not downstream of it. Default `false`. */
  keepGoing?: boolean;
  /**
   * The time limit of one attempt of a task that sets no `timeout`, in ms.
   * Default: none. Minimum: above 0.
   */
  timeout?: number;
  /** Cancels the run: no task starts, running ones are aborted. */
  signal?: AbortSignal;
  /** Receives progress events. */
  reporter?: Reporter;
  /**
   * URL of the module that defines the task set, which workers import to
   * find cpu bodies. Defaults to the module that called `defineTasks`.
   */
  module?: string;
  /** Check declared permissions before running; default `true`. */
  checkPermissions?: boolean;
  /** Run cpu tasks here instead of on a local worker pool. */
  cpuLane?: CpuLane;
  /** Arguments every task finds in `context.args` (the CLI passes what follows `--`). */
  args?: readonly string[];
  /**
   * Where sandboxed tasks run: `"process"` (default), each worker in a host
   * process of its own that contains any fault; or `"worker"`, Web Workers in
   * this process, which start faster but cannot contain a heap exhausted or a
   * task signalling its own process (see README, "Permissions").
   */
  isolation?: Isolation;
  /**
   * Retire a cpu worker after this many tasks; `1` runs every task in a fresh
   * realm. Default: `Infinity`. Minimum 1.
   */
  maxTasksPerWorker?: number;
  /**
   * A worker pool to run the sandboxes in, which the caller keeps: its io
   * hosts and cpu workers stay warm from one run to the next, so a run after
   * the first pays no sandbox start (`spool run --watch` keeps one for its
   * re-runs). `run()` creates no pool then, and leaves this one open. It must
   * serve the task set's module; its size, isolation and `maxTasksPerWorker`
   * apply (`workers`, `isolation` and `maxTasksPerWorker`, when given too,
   * must agree with them). A warm worker keeps the globals of the tasks it
   * ran before, across runs as within one (README, "Permissions").
   */
  pool?: WorkerPool;
  /**
   * Incremental runs: skip a task whose code, inputs, env, arguments and
   * dependencies' results are unchanged since it last ran, restoring its
   * result and outputs (see README, "Incremental runs"). `true` for the
   * defaults (`.spool/cache` beside the task file, 1 GiB). Default: off.
   */
  cache?: boolean | CacheOptions;
}

const EMPTY_REPORT_MARK = Symbol.for("spool.worker");

/**
 * Runs a task set: the targets and what they depend on, each once, io tasks
 * concurrently on the event loop and cpu tasks on a warm worker pool.
 *
 * It resolves with the report even when tasks fail (check `report.ok`); it
 * throws only for problems found before anything runs.
 *
 * @param tasks The task set, from `defineTasks`.
 * @param options Targets, lane sizes, failure policy, signal, reporter.
 * @returns The run report, with every task's status, timing and result.
 * @throws {UsageError} When a target does not exist.
 * @throws {PermissionError} When a declared permission is not granted.
 * @throws {RangeError} When `workers` or `concurrency` is not a positive
 * integer, or `timeout` is not a number of ms above 0.
 * @example Run a task set from a script
 * ```ts
 * import { defineTasks, io, run } from "@spool/spool";
 *
 * const tasks = defineTasks({
 *   a: io({ run: () => 1 }),
 *   b: io({ deps: ["a"], run: ({ deps }) => (deps.a as number) + 1 }),
 * });
 * // Every sandbox imports this module again: run only when it is the program.
 * if (import.meta.main) {
 *   const report = await run(tasks, { targets: ["b"] });
 *   console.log(report.results.b); // 2
 * }
 * ```
 */
export async function run(tasks: TaskSet, options: RunOptions = {}): Promise<RunReport> {
  // A sandbox imports the task module again; a script's top-level run() must
  // not start a run of its own in there.
  if ((globalThis as Record<symbol, unknown>)[EMPTY_REPORT_MARK] === true) {
    return buildReport([], { wallMs: 0, workers: 0, concurrency: 0 });
  }
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  const shared = options.pool;
  if (shared !== undefined) checkSharedPool(shared, tasks, options);
  const workers = options.cpuLane?.size ?? options.workers ?? shared?.size ??
    navigator.hardwareConcurrency;
  if (!Number.isInteger(workers) || workers < 1) {
    throw new RangeError(
      `Cannot run as 'workers' must be a positive integer: current value is ${workers}`,
    );
  }
  if (options.timeout !== undefined && !isValidLimit(options.timeout)) {
    throw new RangeError(
      `Cannot run as 'timeout' must be a number of ms above 0: current value is ${options.timeout}`,
    );
  }
  const ioLane = new IoLane(concurrency);
  const order = tasks.graph.select(options.targets ?? []);
  const planned = order.map((name) => tasks.tasks.get(name)!);
  const module = options.module ?? tasks.module;
  const cache = await openCache(module, options, planned);
  // Tasks the cache has (and every dependency of theirs too) need no
  // sandbox: a run that is all cached starts no host and no worker.
  const hits = cache === undefined ? new Set<string>() : cachedTasks(cache, planned);
  const toRun = hits.size === 0 ? planned : planned.filter((task) => !hits.has(task.name));
  // One pass each, no spread: every line here runs before the first host
  // starts, over every task of the run (10,000 in the sandbox bench).
  const cpuTasks: Task[] = [];
  const sandboxedIo: Task[] = [];
  for (let i = 0; i < toRun.length; i++) {
    const task = toRun[i];
    if (task.kind === "cpu") cpuTasks.push(task);
    else if (!task.trusted) sandboxedIo.push(task);
  }
  const localCpu = options.cpuLane === undefined ? cpuTasks : [];
  const sandboxed = localCpu.length === 0 ? sandboxedIo : localCpu.concat(sandboxedIo);
  const isolation = options.isolation ?? shared?.isolation ?? "process";
  if (sandboxed.length > 0 && module === undefined) {
    throw new TypeError(
      `Cannot run ${sandboxed[0].kind} task "${
        sandboxed[0].name
      }" as the task set's module is unknown: pass { module: import.meta.url } to run()`,
    );
  }
  // The first task of each isolation: each needs its own grants.
  let inWorker: Task | undefined;
  let inProcess: Task | undefined;
  for (
    let i = 0;
    i < sandboxed.length && (inWorker === undefined || inProcess === undefined);
    i++
  ) {
    const task = sandboxed[i];
    if ((task.isolation ?? isolation) === "worker") inWorker ??= task;
    else inProcess ??= task;
  }
  if (inWorker !== undefined) promptGuard(inWorker.name);
  if (sandboxed.length > 0 && new URL(module!).hash !== "") {
    // A doc test's or an eval's module exists only in the process that ran it.
    throw new TypeError(
      `Cannot run ${sandboxed[0].kind} task "${
        sandboxed[0].name
      }" in a sandbox as its module "${module}" is not a file a sandbox can import: define the tasks in a module file, or mark the io task trusted: true`,
    );
  }
  if (options.checkPermissions ?? true) {
    // cpu tasks on another lane run elsewhere, which checks their grants.
    const missing = findMissingGrants(
      options.cpuLane === undefined ? planned : planned.filter((task) => task.kind !== "cpu"),
    );
    if (inWorker !== undefined) {
      const load = workerLoadGrant(inWorker.name, module!, WORKER_MAIN);
      if (load !== undefined) missing.push(load);
    }
    if (inProcess !== undefined) missing.push(...hostGrants(inProcess.name));
    missing.push(...shellGrantsOf(planned));
    if (missing.length > 0) throw new PermissionError(missing);
  }

  // Loaded only when a task needs a sandbox: a run that is all cached starts
  // none, and need not load the pool's code either.
  const { WorkerPool, hostsLaunched, runIoUnder, abortIoJob } = sandboxed.length > 0
    ? await import("../pool/worker_pool.ts")
    : {
      WorkerPool: undefined,
      hostsLaunched: undefined,
      runIoUnder: undefined,
      abortIoJob: undefined,
    };
  // The run's wall time counts from here: its sandboxes' start included.
  const t0 = performance.now();
  const pool = shared ?? (WorkerPool !== undefined
    ? new WorkerPool(module!, {
      size: workers,
      isolation,
      maxTasksPerWorker: options.maxTasksPerWorker,
      // Printed by a task module while it loads in a sandbox: never on stdout,
      // which may carry a JSON report.
      onStrayOutput: (_stream, text) => console.error(text),
    })
    : undefined);
  // Closed however this function ends, planning included: unless it is the caller's.
  using _pool = shared === undefined ? pool : undefined;
  // The io hosts the first tasks need start now, before the plan and the
  // tasks' start: a host's start is most of a sandboxed run's wait, and it
  // goes on in its own process while this thread works.
  const rootIo = sandboxedIo.filter((task) => task.deps.length === 0);
  const ioReady = pool?.warmIo(uniqueSandboxes(rootIo));
  if (pool !== undefined && hostsLaunched !== undefined) await hostsLaunched(pool);
  const plan: RunPlan = planRun(tasks, { targets: options.targets, workers, concurrency });
  const reporter = safeReporter(options.reporter);
  // Output is captured only for a reporter that shows it; otherwise io tasks print as usual.
  const captureOutput = typeof options.reporter?.taskOutput === "function";
  using _ioConsole = captureOutput ? captureIoConsole() : undefined;
  reporter.runStart(plan);

  const cpuLane: CpuLane | undefined = options.cpuLane ??
    (cpuTasks.length > 0 ? pool : undefined);
  using _mainGuard = planned.some((task) => task.kind === "io" && task.trusted)
    ? guardMainThread()
    : undefined;
  try {
    // Sandboxes compete for the cores while they start: the io tasks that can
    // start at once get theirs first, and the cpu workers start after them,
    // unless a cpu task can start at once too.
    // No cpu task to run (all cached): nothing to warm.
    const warmCpu = () => {
      if (cpuTasks.length > 0) cpuLane?.warm?.(demandByPermissions(cpuTasks));
    };
    if (rootIo.length === 0 || cpuTasks.some((task) => task.deps.length === 0)) warmCpu();
    else ioReady!.then(warmCpu);
    const execution = new Execution(planned, {
      ioLane,
      cpuLane,
      ioHost: sandboxedIo.length > 0
        ? (task, deps, abort, options) => runIoUnder!(pool!, task, deps, abort, options)
        : undefined,
      ioHostAbort: (job) => abortIoJob!(pool!, job as IoJob),
      args: options.args ?? [],
      module,
      mainGuard: _mainGuard,
      keepGoing: options.keepGoing ?? false,
      timeout: options.timeout,
      signal: options.signal,
      reporter,
      captureOutput,
      t0,
      cache,
    });
    const { reports, cancelled } = await execution.done;
    const workerNames = options.cpuLane?.workerNames?.();
    cache?.flush(planned);
    const report = buildReport(reports, {
      wallMs: performance.now() - t0,
      // A remote lane knows its workers once they took jobs.
      workers: options.cpuLane?.size ?? plan.workers,
      workerNames,
      concurrency,
      cancelled,
      deps: new Map(planned.map((task) => [task.name, task.deps])),
    });
    reporter.runEnd(report);
    return report;
  } finally {
    // Now, not when `_pool` goes: the report is built and handed on.
    if (shared === undefined) pool?.close();
  }
}

/** A caller's pool must serve this task set, be open, and agree with the options given with it. */
function checkSharedPool(pool: WorkerPool, tasks: TaskSet, options: RunOptions): void {
  const module = options.module ?? tasks.module;
  if (pool.module !== module) {
    throw new TypeError(
      `Cannot run with the given pool as it serves the task module "${pool.module}", not "${module}": create it with the task set's module, new WorkerPool(tasks.module)`,
    );
  }
  if (pool.closed) {
    throw new TypeError("Cannot run with the given pool as it is closed: pass an open pool");
  }
  const disagree = [
    ["workers", options.workers, pool.size],
    ["isolation", options.isolation, pool.isolation],
    ["maxTasksPerWorker", options.maxTasksPerWorker, pool.maxTasksPerWorker],
  ].find(([, given, held]) => given !== undefined && given !== held);
  if (disagree !== undefined) {
    const [name, given, held] = disagree;
    throw new RangeError(
      `Cannot run as '${name}' is ${given} but the given pool's is ${held}: leave '${name}' out, or create the pool with it`,
    );
  }
}

/** The run's cache, when it has one and the task module is a file. */
async function openCache(
  module: string | undefined,
  options: RunOptions,
  planned: readonly Task[],
): Promise<RunCache | undefined> {
  if (options.cache === undefined || options.cache === false) return undefined;
  if (module === undefined || !module.startsWith("file:")) {
    throw new TypeError(
      `Cannot cache the run as the task set's module ${
        module === undefined ? "is unknown" : `"${module}" is not a file`
      }: define the tasks in a module file, or pass { module: import.meta.url } to run()`,
    );
  }
  // Loaded on use: the cache pulls in node:crypto, which every sandbox would
  // otherwise load again when its task file imports spool.
  const { openRunCache } = await import("../cache/open_run_cache.ts");
  return await openRunCache(
    module,
    options.args ?? [],
    options.cache === true ? {} : options.cache,
    planned,
  );
}

/** The tasks the cache has, given that every dependency of theirs is cached too. */
function cachedTasks(cache: RunCache, planned: readonly Task[]): Set<string> {
  const results = new Map<string, unknown>();
  for (const task of planned) {
    if (!task.deps.every((dep) => results.has(dep))) continue;
    const deps: Record<string, unknown> = {};
    for (const dep of task.deps) deps[dep] = results.get(dep);
    const decision = cache.check(task, deps);
    if (decision.hit) results.set(task.name, decision.result);
  }
  return new Set(results.keys());
}

/** One task of each sandbox (permissions, heap limit, isolation), in first-use order. */
function uniqueSandboxes(tasks: Task[]): Task[] {
  const seen = new Map<Permissions, Set<string>>();
  const unique: Task[] = [];
  let last: Task | undefined;
  for (let i = 0; i < tasks.length; i++) {
    const task = tasks[i];
    // Tasks declared alike share one permissions object: a task in the same
    // sandbox as the one before needs no key built (10 ms over 10,000 tasks).
    if (
      last !== undefined && task.permissions === last.permissions &&
      task.maxHeapMb === last.maxHeapMb && task.isolation === last.isolation
    ) continue;
    last = task;
    let variants = seen.get(task.permissions);
    if (variants === undefined) seen.set(task.permissions, variants = new Set());
    const variant = `${task.maxHeapMb} ${task.isolation}`;
    if (variants.has(variant)) continue;
    variants.add(variant);
    unique.push(task);
  }
  return unique;
}

/** How many workers each permission set could keep busy, in first-use order. */
function demandByPermissions(cpuTasks: Task[]): WarmDemand[] {
  const demand = new Map<string, WarmDemand>();
  for (const task of cpuTasks) {
    const { permissions, maxHeapMb, isolation } = task;
    const key = `${permissionKey(permissions)} ${maxHeapMb} ${isolation}`;
    const entry = demand.get(key);
    // A sharded task can keep every worker busy.
    const count = task.shard === undefined ? 1 : Infinity;
    if (entry === undefined) demand.set(key, { permissions, count, maxHeapMb, isolation });
    else entry.count += count;
  }
  return [...demand.values()];
}

function safeReporter(reporter: Reporter | undefined): Required<Reporter> {
  const call = <A>(fn: ((arg: A) => void) | undefined, arg: A) => {
    try {
      fn?.call(reporter, arg);
    } catch {
      // A broken reporter must not fail or stall the run.
    }
  };
  return {
    runStart: (plan) => call(reporter?.runStart, plan),
    taskStart: (event) => call(reporter?.taskStart, event),
    taskOutput: (event) => call(reporter?.taskOutput, event),
    taskProgress: (event) => call(reporter?.taskProgress, event),
    taskRetry: (event) => call(reporter?.taskRetry, event),
    taskEnd: (task) => call(reporter?.taskEnd, task),
    runEnd: (report) => call(reporter?.runEnd, report),
  };
}
