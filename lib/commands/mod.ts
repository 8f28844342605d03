/**
 * Commands as tasks: `sh()` declares a task that runs a shell command with the
 * syntax of `deno task` (parsed and run by dax, in a process group of its own
 * so that stopping it ends everything it started).
 *
 * Public names: {@linkcode sh}, {@linkcode denoTasks}, {@linkcode CommandError}, and the types
 * of the context's `$` ({@linkcode TaskShell}).
 *
 * @example A check pipeline
 * ```ts
 * import { defineTasks, sh } from "@spool/spool";
 *
 * export default defineTasks({
 *   fmt: sh("deno fmt --check"),
 *   test: sh("deno test -A", { deps: ["fmt"], timeout: "5m" }),
 * });
 * ```
 *
 * @module
 */

export { sh } from "./sh.ts";
export { CommandError } from "./command_error.ts";
export type { ShOptions } from "./sh.ts";
export type { CommandOutput, ShellCommand, TaskShell } from "./task_shell.ts";
export { denoTasks } from "./deno_tasks.ts";
export type { DenoTasksOptions } from "./deno_tasks.ts";
export { service } from "./service.ts";
export type { ServiceInfo, ServiceOptions, ServiceReady } from "./service.ts";
