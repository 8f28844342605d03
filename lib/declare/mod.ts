/**
 * Declaring tasks: `io()`, `cpu()` and `defineTasks()`, which validate a task file the moment it is
 * imported; the task graph (cycles, selection, DOT and Mermaid); declared permissions and the
 * up-front check against the process; and loading a task file from a path or URL.
 *
 * @module
 */

export { cpu, defineTasks, io, isTaskSet, TaskSet } from "./define.ts";
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
} from "./define.ts";
export { loadTaskFile } from "./load.ts";
export type { LoadedTaskFile, LoadOptions } from "./load.ts";
export type { PermissionName, Permissions, PermissionValue } from "./permissions.ts";
export { TaskGraph } from "./task_graph.ts";
export type { GraphNode } from "./task_graph.ts";
