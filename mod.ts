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

export { cpu, defineTasks, io, isTaskSet, TaskSet } from "./lib/declare/define.ts";
export type {
  BackoffOptions,
  CachePolicy,
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
} from "./lib/declare/define.ts";
export { transfer } from "./lib/pool/transfer.ts";
export type { TransferableBuffer } from "./lib/pool/transfer.ts";
export { DEFAULT_CONCURRENCY, run } from "./lib/run/scheduler.ts";
export type { CpuLane, RunOptions } from "./lib/run/scheduler.ts";
export { main } from "./lib/cli/main.ts";
export { loadTaskFile } from "./lib/declare/load.ts";
export type { CacheOptions } from "./lib/cache/task_cache.ts";
export type { LoadedTaskFile, LoadOptions } from "./lib/declare/load.ts";
export {
  CancelledError,
  PermissionError,
  SpoolError,
  TaskFileError,
  UsageError,
} from "./lib/errors.ts";
export type { MissingGrant } from "./lib/errors.ts";
export type { PermissionName, Permissions, PermissionValue } from "./lib/declare/permissions.ts";
export { IoLane } from "./lib/run/io_lane.ts";
export type { IoRunOptions } from "./lib/run/io_lane.ts";
export { ItemError, WorkerCrashError, WorkerPool } from "./lib/pool/worker_pool.ts";
export type {
  ChunkResult,
  CpuChunk,
  CpuResult,
  CpuRunOptions,
  IoResult,
  Isolation,
  WarmDemand,
  WorkerPoolOptions,
} from "./lib/pool/worker_pool.ts";
export { formatMs, reportToJson, summaryLine } from "./lib/report/report.ts";
export type {
  AttemptReport,
  ReportedError,
  RunReport,
  TaskReport,
  TaskStatus,
} from "./lib/report/report.ts";
export { combineReporters } from "./lib/report/reporter.ts";
export type {
  PlannedTask,
  Reporter,
  RunPlan,
  TaskOutputEvent,
  TaskProgressEvent,
  TaskRetryEvent,
  TaskStartEvent,
} from "./lib/report/reporter.ts";
export { plainReporter } from "./lib/report/plain.ts";
export type { PlainReporter, PlainReporterOptions, TextSink } from "./lib/report/plain.ts";
export { criticalPath } from "./lib/report/critical_path.ts";
export { chromeTrace } from "./lib/report/trace.ts";
export type { ChromeTrace, TraceEvent } from "./lib/report/trace.ts";
export { formatPlan, planFlags, planRun, planToJson } from "./lib/run/plan.ts";
export type { PlanJson, PlanOptions } from "./lib/run/plan.ts";
export { TaskGraph } from "./lib/declare/task_graph.ts";
export type { GraphNode } from "./lib/declare/task_graph.ts";
export { executor, moduleFunction } from "./lib/executors/executor.ts";
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
} from "./lib/executors/executor.ts";
export { IoExecutor } from "./lib/executors/io_executor.ts";
export type { IoExecutorOptions } from "./lib/executors/io_executor.ts";
export { BrokenWorkerError, CpuExecutor } from "./lib/executors/cpu_executor.ts";
export type { CpuExecutorOptions } from "./lib/executors/cpu_executor.ts";
export { Future } from "./lib/executors/future.ts";
export type { FutureState } from "./lib/executors/future.ts";
export { asCompleted } from "./lib/executors/as_completed.ts";
export type { AsCompletedOptions, Completion } from "./lib/executors/as_completed.ts";
export { wait } from "./lib/executors/wait.ts";
export type { ReturnWhen, WaitOptions, WaitResult } from "./lib/executors/wait.ts";
export { Mutex } from "./lib/sync/mutex.ts";
export { Semaphore } from "./lib/sync/semaphore.ts";
export type { AcquireOptions, LockGuard } from "./lib/sync/semaphore.ts";
export { Channel, ChannelClosedError } from "./lib/sync/channel.ts";
export type { ChannelOptions } from "./lib/sync/channel.ts";
export { SharedLock } from "./lib/sync/shared_lock.ts";
export { WorkerChannel } from "./lib/sync/worker_channel.ts";
export { sh } from "./lib/commands/sh.ts";
export { CommandError } from "./lib/commands/command_error.ts";
export type { ShOptions } from "./lib/commands/sh.ts";
export type { CommandOutput, ShellCommand, TaskShell } from "./lib/commands/task_shell.ts";
export { denoTasks } from "./lib/commands/deno_tasks.ts";
export type { DenoTasksOptions } from "./lib/commands/deno_tasks.ts";
export { service } from "./lib/commands/service.ts";
export type { ServiceInfo, ServiceOptions, ServiceReady } from "./lib/commands/service.ts";
