/**
 * The `spool` command line: flag parsing (commander, kept behind this one
 * file), the `run`, `list` and `graph` commands, and the mapping of errors to
 * exit codes. `cli.ts` and a task file's `main()` are thin wrappers around
 * {@linkcode runCli}.
 *
 * @module
 */

import {
  Command,
  CommanderError,
  InvalidArgumentError,
  Option,
} from "npm:@commander-js/extra-typings@^14.0.0";
import denoJson from "../../deno.json" with { type: "json" };
import { dirname } from "node:path";
import { writeTextFileAtomic, writeTextFileAtomicSync } from "../report/_atomic_write.ts";
import { RunRecord } from "../report/_run_record.ts";
import { CancelledError, SpoolError, UsageError } from "../errors.ts";
import { DEFAULT_TASK_FILE, loadTaskFile } from "../declare/load.ts";
import { reportToJson, type RunReport } from "../report/report.ts";
import { formatPlan, planRun, planToJson } from "../run/plan.ts";
import { combineReporters } from "../report/reporter.ts";
import { chromeTrace } from "../report/trace.ts";
import { safeLine, safeText } from "../report/_sanitize.ts";
import type { TaskSet } from "../declare/define.ts";
import type { Permissions } from "../declare/permissions.ts";
import { plainReporter, type TextSink } from "../report/plain.ts";
import { DEFAULT_CONCURRENCY, run } from "../run/scheduler.ts";

/** Exit codes of the `spool` command. */
export const ExitCode = {
  /** Every task passed. */
  Ok: 0,
  /** A task failed. */
  TaskFailed: 1,
  /** Bad usage or a broken task file; nothing ran. */
  Usage: 2,
  /** Interrupted by SIGINT. */
  Interrupted: 130,
  /** Terminated by SIGTERM. */
  Terminated: 143,
} as const;

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
  // What follows the first "--" is for the tasks (`context.args`), not spool.
  const dashes = args.indexOf("--");
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
Exit codes: 0 all tasks passed, 1 a task failed, 2 bad usage or task file (nothing ran),
130 interrupted (Ctrl-C), 143 terminated (SIGTERM).

