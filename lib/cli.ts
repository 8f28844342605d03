/**
 * The `spool` command line: flag parsing (commander, kept behind this one
 * file), the `run`, `list` and `graph` commands, and the mapping of errors to
 * exit codes. `cli.ts` and a task file's `main()` are thin wrappers around
 * {@linkcode runCli}.
 *
 * @module
 */

import { Command, CommanderError, InvalidArgumentError, Option } from "@commander-js/extra-typings";
import denoJson from "../deno.json" with { type: "json" };
import { CancelledError, SpoolError } from "./errors.ts";
import { DEFAULT_TASK_FILE, loadTaskFile } from "./load.ts";
import { reportToJson } from "./report.ts";
import { plainReporter, type TextSink } from "./reporters/plain.ts";
import { DEFAULT_CONCURRENCY, run } from "./scheduler.ts";

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
    })
    .showSuggestionAfterError(true)
    .addHelpText(
      "after",
      `
Exit codes: 0 all tasks passed, 1 a task failed, 2 bad usage or task file (nothing ran),
130 interrupted (Ctrl-C), 143 terminated (SIGTERM).

Workers need --unstable-worker-options (or "unstable": ["worker-options"] in deno.json);
run with --no-prompt so that no prompt can widen a worker's permissions.`,
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
    .option("-q, --quiet", "Print only failures and the summary", false)
    .addOption(
      new Option(
        "--report <format>",
        "Print the final report on stdout (human output stays on stderr)",
      )
        .choices(["json"] as const),
    )
    .action(async (targets, flags) => {
      const { file } = program.opts();
      const loaded = await loadTaskFile(file);
      const controller = new AbortController();
      const forward = () => controller.abort(options.signal!.reason);
      options.signal?.addEventListener("abort", forward, { once: true });
      const stopSignals = (options.handleSignals ?? true)
        ? listenForSignals(controller, stderr, (code) => exitCode = code)
        : () => {};
      try {
        const report = await run(loaded.tasks, {
          targets,
          workers: flags.workers,
          concurrency: flags.concurrency,
          keepGoing: flags.keepGoing,
          module: loaded.url,
          signal: controller.signal,
          reporter: plainReporter(stderr, { color, quiet: flags.quiet }),
        });
        if (flags.report === "json") stdout.write(reportToJson(report) + "\n");
        if (report.cancelled !== undefined) {
          if (exitCode === ExitCode.Ok) exitCode = ExitCode.Interrupted;
        } else if (!report.ok) {
          exitCode = ExitCode.TaskFailed;
        }
      } finally {
        stopSignals();
        options.signal?.removeEventListener("abort", forward);
      }
    });

  program
    .command("list")
    .description("List the tasks: name, kind, dependencies, description")
    .action(async () => {
      const { tasks } = await loadTaskFile(program.opts().file);
      const rows = [...tasks.tasks.values()].map((t) => [
        t.name,
        t.kind,
        t.deps.length === 0 ? "-" : t.deps.join(","),
        t.description,
      ]);
      stdout.write(table([["TASK", "KIND", "DEPS", "DESCRIPTION"], ...rows]));
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
    .action(async (targets, flags) => {
      const { tasks } = await loadTaskFile(program.opts().file);
      const names = tasks.graph.select(targets);
      stdout.write(
        flags.format === "dot" ? tasks.graph.toDot(names) : tasks.graph.toMermaid(names),
      );
    });

  try {
    await program.parseAsync([...args], { from: "user" });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version end with code 0; commander has already printed the error otherwise.
      return error.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
    }
    if (error instanceof SpoolError) {
      stderr.write(`error: ${error.message}\n`);
      return error.exitCode;
    }
    stderr.write(
      `error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    return ExitCode.TaskFailed;
  }
}

/**
 * On the first SIGINT or SIGTERM, cancel the run (it stops its tasks and
 * reports); on a second SIGINT, exit at once.
 */
function listenForSignals(
  controller: AbortController,
  stderr: TextSink,
  setExit: (code: number) => void,
): () => void {
  let interrupted = false;
  const handlers: [Deno.Signal, () => void][] = [
    ["SIGINT", () => {
      if (interrupted) Deno.exit(ExitCode.Interrupted);
      interrupted = true;
      setExit(ExitCode.Interrupted);
      stderr.write("\nInterrupted: stopping tasks (press Ctrl-C again to exit at once)\n");
      controller.abort(new CancelledError("interrupted (SIGINT)", ExitCode.Interrupted));
    }],
    ["SIGTERM", () => {
      interrupted = true;
      setExit(ExitCode.Terminated);
      controller.abort(new CancelledError("terminated (SIGTERM)", ExitCode.Terminated));
    }],
  ];
  for (const [signal, handler] of handlers) Deno.addSignalListener(signal, handler);
  return () => {
    for (const [signal, handler] of handlers) Deno.removeSignalListener(signal, handler);
  };
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  return rows.map((row) =>
    row.map((cell, i) => i === row.length - 1 ? cell : cell.padEnd(widths[i])).join("  ").trimEnd()
  ).join("\n") + "\n";
}
