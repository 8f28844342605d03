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

import type { Task, TaskSet } from "./define.ts";
import { IoLane } from "./io_lane.ts";
import { assertGranted, permissionKey, type Permissions } from "./permissions.ts";
import {
  buildReport,
  type ReportedError,
  roundMs,
  type RunReport,
  type TaskReport,
} from "./report.ts";
import type { Reporter, RunPlan } from "./reporter.ts";
import { type CpuResult, type CpuRunOptions, WorkerPool } from "./worker_pool.ts";

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
 * @throws {RangeError} When `workers` or `concurrency` is not a positive integer.
 * @example Run a task set from a script
 * ```ts
 * import { defineTasks, io, run } from "./mod.ts";
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
  const ioLane = new IoLane(concurrency);
  const order = tasks.graph.select(options.targets ?? []);
  const planned = order.map((name) => tasks.tasks.get(name)!);
  if (options.checkPermissions ?? true) assertGranted(planned);
  const cpuTasks = planned.filter((task) => task.kind === "cpu");
  const module = options.module ?? tasks.module;
  if (cpuTasks.length > 0 && options.cpuLane === undefined && module === undefined) {
    throw new TypeError(
      `Cannot run cpu task "${
        cpuTasks[0].name
      }" as the task set's module is unknown: pass { module: import.meta.url } to run()`,
    );
  }

  const plan: RunPlan = {
    tasks: planned.map(({ name, kind, deps, permissions }) => ({ name, kind, deps, permissions })),
    workers: cpuTasks.length > 0 ? workers : 0,
    concurrency,
  };
  const reporter = safeReporter(options.reporter);
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
      signal: options.signal,
      reporter,
      t0,
    });
    const { reports, cancelled } = await execution.done;
    const report = buildReport(reports, {
      wallMs: performance.now() - t0,
      workers: plan.workers,
      concurrency,
      cancelled,
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
    if (entry === undefined) demand.set(key, { permissions: task.permissions, count: 1 });
    else entry.count++;
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
    taskEnd: (task) => call(reporter?.taskEnd, task),
    runEnd: (report) => call(reporter?.runEnd, report),
  };
}

interface ExecutionOptions {
  ioLane: IoLane;
  cpuLane: CpuLane | undefined;
  keepGoing: boolean;
  signal: AbortSignal | undefined;
  reporter: Required<Reporter>;
  t0: number;
}

/** One run's mutable state: what is waiting, running, done. */
class Execution {
  readonly done: Promise<{ reports: TaskReport[]; cancelled?: string }>;
  #tasks: Task[];
  #options: ExecutionOptions;
  #waitingOn = new Map<string, number>();
  #dependants = new Map<string, Task[]>();
  #reports = new Map<string, TaskReport>();
  #results = new Map<string, unknown>();
  /** The root failure behind each task that failed or was skipped for one. */
  #rootFailure = new Map<string, string>();
  #running = 0;
  #controller = new AbortController();
  #stopReason: string | undefined;
  #cancelled: string | undefined;
  #finish!: () => void;