Workers need --unstable-worker-options (or "unstable": ["worker-options"] in deno.json);
run with --no-prompt so that no prompt can widen a worker's permissions.

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
    .option(
      "--show-results",
      "After the summary, print each target task's result (JSON, one line each)",
      false,
    )
    .action(async (patterns, flags) => {
      const { file } = program.opts();
      const loaded = await loadTaskFile(file);
      const targets = expandTargets(patterns, loaded.tasks);
      if (flags.dryRun) {
        const plan = planRun(loaded.tasks, {
          targets,
          workers: flags.workers,
          concurrency: flags.concurrency,
        });
        stdout.write(
          flags.report === "json"
            ? JSON.stringify(planToJson(plan), null, 2) + "\n"
            : formatPlan(plan, { color: options.stdout === undefined && stdoutIsColorTerminal() }),
        );
        return;
      }
      if (flags.trace !== undefined) assertTraceWritable(flags.trace);
      const live = flags.quiet || options.stderr !== undefined || !liveViewAllowed()
        ? undefined
        : await (await import("../report/live.ts")).liveReporter({ color });
      const human = live ?? stderr;
      const { reportFile } = flags;
      if (reportFile !== undefined) await assertWritableDir(reportFile);
      const record = new RunRecord();
      const controller = new AbortController();
      const forward = () => controller.abort(options.signal!.reason);
      options.signal?.addEventListener("abort", forward, { once: true });
      const exitNow = (code: number, reason: string): never => {
        const partial = record.snapshot(reason);
        if (partial !== undefined && reportFile !== undefined) {
          try {
            writeTextFileAtomicSync(reportFile, reportToJson(partial) + "\n");
          } catch (error) {
            stderr.write(`error: ${reportFileError(reportFile, error)}\n`);
          }
        }
        if (partial !== undefined && flags.trace !== undefined) {
          try {
            writeTextFileAtomicSync(flags.trace, JSON.stringify(chromeTrace(partial)) + "\n");
            stderr.write(`Trace written to ${flags.trace}\n`);
          } catch (error) {
            stderr.write(`error: ${traceFileError(flags.trace, error)}\n`);
          }
        }
        Deno.exit(code);
      };
      const stopSignals = (options.handleSignals ?? true)
        ? listenForSignals(controller, human, (code) => exitCode = code, exitNow)
        : () => {};
      try {
        const report = await run(loaded.tasks, {
          targets,
          workers: flags.workers,
          concurrency: flags.concurrency,
          keepGoing: flags.keepGoing,
          timeout: flags.timeout,
          module: loaded.url,
          args: taskArgs,
          signal: controller.signal,
          reporter: combineReporters(
            live ?? plainReporter(stderr, { color, quiet: flags.quiet }),
            record.reporter,
          ),
        });
        if (flags.trace !== undefined) await writeTrace(flags.trace, report, stderr);
        if (flags.showResults) stderr.write(formatResults(report, loaded.tasks, targets));
        if (flags.report === "json") stdout.write(reportToJson(report) + "\n");
        if (report.cancelled !== undefined) {
          if (exitCode === ExitCode.Ok) exitCode = ExitCode.Interrupted;
        } else if (!report.ok) {
          exitCode = ExitCode.TaskFailed;
        }
        if (reportFile !== undefined && !await writeReport(reportFile, report, stderr)) {
          if (exitCode === ExitCode.Ok) exitCode = ExitCode.TaskFailed;
        }
      } finally {
        live?.close();
        stopSignals();
        options.signal?.removeEventListener("abort", forward);
      }
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
 * On the first SIGINT or SIGTERM, cancel the run: no task starts, running ones
 * are aborted (io signals, cpu workers terminated), and the run ends with its
 * summary and report. On a second signal, exit at once.
 */
function listenForSignals(
  controller: AbortController,
  stderr: TextSink,
  setExit: (code: number) => void,
  exitNow: (code: number, reason: string) => never,
): () => void {
  let stopping = false;
  const on = (code: number, reason: string, verb: string) => () => {
    if (stopping) {
      stderr.write(`\n${verb} again: exiting at once\n`);
      exitNow(code, `${reason}, then exited at once`);
    }
    stopping = true;
    setExit(code);
    stderr.write(`\n${verb}: stopping tasks (send the signal again to exit at once)\n`);
    controller.abort(new CancelledError(reason, code));
  };
  const handlers: [Deno.Signal, () => void][] = [
    ["SIGINT", on(ExitCode.Interrupted, "interrupted (SIGINT)", "Interrupted")],
    ["SIGTERM", on(ExitCode.Terminated, "terminated (SIGTERM)", "Terminated")],
  ];
  const added: typeof handlers = [];
  for (const [signal, handler] of handlers) {
    try {
      Deno.addSignalListener(signal, handler);
      added.push([signal, handler]);
    } catch {
      // Not every platform has every signal (Windows has no SIGTERM).
    }
  }
  return () => {
    for (const [signal, handler] of added) Deno.removeSignalListener(signal, handler);
  };
}

/** Fails early, before anything runs, when the report could not be written. */
async function assertWritableDir(path: string): Promise<void> {
  const dir = dirname(path);
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(dir);
  } catch {
    throw new UsageError(
      `Cannot write the report to "${path}" as its directory "${dir}" does not exist: create it first`,
    );
  }
  if (!info.isDirectory) {
    throw new UsageError(
      `Cannot write the report to "${path}" as "${dir}" is not a directory`,
    );
  }
}

async function writeReport(path: string, report: RunReport, stderr: TextSink): Promise<boolean> {
  try {
    await writeTextFileAtomic(path, reportToJson(report) + "\n");
    return true;
  } catch (error) {
    stderr.write(`error: ${reportFileError(path, error)}\n`);
    return false;
  }
}

function reportFileError(path: string, error: unknown): string {
  return `Cannot write the report to "${path}": ${
    error instanceof Error ? error.message : String(error)
  }`;
}

/**
 * Whether to draw the live view: stderr is a terminal that takes cursor
 * movement, nobody asked for plain output (CI, NO_COLOR), and log-update may
 * read the variables it reads when imported. Querying never prompts.
 */
function liveViewAllowed(): boolean {
  if (!Deno.stderr.isTerminal() || Deno.noColor) return false;
  const readable = ["CI", "TERM", "TERM_PROGRAM", "TMUX"].every((variable) =>
    Deno.permissions.querySync({ name: "env", variable }).state === "granted"
  );
  return readable && !Deno.env.get("CI") && Deno.env.get("TERM") !== "dumb";
}

function stdoutIsColorTerminal(): boolean {
  return !Deno.noColor && Deno.stdout.isTerminal();
}

/** Fails before anything runs when the trace could not be written. */
function assertTraceWritable(path: string): void {
  if (Deno.permissions.querySync({ name: "write", path }).state !== "granted") {
    throw new UsageError(
      `Cannot write the trace to "${path}": run again with --allow-write=${path}`,
    );
  }
}

async function writeTrace(path: string, report: RunReport, stderr: TextSink): Promise<void> {
  try {
    await writeTextFileAtomic(path, JSON.stringify(chromeTrace(report)) + "\n");
    stderr.write(
      `Trace written to ${path}: open it in https://ui.perfetto.dev or chrome://tracing\n`,
    );
  } catch (error) {
    stderr.write(`error: ${traceFileError(path, error)}\n`);
  }
}

function traceFileError(path: string, error: unknown): string {
  return `Cannot write the trace to "${path}": ${
    error instanceof Error ? error.message : String(error)
  }`;
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

/** The results of the target tasks (every task when none was named), one line each. */
function formatResults(report: RunReport, tasks: TaskSet, targets: readonly string[]): string {
  const names = targets.length === 0 ? [...tasks.tasks.keys()] : targets;
  const lines: string[] = [];
  for (const name of names) {
    const task = report.tasks.find((t) => t.name === name);
    if (task?.status !== "ok") continue;
    let value: string;
    try {
      value = JSON.stringify(task.result) ?? String(task.result);
    } catch {
      value = String(task.result);
    }
    lines.push(`result ${safeLine(name)}: ${safeLine(value)}\n`);
  }
  return lines.join("");
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  return rows.map((row) =>
    row.map((cell, i) => i === row.length - 1 ? cell : cell.padEnd(widths[i])).join("  ").trimEnd()
  ).join("\n") + "\n";
}
