/**
 * The `spool` command line as commander defines it: the help text, the
 * errors for bad usage (with "did you mean"), and the command tree that shell
 * completion reads. Loaded when the fast path (`_quick_args.ts`) leaves a
 * command line to it. commander is kept behind this one file.
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
import { DEFAULT_TASK_FILE } from "../declare/load.ts";
import type { TextSink } from "../report/plain.ts";
import { ExitCode } from "./_exit_code.ts";
import { byteSize, DENO_JSON_TASK_FILE, duration, positiveInt } from "./_quick_args.ts";
import type { RunFlags } from "./_run_command.ts";
import type { WorkerFlags } from "./_worker_command.ts";

/** What each command does once parsed; `cli.ts` implements them. */
export interface Handlers {
  /** `spool run`. */
  run(file: string, patterns: string[], flags: RunFlags & { envFile?: string }): Promise<void>;
  /** `spool list`. */
  list(file: string): Promise<void>;
  /** `spool graph`. */
  graph(file: string, patterns: string[], format: "dot" | "mermaid"): Promise<void>;
  /** `spool worker`. */
  worker(file: string, flags: WorkerFlags): Promise<void>;
  /** `spool cache info|clean`. */
  cache(
    file: string,
    action: "info" | "clean",
    flags: { cacheDir?: string; cacheMax?: number },
  ): Promise<void>;
  /** The task names (with descriptions) to offer for completion. */
  taskNames(words: readonly string[]): Promise<Map<string, string>>;
}

/** Where commander writes, and the defaults it shows. */
export interface ProgramIo {
  stdout: TextSink;
  stderr: TextSink;
  /** The io concurrency default, shown in help. */
  defaultConcurrency: number;
}

function commanderParser(parse: (name: string, value: string) => number, name: string) {
  return (value: string): number => {
    try {
      return parse(name, value);
    } catch (error) {
      throw new InvalidArgumentError((error as Error).message);
    }
  };
}

/**
 * Parses a command line with commander and runs the command it names.
 *
 * @param args spool's arguments, without what follows `--`.
 * @param handlers The commands.
 * @param io Output sinks and defaults.
 * @param completing The words to complete, for `spool complete -- <words>`.
 * @returns 0 after help or version or a command, 2 for bad usage.
 */
