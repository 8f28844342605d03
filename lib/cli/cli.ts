/**
 * The `spool` command line: flag parsing (commander, kept behind this one
 * file), the `run`, `list` and `graph` commands, and the mapping of errors to
 * exit codes. `cli.ts` and a task file's `main()` are thin wrappers around
 * {@linkcode runCli}.
 *
 * @module
 */

import {
  Argument,
  Command,
  CommanderError,
  InvalidArgumentError,
  Option,
} from "npm:@commander-js/extra-typings@^14.0.0";
import denoJson from "../../deno.json" with { type: "json" };
import { SpoolError, UsageError } from "../errors.ts";
import { DEFAULT_TASK_FILE, loadTaskFile } from "../declare/load.ts";
import { safeLine, safeText } from "../report/_sanitize.ts";
import type { TaskSet } from "../declare/define.ts";
import type { Permissions } from "../declare/permissions.ts";
import type { TextSink } from "../report/plain.ts";
import { ExitCode } from "./_exit_code.ts";

export { ExitCode };

/**
 * \`run()\`'s default io concurrency (\`DEFAULT_CONCURRENCY\`), written out so
 * that \`--help\` need not load the scheduler; a test holds the two equal.
 */
const DEFAULT_CONCURRENCY = 64;

/** Where the CLI writes, and what can stop it; tests pass their own. */
export interface CliOptions {
  /** Machine output: JSON reports, `list`, `graph`. Default: the process's stdout. */
  stdout?: TextSink;
  /** Human output: progress, summary, errors. Default: the process's stderr. */
  stderr?: TextSink;
  /** Cancels a run, as Ctrl-C does. */
  signal?: AbortSignal;
  /** Listen for SIGINT and SIGTERM while a run is going. Default `true`. */
  handleSignals?: boolean;
  /** Colour in human output. Default: stderr is a terminal and `NO_COLOR` is unset. */
  color?: boolean;
}

const encoder = new TextEncoder();
function fdSink(file: { writeSync(p: Uint8Array): number }): TextSink {
  return {
    write(text) {
      const bytes = encoder.encode(text);
      let written = 0;
      while (written < bytes.length) written += file.writeSync(bytes.subarray(written));
    },
  };
}

function positiveInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) {
      throw new InvalidArgumentError(
        `'${name}' must be a positive integer: current value is "${value}"`,
      );
    }
    return n;
  };
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

function duration(name: string) {
  return (value: string): number => {
    const match = value.trim().match(/^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/);
    const ms = match === null ? Number.NaN : Number(match[1]) * UNITS[match[2] ?? "ms"];
    if (!(ms > 0)) {
      throw new InvalidArgumentError(
        `'${name}' must be a duration above 0 such as 500ms, 30s or 2m (a bare number is ms): current value is "${value}"`,
      );
    }
    return ms;
  };
}

/**
 * Runs the spool command line and returns its exit code; it never exits the
 * process itself.
 *
 * @param args The arguments, without the program name.
 * @param options Output sinks, a cancel signal, signal handling, colour.
 * @returns The exit code: 0 all passed, 1 a task failed, 2 usage or task-file
 * error, 130 interrupted, 143 terminated.
 */
