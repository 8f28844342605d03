/**
 * `sh()`: a task that runs a shell command, with the syntax of `deno task`
 * (dax). The command's programs become the task's `run` permission, its output
 * streams as the task's output, its trimmed stdout is the task's result, and a
 * non-zero exit fails the task with the exit code and the end of stderr.
 *
 * @module
 */

import { type BackoffOptions, io, type TaskDefinition } from "../declare/define.ts";
import type { Permissions } from "../declare/permissions.ts";
import { TaskFileError } from "../errors.ts";
import type { MissingGrant } from "../errors.ts";
import { commandPrograms } from "./_program_names.ts";
import { runShell } from "./_shell_process.ts";
import { CommandError } from "./command_error.ts";
import { parseDuration } from "./_duration.ts";
import { callerModule } from "./_caller.ts";

/** What `sh()` takes besides the command. */
export interface ShOptions {
  /** One line shown by `spool list`. */
  description?: string;
  /** Names of the tasks that run first. */
  deps?: readonly string[];
  /**
   * The time limit of one attempt: ms, or a duration such as `"90s"`, `"5m"`,
   * `"1h"`. At the deadline the command's process tree is stopped.
   */
  timeout?: number | string;
  /** How many times to try again after a failed attempt. Default 0. */
  retries?: number;
  /** The waits between attempts. */
  backoff?: BackoffOptions;
  /**
   * More permissions for the shell process. `run` adds programs the command
   * text does not name (a program started through a variable); `read`,
   * `write`, `net` and `env` are for dax's builtins and redirects (`rm dist`
   * needs `write: ["dist"]`, `> out.txt` needs `write: ["out.txt"]`). The
   * programs themselves run outside Deno's sandbox.
   */
  permissions?: Permissions;
  /** The working directory, relative to the task file's folder. Default: that folder. */
  cwd?: string;
  /**
   * The task's result: `"stdout"`, the command's stdout trimmed (default), or
   * `"none"` (nothing kept, for commands that print a lot).
   */
  result?: "stdout" | "none";
  /**
   * How long the command may take to stop after SIGTERM before its process
   * group gets SIGKILL, in ms. Default 5000. Minimum 0.
   */
  grace?: number;
}

const DEFAULT_GRACE_MS = 5_000;

/**
 * Declares a task that runs a shell command. The command is parsed and run by
 * dax (`&&`, `||`, pipes, redirects, `NAME=value`, `cd`), in a process group
 * of its own: a timeout, fail-fast or Ctrl-C ends every process it started
 * (SIGTERM, then SIGKILL after `grace`). The task needs `run` for each
 * program the command names; `--dry-run` shows it and a run without it stops
 * before anything starts.
 *
 * @param command The command, as you would write it in `deno task`.
 * @param options Description, deps, timeout, retries, extra permissions, cwd.
 * @returns An io task declaration, for `defineTasks`.
 * @throws {TaskFileError} When the command puts a job in the background with
 * `&`, or names a program that cannot be known before it runs.
 * @example Format check, lint, then tests
 * ```ts
 * import { defineTasks, sh } from "@spool/spool";
 *
 * export default defineTasks({
 *   fmt: sh("deno fmt --check"),
 *   lint: sh("deno lint", { description: "Lint" }),
 *   test: sh("deno test -A", { deps: ["fmt", "lint"], timeout: "5m" }),
 * });
 * ```
 */
export function sh(command: string, options: ShOptions = {}): TaskDefinition<string | undefined> {
  const file = callerModule();
  const fail = (message: string): never => {
    throw new TaskFileError(message, { file });
  };
  if (typeof command !== "string" || command.trim() === "") {
    fail('Cannot declare a command task: sh() expects the command text, such as sh("deno test")');
  }
  const found = commandPrograms(command);
  if (found.background) {
    fail(
      `Cannot run command "${command}": dax does not run jobs in the background with '&'; give each job a task of its own, or run it through a shell: sh("sh -c '...'")`,
    );
  }
  const declared = options.permissions ?? {};
  if (found.unknown.length > 0 && declared.run === undefined) {
    fail(
      `Cannot tell which programs command "${command}" runs: ${
        found.unknown.map((word) => `"${word}"`).join(", ")
      } is known only when it runs; name them in permissions: { run: [...] }`,
    );
  }
  const run = declared.run === true
    ? true
    : [...new Set([...found.programs, ...(Array.isArray(declared.run) ? declared.run : [])])];
  const permissions: Permissions = {
    ...declared,
    ...(run === true || run.length > 0 ? { run } : {}),
  };
  const grace = options.grace ?? DEFAULT_GRACE_MS;
  if (typeof grace !== "number" || !(grace >= 0)) {
    fail(`Command task "${command}" has an invalid 'grace': expected ms, at least 0`);
  }
  const keepStdout = (options.result ?? "stdout") === "stdout";
  const folder = file?.startsWith("file:") ? new URL(".", file) : undefined;
  const timeout = options.timeout === undefined ? undefined : parseDuration(options.timeout);
  if (timeout === undefined && options.timeout !== undefined) {
    fail(
      `Command task "${command}" has an invalid 'timeout': expected ms or a duration such as "90s" or "5m", got ${
        JSON.stringify(options.timeout)
      }`,
    );
  }
  const definition = io<string | undefined>({
    // `spool list` shows what the task runs.
    description: options.description ?? command,
    ...(options.deps === undefined ? {} : { deps: options.deps }),
    ...(timeout === undefined ? {} : { timeout }),
    ...(options.retries === undefined ? {} : { retries: options.retries }),
    ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
    permissions,
    // The body is spool's: it starts the shell process with exactly these
    // permissions, so it runs on the runner's thread, not in a sandbox.
    trusted: true,
    async run({ signal }) {
      const base = folder === undefined ? Deno.cwd() : decodeURIComponent(folder.pathname);
      const cwd = options.cwd === undefined
        ? base
        : decodeURIComponent(new URL(options.cwd, `file://${base.replace(/\/?$/, "/")}`).pathname);
      const outcome = await runShell(command, {
        cwd,
        permissions,
        signal,
        graceMs: grace,
        keepStdout,
        onLine: (stream, line) => (stream === "stdout" ? console.log : console.error)("%s", line),
      });
      signal.throwIfAborted();
      if (outcome.shellError !== undefined) {
        throw new Error(`Cannot run command "${command}": ${outcome.shellError}`);
      }
      if (outcome.code !== 0) throw new CommandError(command, outcome.code, outcome.stderrTail);
      return keepStdout ? outcome.stdout.trim() : undefined;
    },
  });
  Object.defineProperty(definition, "command", { value: command, enumerable: true });
  return definition;
}

/**
 * What a runner that starts shell processes needs: `--allow-run` for every
 * program. It starts each command as a `deno` process, and stops a command's
 * process tree with a signal to its process group, which Deno allows only to
 * a process that may run anything (`--allow-run=deno` is as wide in effect).
 *
 * @param task The first command task, named in the message.
 * @returns The missing grant, or none.
 */
export function shellGrants(task: string): MissingGrant[] {
  if (Deno.permissions.querySync({ name: "run" }).state === "granted") return [];
  return [{
    task,
    permission: "run",
    value: true,
    flag: "--allow-run",
    reason:
      "spool starts each command as a deno process and stops its whole process tree with a signal to its process group, which Deno allows only with --allow-run",
  }];
}
