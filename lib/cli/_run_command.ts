/**
 * The \`spool run\` command once its flags are parsed: the plan for
 * \`--dry-run\`, else the run with its reporters, signals, report file, trace
 * and results. Loaded only when \`run\` is the command, so that \`--help\`,
 * \`list\` and \`graph\` do not load the scheduler, the reporters or the trace.
 *
 * @module
 */

import { dirname } from "node:path";
import { writeTextFileAtomic, writeTextFileAtomicSync } from "../report/_atomic_write.ts";
import { RunRecord } from "../report/_run_record.ts";
import { safeLine } from "../report/_sanitize.ts";
import { CancelledError, UsageError } from "../errors.ts";
import type { LoadedTaskFile } from "../declare/load.ts";
import type { TaskSet } from "../declare/define.ts";
import type { WorkerPool } from "../pool/worker_pool.ts";
import { reportToJson, type RunReport } from "../report/report.ts";
import { formatPlan, planRun, planToJson } from "../run/plan.ts";
import { combineReporters } from "../report/reporter.ts";
import { chromeTrace } from "../report/trace.ts";
import { plainReporter, type TextSink } from "../report/plain.ts";
import { run } from "../run/scheduler.ts";
import { ExitCode } from "./_exit_code.ts";
import { withShortStacks } from "./_short_stacks.ts";
import type { CacheOptions } from "../cache/task_cache.ts";
import { cacheDirOf } from "../cache/_no_op.ts";
import { answerable } from "./_no_op_fast.ts";

/** The flags of \`spool run\`, as parsed. */
export interface RunFlags {
  workers: number;
  concurrency?: number;
  keepGoing: boolean;
  /** Where sandboxes live (`--isolation`). */
  isolation?: "process" | "worker";
  /** Retire a cpu worker after this many tasks (`--max-tasks-per-worker`). */
  maxTasksPerWorker?: number;
  timeout?: number;
  reportFile?: string;
  quiet: boolean;
  trace?: string;
  dryRun: boolean;
  report?: "json";
  showResults: boolean;
  /** Keep spool's own frames in the stacks of the human output. */
  verbose?: boolean;
  /** Run cpu tasks on `spool worker` processes through this NATS server. */
  nats?: string;
  /** A NATS `.creds` file. */
  natsCreds?: string;
  /** A CA certificate file to trust for TLS to NATS. */
  natsCa?: string;
  /** With `--nats`: how long cpu jobs wait for a first worker before they fail, in ms. */
  workerTimeout?: number;
  /**
   * `--cache`: the cache is required (true); `--no-cache`: off (false);
   * neither: on when the process may use the cache folder.
   */
  cache?: boolean;
  /** Run every task and refresh the cache (`--force`). */
  force?: boolean;
  /** The cache folder (`--cache-dir`). */
  cacheDir?: string;
  /** The cache's bound in bytes (`--cache-max`). */
  cacheMax?: number;
  /** Run again whenever an input of the selected tasks changes (`--watch`). */
  watch?: boolean;
}

/** Where the command writes, and what can stop it. */
export interface RunContext {
  stdout: TextSink;
  stderr: TextSink;
  color: boolean;
  /** The caller passed its own stdout: no colour, whatever the terminal. */
  customStdout: boolean;
  /** The caller passed its own stderr: no live view. */
  customStderr: boolean;
  signal?: AbortSignal;
  handleSignals?: boolean;
  /** What followed \`--\`: every task's \`context.args\`. */
  taskArgs: readonly string[];
  /** The sandboxes' pool, kept warm across the runs of \`--watch\`. */
  pool?: WorkerPool;
}

/**
 * Plans or runs the targets of a loaded task file.
 *
 * @param loaded The task file.
 * @param targets The tasks named, patterns expanded.
 * @param flags The parsed flags of \`run\`.
 * @param context Output sinks and cancellation.
 * @returns The exit code.
 */
