/**
 * The light entry for task files: {@linkcode cpu}, {@linkcode io},
 * {@linkcode sh} and {@linkcode defineTasks} to declare tasks,
 * {@linkcode transfer} to hand buffers over, and {@linkcode main} to let the
 * file run itself, without the rest of spool.
 *
 * Every worker and sandbox host imports the task file again, and with it
 * whatever the file imports. Importing this module instead of `mod.ts` keeps
 * the scheduler, the pool, the executors, the reporters and their `node:`
 * modules out of every worker: a worker then holds little more than an empty
 * Deno worker does (see "Start-up and memory" in the README), and `spool list`
 * starts sooner. Names and behaviour are those of `mod.ts`.
 *
 * @example A task file on the light entry
 * ```ts
 * import { cpu, defineTasks, io, main } from "./declare.ts";
 *
 * const tasks = defineTasks({
 *   numbers: io({ run: () => [1, 2, 3] }),
 *   sum: cpu({
 *     deps: ["numbers"],
 *     run: ({ deps }) => (deps.numbers as number[]).reduce((a, b) => a + b, 0),
 *   }),
 * });
 * export default tasks;
 *
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
export type { PermissionName, Permissions, PermissionValue } from "./lib/declare/permissions.ts";
export { sh } from "./lib/commands/sh.ts";
export type { ShOptions } from "./lib/commands/sh.ts";
export type { CommandOutput, ShellCommand, TaskShell } from "./lib/commands/task_shell.ts";
export { transfer } from "./lib/pool/transfer.ts";
export type { TransferableBuffer } from "./lib/pool/transfer.ts";
export { main } from "./lib/cli/main.ts";