export async function runCli(args: readonly string[], options: CliOptions = {}): Promise<number> {
  const stdout = options.stdout ?? fdSink(Deno.stdout);
  const stderr = options.stderr ?? fdSink(Deno.stderr);
  const color = options.color ?? (!Deno.noColor && Deno.stderr.isTerminal());
  let exitCode: number = ExitCode.Ok;
  // What follows the first "--" is for the tasks (`context.args`), not spool;
  // but `spool complete -- <words>` is the shell asking for completions.
  const completing = args[0] === "complete" && args[1] === "--";
  const dashes = completing ? -1 : args.indexOf("--");
  const spoolArgs = dashes < 0 ? args : args.slice(0, dashes);
  const taskArgs = dashes < 0 ? [] : args.slice(dashes + 1);

  const program = new Command("spool")
    .description(
      "Run a task graph: io tasks concurrently on the event loop, cpu tasks on a warm Web Worker pool.",
    )
    .version(denoJson.version, "-V, --version", "Print the version")
    .helpOption("-h, --help", "Show help")
    .option("-f, --file <path>", "The task file", DEFAULT_TASK_FILE)
    .exitOverride()
    .configureOutput({
      writeOut: (text) => stdout.write(text),
      writeErr: (text) => stderr.write(text),
      // Decided here, not by commander: its default reads NO_COLOR,
      // FORCE_COLOR and CLICOLOR_FORCE, which needs env access.
      getOutHasColors: () => false,
      getErrHasColors: () => false,
    })
    .showSuggestionAfterError(true)
    .addHelpText(
      "after",
      `
Arguments after "--" go to the tasks (context.args): spool run build -- --prod.
Task names may be glob patterns: spool run 'test:*'.

Exit codes: 0 all tasks passed, 1 a task failed, 2 bad usage or task file (nothing ran),
130 interrupted (Ctrl-C), 143 terminated (SIGTERM).

Each sandboxed task runs in a deno process of its own (--allow-run=deno,
--allow-net=127.0.0.1); run with --no-prompt so that no prompt can widen a worker's permissions.

Output (on stderr): in a terminal, a live view redrawn in place (running io tasks, each
worker's task, counts), with finished tasks and task output scrolling above it. It is used
only when stderr is a terminal, CI and NO_COLOR are unset, TERM is not "dumb", --quiet is not
given, and env access to CI, TERM, TERM_PROGRAM and TMUX is granted (-A, or
--allow-env=CI,TERM,TERM_PROGRAM,TMUX). Otherwise: plain logs, one line per task start and end,
no cursor movement. Either way, what a task prints with console (in a worker too) is shown
prefixed by the task's name, and the run ends with a summary: slowest tasks, critical path,
each failure with its error, and wall time, task time and speedup.`,
    );

  program
    .command("run", { isDefault: true })
    .description("Run tasks and what they depend on (every task when none is named)")
    .argument("[tasks...]", "Tasks to run")
    .addOption(
      new Option("-w, --workers <n>", "Size of the cpu worker pool")
        .default(navigator.hardwareConcurrency, "navigator.hardwareConcurrency")
        .argParser(positiveInt("--workers")),
    )
    .addOption(
      new Option("-c, --concurrency <n>", "How many io tasks run at once")
        .default(DEFAULT_CONCURRENCY)
        .argParser(positiveInt("--concurrency")),
    )
    .option("-k, --keep-going", "After a failure, run every task not downstream of it", false)
    .addOption(
      new Option(
        "--timeout <duration>",
        "Time limit of one attempt of each task that sets no 'timeout' (500ms, 30s, 2m; bare number: ms)",
      ).argParser(duration("--timeout")),
    )
    .option(
      "--report-file <path>",
      "Write the JSON report to this file (atomically), even when the run fails or is interrupted",
    )
    .addHelpText(
      "after",
      `
Failures: the first failed task stops the run: nothing new starts, running io tasks see their
signal abort, running cpu tasks' workers are terminated, and the rest is skipped. With
--keep-going, everything not downstream of a failure still runs. A task's 'timeout' (or
--timeout) limits each attempt; its 'retries' try again after a growing wait.

Ctrl-C or SIGTERM stops the run the same way and prints the summary (exit 130 or 143); a
second signal exits at once. --report-file is written in every case.`,
    )
    .option("-q, --quiet", "Print only failures and the summary", false)
    .option(
      "--trace <file>",
      "Write the run as Chrome Trace Event JSON: open it in https://ui.perfetto.dev or chrome://tracing",
    )
    .option(
      "--dry-run",
      "Print the plan (tasks, lanes, order, permissions; JSON with --report json) and run nothing",
      false,
    )
    .addOption(
      new Option(
        "--report <format>",
        "Print the final report on stdout (human output stays on stderr)",
      )
        .choices(["json"] as const),
    )
    .addOption(
      new Option(
        "--env-file [path]",
        "Load environment variables from a .env file (Deno's own --env-file; default: .env)",
      ).preset(".env"),
    )
    .option(
      "--show-results",
      "After the summary, print each target task's result (JSON, one line each)",
      false,
    )
    .action(async (patterns, flags) => {
      if (flags.envFile !== undefined) {
        const { relaunchWithEnvFile } = await import("./_project_config.ts");
        const code = await relaunchWithEnvFile(flags.envFile, args);
        if (code !== undefined) {
          exitCode = code;
          return;
        }
      }
      const { file } = program.opts();
      const loaded = await loadTaskFile(file);
      const targets = expandTargets(patterns, loaded.tasks);
      const { runCommand } = await import("./_run_command.ts");
      exitCode = await runCommand(loaded, targets, flags, {
        stdout,
        stderr,
        color,
        customStdout: options.stdout !== undefined,
        customStderr: options.stderr !== undefined,
        signal: options.signal,
        handleSignals: options.handleSignals,
        taskArgs,
      });
    });

  program
    .command("list")
    .description("List the tasks: name, kind, dependencies, permissions, description")
    .action(async () => {
      const { tasks } = await loadTaskFile(program.opts().file);
      const rows = [...tasks.tasks.values()].map((t) => [
        safeLine(t.name),
        t.kind,
        t.deps.length === 0 ? "-" : safeLine(t.deps.join(",")),
        safeLine(describePermissions(t.permissions)),
        safeLine(t.description),
      ]);
      stdout.write(table([["TASK", "KIND", "DEPS", "PERMISSIONS", "DESCRIPTION"], ...rows]));
    });

  program
    .command("graph")
    .description("Print the task graph, edges from each dependency to its dependant")
    .argument("[tasks...]", "Only these tasks and what they depend on")
    .addOption(
      new Option("--format <format>", "Output format").choices(["dot", "mermaid"] as const).default(
        "dot" as const,
      ),
    )
    .action(async (patterns, flags) => {
      const { tasks } = await loadTaskFile(program.opts().file);
      const names = tasks.graph.select(expandTargets(patterns, tasks));
      stdout.write(
        flags.format === "dot" ? tasks.graph.toDot(names) : tasks.graph.toMermaid(names),
      );
    });

  if (completing) {
    const words = args.slice(2);
    const { printCandidates } = await import("./_completions.ts");
    await printCandidates(program, words, await taskNamesFor(words));
    return ExitCode.Ok;
  }
  program
    .command("completions")
    .description("Print the shell completion script: spool completions bash >> ~/.bashrc")
    .addArgument(
      new Argument("<shell>", "The shell").choices(["bash", "zsh", "fish", "powershell"] as const),
    )
    .action(async (shell) => {
      const { printCompletionScript } = await import("./_completions.ts");
      await printCompletionScript(shell);
    });

  try {
    await program.parseAsync([...spoolArgs], { from: "user" });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version end with code 0; commander has already printed the error otherwise.
      return error.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
    }
    if (error instanceof SpoolError) {
      stderr.write(`error: ${safeText(error.message)}\n`);
      return error.exitCode;
    }
    stderr.write(
      `error: ${
        safeText(error instanceof Error ? (error.stack ?? error.message) : String(error))
      }\n`,
    );
    return ExitCode.TaskFailed;
  }
}

