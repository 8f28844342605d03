/**
 * spool: a Deno task runner that runs io tasks concurrently on the event loop
 * and cpu tasks on a warm pool of Web Workers, each with exactly the
 * permissions it declares.
 *
 * A task file declares tasks with {@linkcode io} and {@linkcode cpu} inside
 * {@linkcode defineTasks}; {@linkcode run} executes a task set from a script,
 * and {@linkcode main} lets a task file run itself as a program.
 *
 * Scripts that want Python's `concurrent.futures` rather than a task file use
 * {@linkcode executor}: `executor("io")` overlaps calls on the event loop,
 * `executor("cpu")` runs them on Web Workers, with `submit`, `map` and
 * {@linkcode asCompleted}. {@linkcode Mutex}, {@linkcode Semaphore} and
 * {@linkcode Channel} coordinate async code; {@linkcode SharedLock} and
 * {@linkcode WorkerChannel} coordinate workers.
 *
 * @example A task file that runs itself
 * ```ts
 * import { cpu, defineTasks, io, main } from "./mod.ts";
 *
 * const tasks = defineTasks({
 *   numbers: io({
 *     description: "Produce the input (an io task could fetch it)",
 *     run: () => Array.from({ length: 1000 }, (_, i) => i),
 *   }),
 *   squares: cpu({
 *     description: "Sum of squares, in a worker",
 *     deps: ["numbers"],
 *     run: ({ deps }) => (deps.numbers as number[]).reduce((sum, n) => sum + n * n, 0),
 *   }),
 * });
 * export default tasks;
 *
 * // `deno run --unstable-worker-options --no-prompt --allow-read=. tasks.ts squares`
 * if (import.meta.main) await main(import.meta.url);
 * ```
 *
 * @module
 */

export { cpu, defineTasks, io, isTaskSet, TaskSet } from "./lib/define.ts";
export type {
  BackoffOptions,
  FailurePolicy,
  ShardedTaskDefinition,
  ShardItems,
  ShardSpec,
  Task,
  TaskContext,
  TaskDefinition,
  TaskKind,
  TaskShard,
  TaskSpec,
} from "./lib/define.ts";
export { transfer } from "./lib/transfer.ts";
export type { TransferableBuffer } from "./lib/transfer.ts";
export { DEFAULT_CONCURRENCY, run } from "./lib/scheduler.ts";
export type { CpuLane, RunOptions } from "./lib/scheduler.ts";
export { main } from "./lib/main.ts";
export { loadTaskFile } from "./lib/load.ts";
export type { LoadedTaskFile } from "./lib/load.ts";
export {
  CancelledError,
  PermissionError,
  SpoolError,
  TaskFileError,
  UsageError,
} from "./lib/errors.ts";
export type { MissingGrant } from "./lib/errors.ts";
export type { PermissionName, Permissions, PermissionValue } from "./lib/permissions.ts";
export { IoLane } from "./lib/io_lane.ts";
export type { IoRunOptions } from "./lib/io_lane.ts";
export { ItemError, WorkerCrashError, WorkerPool } from "./lib/worker_pool.ts";
export type {
  ChunkResult,
  CpuChunk,
  CpuResult,
  CpuRunOptions,
  WorkerPoolOptions,
} from "./lib/worker_pool.ts";
export { formatMs, reportToJson, summaryLine } from "./lib/report.ts";
export type {
  AttemptReport,
  ReportedError,
  RunReport,
  TaskReport,
  TaskStatus,
} from "./lib/report.ts";
export { combineReporters } from "./lib/reporter.ts";
export type {
  PlannedTask,
  Reporter,
  RunPlan,
  TaskOutputEvent,
  TaskProgressEvent,
  TaskRetryEvent,
  TaskStartEvent,
} from "./lib/reporter.ts";
export { plainReporter } from "./lib/reporters/plain.ts";
export type { PlainReporterOptions, TextSink } from "./lib/reporters/plain.ts";
export { criticalPath } from "./lib/critical_path.ts";
export { chromeTrace } from "./lib/trace.ts";
export type { ChromeTrace, TraceEvent } from "./lib/trace.ts";
export { formatPlan, planFlags, planRun, planToJson } from "./lib/plan.ts";
export type { PlanJson, PlanOptions } from "./lib/plan.ts";
export { TaskGraph } from "./lib/task_graph.ts";
export type { GraphNode } from "./lib/task_graph.ts";
export { executor, moduleFunction } from "./lib/executor.ts";
export type {
  Callable,
  CallContext,
  Executor,
  ExecutorKind,
  ExecutorOptions,
  LocalFunction,
  MapOptions,
  ModuleFunction,
  ShutdownOptions,
  SubmitOptions,
} from "./lib/executor.ts";
export { IoExecutor } from "./lib/io_executor.ts";
export type { IoExecutorOptions } from "./lib/io_executor.ts";
export { BrokenWorkerError, CpuExecutor } from "./lib/cpu_executor.ts";
export type { CpuExecutorOptions } from "./lib/cpu_executor.ts";
export { asCompleted, Future } from "./lib/future.ts";
export type { AsCompletedOptions, FutureState } from "./lib/future.ts";
export { Mutex } from "./lib/mutex.ts";
export { Semaphore } from "./lib/semaphore.ts";
export type { AcquireOptions, LockGuard } from "./lib/semaphore.ts";
export { Channel, ChannelClosedError } from "./lib/channel.ts";
export type { ChannelOptions } from "./lib/channel.ts";
export { SharedLock } from "./lib/shared_lock.ts";
export { WorkerChannel } from "./lib/worker_channel.ts";
