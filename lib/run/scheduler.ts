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
import { planRun } from "./plan.ts";
import { captureIoConsole } from "./_io_console.ts";
import {
  type ChunkResult,
  type CpuChunk,
  type CpuResult,
  type CpuRunOptions,
  WORKER_MAIN,
  WorkerPool,
} from "../pool/worker_pool.ts";

/** The default io concurrency limit. */
export const DEFAULT_CONCURRENCY = 64;

/** Where cpu task bodies run: the local worker pool, or a remote backend. */
export interface CpuLane {
  /** How many cpu tasks run at once. */
  readonly size: number;
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
  /** Starts capacity ahead of work. */
  warm?(demand: Iterable<{ permissions: Permissions; count: number }>): void;
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
}

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
 * const report = await run(tasks, { targets: ["b"] });
 * console.log(report.results.b); // 2
 * ```
 */
export async function run(tasks: TaskSet, options: RunOptions = {}): Promise<RunReport> {
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  const workers = options.cpuLane?.size ?? options.workers ?? navigator.hardwareConcurrency;
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
  const cpuTasks = planned.filter((task) => task.kind === "cpu");
  const module = options.module ?? tasks.module;
  if (cpuTasks.length > 0 && options.cpuLane === undefined && module === undefined) {
    throw new TypeError(
      `Cannot run cpu task "${
        cpuTasks[0].name
      }" as the task set's module is unknown: pass { module: import.meta.url } to run()`,
    );
  }
  if (options.checkPermissions ?? true) {
    const missing = findMissingGrants(planned);
    const load = cpuTasks.length > 0 && options.cpuLane === undefined
      ? workerLoadGrant(cpuTasks[0].name, module!, WORKER_MAIN)
      : undefined;
    if (load !== undefined) missing.push(load);
    if (missing.length > 0) throw new PermissionError(missing);
  }

  const plan: RunPlan = planRun(tasks, { targets: options.targets, workers, concurrency });
  const reporter = safeReporter(options.reporter);
  // Output is captured only for a reporter that shows it; otherwise io tasks print as usual.
  const captureOutput = typeof options.reporter?.taskOutput === "function";
  using _ioConsole = captureOutput ? captureIoConsole() : undefined;
  reporter.runStart(plan);

  const t0 = performance.now();
  const ownsLane = options.cpuLane === undefined && cpuTasks.length > 0;
  const cpuLane: CpuLane | undefined = options.cpuLane ??
    (cpuTasks.length > 0 ? new WorkerPool(module!, { size: workers }) : undefined);
  try {
    cpuLane?.warm?.(demandByPermissions(cpuTasks));
    const execution = new Execution(planned, {
      ioLane,
      cpuLane,
      keepGoing: options.keepGoing ?? false,
      timeout: options.timeout,
      signal: options.signal,
      reporter,
      captureOutput,
      t0,
    });
    const { reports, cancelled } = await execution.done;
    const report = buildReport(reports, {
      wallMs: performance.now() - t0,
      workers: plan.workers,
      concurrency,
      cancelled,
      deps: new Map(planned.map((task) => [task.name, task.deps])),
    });
    reporter.runEnd(report);
    return report;
  } finally {
    if (ownsLane) cpuLane?.close();
  }
}

/** How many workers each permission set could keep busy, in first-use order. */
function demandByPermissions(cpuTasks: Task[]): { permissions: Permissions; count: number }[] {
  const demand = new Map<string, { permissions: Permissions; count: number }>();
  for (const task of cpuTasks) {
    const key = permissionKey(task.permissions);
    const entry = demand.get(key);
    // A sharded task can keep every worker busy.
    const count = task.shard === undefined ? 1 : Infinity;
    if (entry === undefined) demand.set(key, { permissions: task.permissions, count });
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
