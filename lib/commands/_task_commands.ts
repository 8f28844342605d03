/**
 * The runner's side of a task's `$`: runs a command a body asked for in a
 * shell process holding exactly the task's permissions, in the task module's
 * folder (or a folder relative to it), with its output as the task's and its
 * process tree stopped by the task's signal.
 *
 * @module
 */

import type { Permissions } from "../declare/permissions.ts";
import { runShell } from "./_shell_process.ts";
import type { CommandOutput, ShellRequest } from "./task_shell.ts";

/** Where and as whom a `$` command runs. */
export interface TaskCommandOptions {
  /** The task module's URL; commands run in its folder. */
  module: string | undefined;
  /** The task's declared permissions: the shell process gets exactly these. */
  permissions: Permissions;
  /** The task's signal: aborting it stops the command's process tree. */
  signal: AbortSignal | undefined;
  /** Receives the command's output lines (stdout only when not captured). */
  onOutput: (stream: "stdout" | "stderr", text: string) => void;
}

/** Between SIGTERM and SIGKILL for a `$` command, in ms. */
const GRACE_MS = 5_000;

/**
 * Runs one `$` command for a task.
 *
 * @param request The command, its folder and whether stdout is captured.
 * @param options The task's module, permissions, signal and output.
 * @returns The exit code, stdout and the end of stderr.
 */
export async function runTaskCommand(
  request: ShellRequest,
  options: TaskCommandOptions,
): Promise<CommandOutput> {
  const base = options.module?.startsWith("file:")
    ? new URL(".", options.module)
    : new URL(`file://${Deno.cwd().replace(/\/?$/, "/")}`);
  const cwd = decodeURIComponent(new URL(request.cwd ?? ".", base).pathname);
  const declared = options.permissions.env;
  const outcome = await runShell(request.command, {
    cwd,
    permissions: options.permissions,
    // What the task's own code may read, and PATH to find its programs.
    ...(declared === true ? {} : { env: ["PATH", ...(Array.isArray(declared) ? declared : [])] }),
    signal: options.signal ?? new AbortController().signal,
    graceMs: GRACE_MS,
    keepStdout: true,
    onLine: (stream, line) => {
      if (stream === "stderr" || !request.capture) options.onOutput(stream, line);
    },
  });
  if (outcome.shellError !== undefined) {
    throw new Error(`Cannot run command "${request.command}": ${outcome.shellError}`);
  }
  return { code: outcome.code, stdout: outcome.stdout, stderrTail: outcome.stderrTail };
}