  constructor(tasks: Task[], options: ExecutionOptions) {
    this.#tasks = tasks;
    this.#options = options;
    this.done = new Promise<void>((resolve) => this.#finish = resolve).then(() => ({
      reports: this.#tasks.map((task) => this.#reports.get(task.name)!),
      cancelled: this.#cancelled,
    }));
    const selected = new Set(tasks.map((task) => task.name));
    for (const task of tasks) {
      this.#waitingOn.set(task.name, task.deps.length);
      for (const dep of task.deps) {
        if (!selected.has(dep)) continue;
        let list = this.#dependants.get(dep);
        if (list === undefined) this.#dependants.set(dep, list = []);
        list.push(task);
      }
    }
    const { signal } = options;
    if (signal?.aborted) this.#cancel(signal.reason);
    else signal?.addEventListener("abort", () => this.#cancel(signal.reason), { once: true });
    for (const task of tasks) {
      if (task.deps.length === 0 && !this.#reports.has(task.name)) this.#start(task);
    }
    this.#checkDone();
  }

  #now(): number {
    return performance.now() - this.#options.t0;
  }

  #cancel(reason: unknown): void {
    this.#cancelled = reason instanceof Error ? reason.message : String(reason ?? "Run cancelled");
    this.#stop(`run cancelled: ${this.#cancelled}`);
  }

  #stop(reason: string): void {
    if (this.#stopReason !== undefined) return;
    this.#stopReason = reason;
    this.#controller.abort(new DOMException(`Task aborted: ${reason}`, "AbortError"));
    // Everything not yet started is skipped now, so the run ends as soon as
    // the running tasks have stopped.
    for (const task of this.#tasks) {
      if (!this.#reports.has(task.name) && !this.#isRunning(task.name)) {
        this.#skip(task, reason);
      }
    }
  }

  #runningNames = new Set<string>();
  #isRunning(name: string): boolean {
    return this.#runningNames.has(name);
  }

  #start(task: Task): void {
    if (this.#stopReason !== undefined) {
      this.#skip(task, this.#stopReason);
      return;
    }
    const deps: Record<string, unknown> = {};
    for (const dep of task.deps) deps[dep] = this.#results.get(dep);
    this.#running++;
    this.#runningNames.add(task.name);
    let startMs = Number.NaN;
    let worker: number | undefined;
    const started = (index?: number) => {
      startMs = this.#now();
      worker = index;
      this.#options.reporter.taskStart({ name: task.name, kind: task.kind, startMs });
    };
    const signal = this.#controller.signal;
    let promise: Promise<unknown>;
    if (task.kind === "io") {
      promise = this.#options.ioLane.run((signal) => {
        started();
        return task.run({ name: task.name, signal, deps });
      }, { signal });
    } else {
      promise = this.#options.cpuLane!.run(task.name, deps, {
        permissions: task.permissions,
        signal,
        onStart: started,
      }).then((result) => result.value);
    }
    promise.then(
      (value) => this.#end(task, { status: "ok", startMs, worker, value }),
      (error) => this.#end(task, { status: "failed", startMs, worker, error }),
    );
  }

  #end(
    task: Task,
    outcome: {
      status: "ok" | "failed";
      startMs: number;
      worker?: number;
      value?: unknown;
      error?: unknown;
    },
  ): void {
    this.#running--;
    this.#runningNames.delete(task.name);
    const endMs = this.#now();
    // A task aborted before it started has no start time; it never ran.
    if (Number.isNaN(outcome.startMs)) {
      this.#skip(task, this.#stopReason ?? "run stopped");
      this.#checkDone();
      return;
    }
    const report: TaskReport = {
      name: task.name,
      kind: task.kind,
      status: outcome.status,
      startMs: roundMs(outcome.startMs),
      endMs: roundMs(endMs),
      durationMs: roundMs(endMs - outcome.startMs),
    };
    if (outcome.worker !== undefined) report.worker = outcome.worker;
    if (outcome.status === "ok") {
      report.result = outcome.value;
      this.#results.set(task.name, outcome.value);
    } else {
      report.error = reportError(outcome.error);
      this.#rootFailure.set(task.name, task.name);
    }
    this.#reports.set(task.name, report);
    this.#options.reporter.taskEnd(report);

    if (outcome.status === "failed" && !this.#options.keepGoing) {
      this.#stop(`task "${task.name}" failed`);
    }
    for (const next of this.#dependants.get(task.name) ?? []) {
      if (this.#reports.has(next.name)) continue;
      if (outcome.status === "failed") {
        this.#skipDownstream(next, task.name);
        continue;
      }
      const left = this.#waitingOn.get(next.name)! - 1;
      this.#waitingOn.set(next.name, left);
      if (left === 0) this.#start(next);
    }
    this.#checkDone();
  }

  /** Skips a task whose dependency failed or was skipped for a failure, and all below it. */
  #skipDownstream(task: Task, failedDep: string): void {
    const stack: [Task, string][] = [[task, failedDep]];
    while (stack.length > 0) {
      const [current, dep] = stack.pop()!;
      if (this.#reports.has(current.name)) continue;
      const root = this.#rootFailure.get(dep) ?? dep;
      this.#rootFailure.set(current.name, root);
      this.#skip(
        current,
        root === dep
          ? `dependency "${dep}" failed`
          : `dependency "${dep}" was skipped because "${root}" failed`,
      );
      for (const next of this.#dependants.get(current.name) ?? []) stack.push([next, current.name]);
    }
  }

  #skip(task: Task, reason: string): void {
    if (this.#reports.has(task.name)) return;
    const report: TaskReport = {
      name: task.name,
      kind: task.kind,
      status: "skipped",
      startMs: null,
      endMs: null,
      durationMs: 0,
      reason,
    };
    this.#reports.set(task.name, report);
    this.#options.reporter.taskEnd(report);
  }

  #checkDone(): void {
    if (this.#running === 0 && this.#reports.size === this.#tasks.length) this.#finish();
  }
}

function reportError(error: unknown): ReportedError {
  if (error instanceof Error) {
    const out: ReportedError = { name: error.name, message: error.message };
    if (error.stack !== undefined) out.stack = error.stack;
    return out;
  }
  return { name: "Error", message: String(error) };
}