/**
 * Task names with glob patterns expanded: \`*\` matches any run of
 * characters, \`?\` one character, and a pattern that matches no task is a
 * usage error. Plain names pass through for \`run()\` to check.
 */
function expandTargets(patterns: readonly string[], tasks: TaskSet): string[] {
  const names = [...tasks.tasks.keys()];
  const out: string[] = [];
  for (const pattern of patterns) {
    if (!/[*?]/.test(pattern)) {
      out.push(pattern);
      continue;
    }
    const source = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replaceAll("*", ".*")
      .replaceAll("?", ".");
    const regex = new RegExp(`^${source}$`);
    const matched = names.filter((name) => regex.test(name));
    if (matched.length === 0) {
      throw new UsageError(
        `No task matches the pattern "${pattern}": run "spool list" to see the tasks`,
      );
    }
    out.push(...matched);
  }
  return [...new Set(out)];
}

/** A task's permissions as \`spool list\` shows them: \`net=a.com read=./data\`, or \`-\`. */
function describePermissions(permissions: Permissions): string {
  const parts = Object.entries(permissions)
    .filter(([, value]) => value !== undefined && value !== false)
    .map(([name, value]) => value === true ? name : `${name}=${(value as string[]).join(",")}`);
  return parts.length === 0 ? "-" : parts.join(" ");
}

/**
 * The tasks of the task file named among the words being completed, by name
 * with their descriptions; none when it does not load.
 */
async function taskNamesFor(words: readonly string[]): Promise<Map<string, string>> {
  let file = DEFAULT_TASK_FILE;
  for (let i = 0; i < words.length - 1; i++) {
    if (words[i] === "-f" || words[i] === "--file") file = words[i + 1];
    else if (words[i].startsWith("--file=")) file = words[i].slice("--file=".length);
  }
  try {
    const { tasks } = await loadTaskFile(file);
    return new Map([...tasks.tasks.values()].map((task) => [task.name, task.description]));
  } catch {
    return new Map();
  }
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  return rows.map((row) =>
    row.map((cell, i) => i === row.length - 1 ? cell : cell.padEnd(widths[i])).join("  ").trimEnd()
  ).join("\n") + "\n";
}