export async function runCommand(
  loaded: LoadedTaskFile,
  targets: string[],
  flags: RunFlags,
  context: RunContext,
): Promise<number> {
  const { stdout, stderr, color } = context;
  let exitCode: number = ExitCode.Ok;
  const cache = cacheOptions(loaded, flags, stderr);
  if (flags.dryRun) {
    const plan = planRun(loaded.tasks, {
      targets,
      workers: flags.workers,
      concurrency: flags.concurrency,
    });
    if (cache !== undefined) {
      const { planWhys } = await import("../cache/plan_whys.ts");
      const whys = await planWhys(loaded.tasks, plan, loaded.url, context.taskArgs, cache);
      for (const task of plan.tasks) task.why = whys.get(task.name);
    }
    stdout.write(
      flags.report === "json"
        ? JSON.stringify(planToJson(plan), null, 2) + "\n"
        : formatPlan(plan, { color: !context.customStdout && stdoutIsColorTerminal() }),
    );
    return ExitCode.Ok;
  }
  if (flags.watch) {
    const { watchRuns } = await import("./_watch.ts");
    const { watchRoots } = await import("../cache/watch_roots.ts");
    const selected = loaded.tasks.graph.select(targets).map((name) =>
      loaded.tasks.tasks.get(name)!
    );
    const { WorkerPool } = await import("../pool/worker_pool.ts");
    // One pool for every run: a re-run finds its sandboxes started, and they
    // hold the code this process loaded (the task file is not re-imported).
    using pool = new WorkerPool(loaded.url, {
      size: flags.workers,
      isolation: flags.isolation,
      maxTasksPerWorker: flags.maxTasksPerWorker,
      onStrayOutput: (_stream, text) => console.error(text),
    });
    return await watchRuns(
      (signal) =>
        runCommand(loaded, targets, { ...flags, watch: false, cache: true }, {
          ...context,
          signal,
          handleSignals: false,
          pool,
        }),
      watchRoots(selected, loaded.url, cache!.dir!),
      { stderr, signal: context.signal },
    );
  }
  if (flags.trace !== undefined) assertTraceWritable(flags.trace);
  const live = flags.quiet || context.customStderr || !liveViewAllowed()
    ? undefined
    : await (await import("../report/live.ts")).liveReporter({ color });
  const human = live ?? stderr;
  // A run the command's no-op fast path could stand for leaves its record.
  if (cache !== undefined && live === undefined && answerable(flags)) {
    cache.commandTargets = targets;
  }
  const { reportFile } = flags;
  if (reportFile !== undefined) await assertWritableDir(reportFile);
  const record = new RunRecord();
  const controller = new AbortController();
  const forward = () => controller.abort(context.signal!.reason);
  context.signal?.addEventListener("abort", forward, { once: true });
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
  if (flags.workerTimeout !== undefined && flags.nats === undefined) {
    throw new UsageError(
      "Cannot use --worker-timeout without --nats: it limits how long cpu tasks wait for a spool worker, run with --nats <url> or without --worker-timeout",
    );
  }
  const cpuLane = flags.nats === undefined ? undefined : await (await import(
    "../remote/nats_lane.ts"
  )).NatsLane.connect(flags.nats, {
    module: loaded.url,
    credsFile: flags.natsCreds,
    tlsCaFile: flags.natsCa,
    workerTimeoutMs: flags.workerTimeout,
    onNoWorker: (waitedMs, waiting) =>
      stderr.write(
        `warning: Still no spool worker on ${flags.nats} after ${
          Math.round(waitedMs / 1000)
        }s: ${waiting} cpu job(s) wait in its queue (spool worker --nats ${flags.nats}; --worker-timeout fails them instead)\n`,
      ),
  });
  if (cpuLane?.workersAnswered === 0) {
    stderr.write(
      `warning: No spool worker answered on ${flags.nats}: cpu tasks wait in its queue until one starts (spool worker --nats ${flags.nats})${
        flags.workerTimeout === undefined ? "" : `, or fail after --worker-timeout`
      }\n`,
    );
  }
  const stopSignals = (context.handleSignals ?? true)
    ? listenForSignals(controller, human, (code) => exitCode = code, exitNow)
    : () => {};
  try {
    const report = await run(loaded.tasks, {
      targets,
      workers: flags.workers,
      concurrency: flags.concurrency,
      keepGoing: flags.keepGoing,
      isolation: flags.isolation,
      maxTasksPerWorker: flags.maxTasksPerWorker,
      timeout: flags.timeout,
      cache,
      module: loaded.url,
      args: context.taskArgs,
      signal: controller.signal,
      cpuLane,
      pool: context.pool,
      reporter: combineReporters(
        flags.verbose
          ? live ?? plainReporter(stderr, { color, quiet: flags.quiet })
          : withShortStacks(live ?? plainReporter(stderr, { color, quiet: flags.quiet })),
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
    await cpuLane?.close();
    live?.close();
    stopSignals();
    context.signal?.removeEventListener("abort", forward);
  }
  return exitCode;
}

/**
 * The cache options of the run. The cache is on by default: off with
 * `--no-cache`, and off without a word when the task file is not on disk or
 * the process may not read and write the cache folder (the demo's grants),
 * unless a cache flag asked for it: then that is a usage error. Querying
 * permissions never prompts.
 */
function cacheOptions(
  loaded: LoadedTaskFile,
  flags: RunFlags,
  stderr: TextSink,
): CacheOptions | undefined {
  const asked = flags.cache === true || flags.watch === true ||
    flags.cacheDir !== undefined || flags.cacheMax !== undefined;
  if (flags.cache === false) {
    if (flags.watch === true) {
      throw new UsageError(
        "Cannot watch without the cache: --watch re-runs only what a change reaches, drop --no-cache",
      );
    }
    return undefined;
  }
  if (!loaded.url.startsWith("file:")) {
    if (!asked) return undefined;
    throw new UsageError(
      `Cannot cache the tasks of "${loaded.url}": only a task file on disk has a cache, run without --cache`,
    );
  }
  // Not task_cache.ts's defaultCacheDir: a no-op run does not load that module.
  const dir = flags.cacheDir ?? cacheDirOf(loaded.url, undefined);
  for (const name of ["read", "write"] as const) {
    if (Deno.permissions.querySync({ name, path: dir }).state !== "granted") {
      if (!asked) return undefined;
      throw new UsageError(
        `Cannot use the cache in "${dir}": it needs ${name} access, run again with --allow-${name}=${dir} (or with --no-cache)`,
      );
    }
  }
  return {
    dir,
    maxBytes: flags.cacheMax,
    force: flags.force ?? false,
    onWarning: (message) => stderr.write(`warning: ${safeLine(message)}\n`),
  };
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

const MAX_RESULT = 200;

/** The results of the target tasks (every task when none was named), one line each. */
function formatResults(report: RunReport, tasks: TaskSet, targets: readonly string[]): string {
  const names = targets.length === 0 ? [...tasks.tasks.keys()] : targets;
  const lines: string[] = [];
  for (const name of names) {
    const task = report.tasks.find((t) => t.name === name);
    if (task?.status !== "ok" && task?.status !== "cached") continue;
    let value: string;
    try {
      value = JSON.stringify(task.result) ?? String(task.result);
    } catch {
      value = String(task.result);
    }
    // One line each: a long result is cut, the report has it whole.
    if (value.length > MAX_RESULT) {
      value = `${value.slice(0, MAX_RESULT)}... (${value.length} characters: see --report json)`;
    }
    lines.push(`result ${safeLine(name)}: ${safeLine(value)}\n`);
  }
  return lines.join("");
}
