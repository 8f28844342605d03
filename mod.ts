/**
 * spool: a Deno task runner that runs io tasks concurrently on the event loop
 * and cpu tasks on a warm pool of Web Workers, each with exactly the
 * permissions it declares.
 *
 * A task file declares tasks with {@linkcode io} and {@linkcode cpu} inside
 * {@linkcode defineTasks}; {@linkcode run} executes a task set from a script,
 * and {@linkcode main} lets a task file run itself as a program.
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
 * // `deno run --unstable-worker-options --no-prompt tasks.ts squares`
 * if (import.meta.main) await main(import.meta.url);
 * ```
 *
 * @module
 */

export { cpu, defineTasks, io, isTaskSet, TaskSet } from "./lib/define.ts";
export type { Task, TaskContext, TaskDefinition, TaskKind, TaskSpec } from "./lib/define.ts";
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
export { WorkerCrashError, WorkerPool } from "./lib/worker_pool.ts";
export type { CpuResult, CpuRunOptions, WorkerPoolOptions } from "./lib/worker_pool.ts";
export { formatMs, reportToJson, summaryLine } from "./lib/report.ts";
export type { ReportedError, RunReport, TaskReport, TaskStatus } from "./lib/report.ts";
export type { PlannedTask, Reporter, RunPlan } from "./lib/reporter.ts";
export { TaskGraph } from "./lib/task_graph.ts";
export type { GraphNode } from "./lib/task_graph.ts";