export async function parseWithCommander(
  args: readonly string[],
  handlers: Handlers,
  io: ProgramIo,
  completing?: readonly string[],
): Promise<number> {
  const { stdout, stderr } = io;
  // --deno-json: spool's own task file that reads ./deno.json.
  const taskFile = (): string =>
    program.opts().denoJson ? DENO_JSON_TASK_FILE : program.opts().file;
  const program = new Command("spool")
    .description(
      "Run a task graph: io tasks concurrently on the event loop, cpu tasks on a warm Web Worker pool.",
    )
    .version(denoJson.version, "-V, --version", "Print the version")
    .helpOption("-h, --help", "Show help")
    .option("-f, --file <path>", "The task file", DEFAULT_TASK_FILE)
    .option(
      "--deno-json",
      "Run the tasks of ./deno.json (or deno.jsonc) as commands, with no task file",
    )
    .exitOverride()
    .configureOutput({
      writeOut: (text) => stdout.write(text),
      writeErr: (text) => stderr.write(text),
      // Decided here, not by commander: its default reads NO_COLOR,
      // FORCE_COLOR and CLICOLOR_FORCE, which needs env access.
      getOutHasColors: () => false,
      getErrHasColors: () => false,
      // A fixed width, so that the help text is the same everywhere and the
      // fast path can print it without loading commander (see _help.ts).
      getOutHelpWidth: () => 100,
      getErrHelpWidth: () => 100,
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
        .argParser(commanderParser(positiveInt, "--workers")),
    )
    .addOption(
      new Option("-c, --concurrency <n>", "How many io tasks run at once")
        .default(io.defaultConcurrency)
        .argParser(commanderParser(positiveInt, "--concurrency")),
    )
    .option("-k, --keep-going", "After a failure, run every task not downstream of it", false)
    .addOption(
      new Option(
        "--isolation <kind>",
        "Where task sandboxes live: a process each, which contains any fault, or a worker in spool's process",
      ).choices(["process", "worker"]).default("process"),
    )
    .addOption(
      new Option(
        "--max-tasks-per-worker <n>",
        "Retire a cpu worker after this many tasks (1: every task gets a fresh realm)",
      ).argParser(commanderParser(positiveInt, "--max-tasks-per-worker")),
    )
    .addOption(
      new Option(
        "--timeout <duration>",
        "Time limit of one attempt of each task that sets no 'timeout' (500ms, 30s, 2m; bare number: ms)",
      ).argParser(commanderParser(duration, "--timeout")),
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
    .option("--verbose", "Show spool's own frames in failed tasks' stacks", false)
    .option(
      "--nats <url>",
      "Run cpu tasks on 'spool worker' processes through this NATS JetStream server (see README, \"Many machines\")",
    )
    .option("--nats-creds <file>", "NATS credentials file (.creds) for --nats")
    .option("--nats-ca <file>", "CA certificate to trust for a TLS NATS server")
    .addOption(
      new Option(
        "--worker-timeout <duration>",
        "With --nats: fail the cpu tasks when no worker has taken a job this long after the first was queued (default: wait, with a reminder every 30s)",
      ).argParser(commanderParser(duration, "--worker-timeout")),
    )
    .option(
      "--cache",
      "Require the cache (on by default when the process may read and write its folder): without that access, exit 2",
    )
    .option(
      "--no-cache",
      "Run every selected task, without reading or writing the cache",
    )
    .option("--force", "Run every task and refresh the cache")
    .option(
      "--watch",
      "Run, then run again whenever an input of the selected tasks changes (needs the cache; Ctrl-C to stop)",
    )
    .option(
      "--cache-dir <path>",
      "The cache folder (default: .spool/cache beside the task file)",
    )
    .addOption(
      new Option(
        "--cache-max <size>",
        "Bound of the cache (500MB, 2GiB; default: 1GiB)",
      )
        .argParser(commanderParser(byteSize, "--cache-max")),
    )
    .option(
      "--show-results",
      "After the summary, print each target task's result (JSON, one line each)",
      false,
    )
    .action((patterns, flags) => handlers.run(taskFile(), patterns, flags));

  program
    .command("cache")
    .description("Show what the cache of the task file holds (info), or remove it (clean)")
    .addArgument(new Argument("<action>", "What to do").choices(["info", "clean"] as const))
    .option("--cache-dir <path>", "The cache folder (default: .spool/cache beside the task file)")
    .addOption(
      new Option("--cache-max <size>", "The bound to report (default: 1GiB)")
        .argParser(commanderParser(byteSize, "--cache-max")),
    )
    .action((action, flags) => handlers.cache(program.opts().file, action, flags));

  program
    .command("list")
    .description("List the tasks: name, kind, dependencies, permissions, description")
    .action(() => handlers.list(taskFile()));

  program
    .command("graph")
    .description("Print the task graph, edges from each dependency to its dependant")
    .argument("[tasks...]", "Only these tasks and what they depend on")
    .addOption(
      new Option("--format <format>", "Output format").choices(["dot", "mermaid"] as const).default(
        "dot" as const,
      ),
    )
    .action((patterns, flags) => handlers.graph(taskFile(), patterns, flags.format));

  program
    .command("worker")
    .description("Run the cpu tasks of 'spool run --nats' runs on this machine, until Ctrl-C")
    .requiredOption("--nats <url>", "The NATS JetStream server the runs use")
    .addOption(
      new Option("-w, --workers <n>", "How many jobs run at once (the local pool's size)")
        .default(navigator.hardwareConcurrency, "navigator.hardwareConcurrency")
        .argParser(commanderParser(positiveInt, "--workers")),
    )
    .addOption(
      new Option("--isolation <kind>", "Where task sandboxes live").choices(["process", "worker"])
        .default("process"),
    )
    .addOption(
      new Option(
        "--ack-wait <duration>",
        "How long a job may go without a heartbeat before NATS gives it to another worker",
      ).default(30_000, "30s").argParser(commanderParser(duration, "--ack-wait")),
    )
    .addOption(
      new Option(
        "--max-deliveries <n>",
        "Deliveries of one job (workers that died holding it) before it fails",
      ).default(3).argParser(commanderParser(positiveInt, "--max-deliveries")),
    )
    .addOption(
      new Option(
        "--prefetch <n>",
        "Work messages to take beyond one per slot (faster tiny tasks; long ones spread less evenly)",
      ).argParser((value) => commanderParser(positiveInt, "--prefetch")(value)),
    )
    .option("--nats-creds <file>", "NATS credentials file (.creds)")
    .option("--nats-ca <file>", "CA certificate to trust for a TLS NATS server")
    .option("-q, --quiet", "Log only errors, not a line per job", false)
    .addHelpText(
      "after",
      `
The worker loads the task file (-f) and checks that this process holds every permission its cpu
tasks declare (exit 2 with the flags to add otherwise). It runs a job only when the run's task
file hashes the same as its own, and refuses it otherwise, with an error that fails the task.`,
    )
    .action((flags) => handlers.worker(program.opts().file, flags));

  if (completing !== undefined) {
    const { printCandidates } = await import("./_completions.ts");
    await printCandidates(program, completing, await handlers.taskNames(completing));
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
    await program.parseAsync([...args], { from: "user" });
    return ExitCode.Ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version end with code 0; commander has already printed the error otherwise.
      return error.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
    }
    throw error;
  }
}
