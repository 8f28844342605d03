/**
 * The `$` of a task's context: a tagged template that runs a command with the
 * syntax of `deno task` (dax), bound to the task: its signal stops the
 * command's process tree, it runs in the task file's folder, its output is the
 * task's output. A sandboxed task cannot start processes of its own beyond its
 * `run` permission, so the runner runs the command for it, in a shell process
 * holding exactly the task's permissions; the command's programs must be
 * among the task's `run` permission.
 *
 * The worker side imports this file: it imports nothing but the command
 * reader and the error class.
 *
 * @module
 */

import { commandPrograms } from "./_program_names.ts";
import { CommandError } from "./command_error.ts";

/** What a finished command gives back. */
export interface CommandOutput {
  /** The exit code. */
  code: number;
  /** Its stdout. */
  stdout: string;
  /** The last lines of its stderr. */
  stderrTail: string[];
}

/** One command, run when awaited or when one of its readers is called. */
export interface ShellCommand extends PromiseLike<CommandOutput> {
  /**
   * Runs the command in another folder.
   *
   * @param path A folder, relative to the task file's folder.
   * @returns The same command, to chain.
   */
  cwd(path: string): ShellCommand;
  /**
   * Resolves with the exit code instead of throwing on a non-zero exit.
   *
   * @returns The same command, to chain.
   */
  noThrow(): ShellCommand;
  /**
   * Runs it and resolves with its stdout, trimmed; stdout is not printed.
   *
   * @returns The text.
   */
  text(): Promise<string>;
  /**
   * Runs it and resolves with its stdout's lines; stdout is not printed.
   *
   * @returns The lines, without a last empty one.
   */
  lines(): Promise<string[]>;
  /**
   * Runs it and parses its stdout as JSON; stdout is not printed.
   *
   * @returns The parsed value.
   */
  json<T = unknown>(): Promise<T>;
}

/**
 * The `$` of a task's context: `` await $`deno fmt --check` ``. Interpolated
 * values are quoted as one argument each (an array as one argument per
 * element).
 */
export type TaskShell = (strings: TemplateStringsArray, ...values: unknown[]) => ShellCommand;

/** What `$` asks its runner to do. */
export interface ShellRequest {
  /** The command text, values quoted. */
  command: string;
  /** A folder relative to the task file's folder, when one was given. */
  cwd?: string;
  /** Whether stdout is kept for the caller instead of printed. */
  capture: boolean;
}

/** What runs a `$` command: the runner's side of the task. */
export type ShellRunner = (request: ShellRequest) => Promise<CommandOutput>;

/**
 * Makes the `$` of one task.
 *
 * @param task The task's name, for messages.
 * @param runner Runs a command for the task.
 * @param hasProgram Whether the task may run a program (its `run` permission).
 * @returns The task's `$`.
 */
export function taskShell(
  task: string,
  runner: ShellRunner,
  hasProgram: (program: string) => boolean,
): TaskShell {
  return (strings, ...values) => {
    let command = strings[0];
    for (let i = 0; i < values.length; i++) command += quote(values[i]) + strings[i + 1];
    return shellCommand(task, { command, capture: false }, false, runner, hasProgram);
  };
}

function shellCommand(
  task: string,
  request: ShellRequest,
  noThrow: boolean,
  runner: ShellRunner,
  hasProgram: (program: string) => boolean,
): ShellCommand {
  const start = async (capture: boolean): Promise<CommandOutput> => {
    const found = commandPrograms(request.command);
    if (found.background) {
      throw new TypeError(
        `Cannot run command "${request.command}" in task "${task}": dax does not run jobs in the background with '&'; start each with its own $ call, or run it through a shell: $\`sh -c '...'\``,
      );
    }
    const denied = found.programs.filter((program) => !hasProgram(program));
    if (denied.length > 0) {
      throw new TypeError(
        `Cannot run command "${request.command}" in task "${task}": it needs run access to ${
          denied.map((p) => `"${p}"`).join(", ")
        }, add them to the task's permissions: { run: [${
          denied.map((p) => JSON.stringify(p)).join(", ")
        }] }`,
      );
    }
    const output = await runner({ ...request, capture });
    if (output.code !== 0 && !noThrow) {
      throw new CommandError(request.command, output.code, output.stderrTail);
    }
    return output;
  };
  return {
    cwd: (path) => shellCommand(task, { ...request, cwd: path }, noThrow, runner, hasProgram),
    noThrow: () => shellCommand(task, request, true, runner, hasProgram),
    text: async () => (await start(true)).stdout.trim(),
    lines: async () => {
      const text = (await start(true)).stdout.replace(/\r?\n$/, "");
      return text === "" ? [] : text.split(/\r?\n/);
    },
    json: async <T>() => JSON.parse((await start(true)).stdout) as T,
    then(onFulfilled, onRejected) {
      return start(false).then(onFulfilled, onRejected);
    },
  };
}

/** A value as one shell word (an array as one word per element). */
function quote(value: unknown): string {
  if (Array.isArray(value)) return value.map(quote).join(" ");
  const text = String(value);
  if (/^[A-Za-z0-9_\/.:=@%+,-]+$/.test(text)) return text;
  return `'${text.replaceAll("'", `'"'"'`)}'`;
}
