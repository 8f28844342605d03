/**
 * The `spool` command's no-op fast path. `spool run` of a graph where
 * nothing changed spends most of its time loading: the command line, then
 * the task file's top level (a thousand declarations). When the run is one
 * this module fully understands (the cache on, the plain reporter, quiet or
 * not, `--report json`, no flag that changes what happens), it reads the
 * record the last such run left (`lib/cache/_no_op_record.ts`), checks
 * every condition the record holds (the task file and its imports, config
 * files, the environment, every input and output, the run's identity), and
 * prints exactly what the normal path prints for a run where every task
 * came from the cache, without importing the task file, the scheduler or
 * commander. Anything else gives `undefined`: the normal path runs, and
 * writes a new record when it can.
 *
 * @module
 */

import type { RunFlags } from "./_run_command.ts";
import { quickParse } from "./_quick_args.ts";
import { cacheDirOf } from "../cache/_no_op.ts";
import { type NoOpRecord, readNoOpRecord } from "../cache/_no_op_record.ts";
import { TASK_NAME } from "../declare/_task_name.ts";

/** The task file when none is named: `DEFAULT_TASK_FILE` of `lib/declare/load.ts`, which this module does not load. */
export const FAST_DEFAULT_FILE = "tasks.ts";
/** `run()`'s default io concurrency, as `lib/cli/cli.ts` spells it. */
export const FAST_DEFAULT_CONCURRENCY = 64;

const WINDOWS = Deno.build.os === "windows";
const SEP = WINDOWS ? "\\" : "/";

/** Set (to anything but the empty string), the fast path is off: every run takes the normal path. */
export const FAST_PATH_OFF = "SPOOL_NO_FAST_PATH";

/**
 * Whether the fast path can stand for a `spool run` with these flags: the
 * process may read the environment (the record holds its digest), the
 * fast path is not off ({@linkcode FAST_PATH_OFF}), the cache may be on,
 * and nothing asked for changes what an all-cached run does or prints
 * beyond the summary and the JSON report.
 *
 * @param flags The parsed flags of `run`.
 * @returns `true` when a record can answer.
 */
export function answerable(flags: RunFlags & { envFile?: string }): boolean {
  if (Deno.permissions.querySync({ name: "env" }).state !== "granted") return false;
  if ((Deno.env.get(FAST_PATH_OFF) ?? "") !== "") return false;
  return flags.cache !== false && !flags.dryRun && !flags.watch && !flags.force &&
    !flags.showResults && flags.trace === undefined && flags.reportFile === undefined &&
    flags.nats === undefined && flags.natsCreds === undefined && flags.natsCa === undefined &&
    flags.workerTimeout === undefined && flags.envFile === undefined;
}

/** Where the fast path writes; the process's stdout and stderr by default. */
export interface FastSinks {
  /** Machine output: the JSON report. */
  stdout: { write(text: string): void };
  /** Human output: the reporter's lines. */
  stderr: { write(text: string): void };
}

/**
 * Answers a `spool` command line from the no-op record, when it can.
 *
 * @param args The command's arguments, without the program name.
 * @param sinks Where output goes.
 * @returns The exit code, or `undefined`: take the normal path.
 */
export async function answerNoOp(
  args: readonly string[],
  sinks: FastSinks = { stdout: fdSink(Deno.stdout), stderr: fdSink(Deno.stderr) },
): Promise<number | undefined> {
  let found: { record: NoOpRecord; flags: RunFlags } | undefined;
  try {
    found = await lookUp(args);
  } catch {
    // Whatever went wrong here (a working directory gone, say), the normal
    // path meets it too, and says so.
    return undefined;
  }
  if (found === undefined) return undefined;
  await printAllCached(found.record, found.flags, sinks);
  return 0;
}

/** The record that answers the command line, with its flags; `undefined` when none does. */
async function lookUp(
  args: readonly string[],
): Promise<{ record: NoOpRecord; flags: RunFlags } | undefined> {
  const dashes = args.indexOf("--");
  const spoolArgs = dashes < 0 ? args : args.slice(0, dashes);
  const taskArgs = dashes < 0 ? [] : args.slice(dashes + 1);
  const quick = quickParse(spoolArgs, {
    workers: navigator.hardwareConcurrency,
    concurrency: FAST_DEFAULT_CONCURRENCY,
    file: FAST_DEFAULT_FILE,
  });
  if (quick?.command !== "run") return undefined;
  const { flags, patterns } = quick;
  if (!answerable(flags) || patterns.some((pattern) => /[*?]/.test(pattern))) return undefined;
  const targets = [...new Set(patterns)];
  const module = fileUrl(quick.file);
  if (module === undefined) return undefined;
  // The permissions the normal path asks for before it uses the cache.
  // Querying never prompts.
  const dir = flags.cacheDir ?? cacheDirOf(module, undefined);
  const granted = (descriptor: Deno.PermissionDescriptor) =>
    Deno.permissions.querySync(descriptor).state === "granted";
  if (!granted({ name: "read", path: dir }) || !granted({ name: "write", path: dir })) {
    return undefined;
  }
  if (!flags.quiet && liveViewAllowed()) return undefined;
  const record = await readNoOpRecord(
    cacheDirOf(module, flags.cacheDir),
    module,
    targets,
    taskArgs,
  );
  // A name with a control character came from no task file: a record
  // written by something else (a task may write to the cache folder), whose
  // names must not reach the terminal.
  if (record === undefined || !record.tasks.every(([name]) => TASK_NAME.test(name))) {
    return undefined;
  }
  return { record, flags };
}

/**
 * What the normal path prints for a run whose every task came from the
 * cache: the reporter's lines in the order the run ends the tasks, its
 * summary, and the JSON report when asked.
 */
async function printAllCached(record: NoOpRecord, flags: RunFlags, sinks: FastSinks) {
  if (flags.report === "json") return await printWithReport(record, flags, sinks);
  const [{ allCachedText }, { roundMs }] = await Promise.all([
    import("../report/_all_cached.ts"),
    import("../report/_format.ts"),
  ]);
  const { tasks, order } = record;
  const { endMs, wallMs } = endTimes(order, tasks.length, roundMs);
  const text = allCachedText(
    tasks,
    endMs,
    order,
    wallMs,
    { color: !Deno.noColor && Deno.stderr.isTerminal(), quiet: flags.quiet ?? false },
  );
  sinks.stderr.write(text);
}

/** {@linkcode printAllCached} by the reporter and a run report, for the JSON report. */
async function printWithReport(record: NoOpRecord, flags: RunFlags, sinks: FastSinks) {
  const [{ plainReporterWithoutTimer }, { buildReport, reportToJson, roundMs }] = await Promise.all(
    [
      import("../report/plain.ts"),
      import("../report/report.ts"),
    ],
  );
  type TaskReport = Parameters<typeof buildReport>[0][number];
  const color = !Deno.noColor && Deno.stderr.isTerminal();
  const reporter = plainReporterWithoutTimer(sinks.stderr, { color, quiet: flags.quiet });
  const { tasks, order } = record;
  const results = JSON.parse(record.results) as Record<string, [unknown] | []>;
  const reports: TaskReport[] = new Array(tasks.length);
  const { endMs, wallMs } = endTimes(order, tasks.length, roundMs);
  for (const i of order) {
    const [name, kind, trusted] = tasks[i];
    const startMs = endMs[i];
    const report: TaskReport = trusted
      ? { name, kind, trusted: true, status: "cached", startMs, endMs: startMs, durationMs: 0 }
      : { name, kind, status: "cached", startMs, endMs: startMs, durationMs: 0 };
    report.result = results[name][0];
    report.why = "cached";
    reports[i] = report;
    reporter.taskEnd!(report);
  }
  const report = buildReport(reports, {
    wallMs,
    workers: tasks.some((task) => task[1] === "cpu") ? flags.workers : 0,
    concurrency: flags.concurrency ?? FAST_DEFAULT_CONCURRENCY,
    deps: new Map(tasks.map(([name, , , deps]) => [name, deps.map((dep) => tasks[dep][0])])),
  });
  reporter.runEnd!(report);
  sinks.stdout.write(reportToJson(report) + "\n");
}

/**
 * When each task ended, in ms from the first: now, as its turn comes in the
 * order the record holds, and never at the same moment as the one before
 * (a microsecond later, the timestamps' precision). A real run ends one
 * task after another; with equal times, "the task that ended last" on the
 * critical path would depend on the clock's resolution.
 */
function endTimes(
  order: readonly number[],
  count: number,
  roundMs: (ms: number) => number,
): { endMs: Float64Array; wallMs: number } {
  const endMs = new Float64Array(count);
  const t0 = performance.now();
  let previous = -1;
  for (const i of order) {
    const at = roundMs(performance.now() - t0);
    endMs[i] = previous = at > previous ? at : roundMs(previous + 0.001);
  }
  return { endMs, wallMs: Math.max(roundMs(performance.now() - t0), previous) };
}

/**
 * The `file:` URL of the task file as `loadTaskFile` makes it (Node's
 * `pathToFileURL` of the path against the working directory), without
 * loading `node:url`; `undefined` for a URL that is not a file, or a path
 * this does not spell the same way (a Windows share): the normal path then.
 */
function fileUrl(path: string): string | undefined {
  if (/^(https?|data):/.test(path)) return undefined;
  if (path.startsWith("file:")) return path;
  if (WINDOWS && /^[\\/][\\/]/.test(path)) return undefined;
  const absolute = WINDOWS ? /^[a-zA-Z]:[\\/]/.test(path) : path.startsWith("/");
  if (WINDOWS && !absolute && /^([a-zA-Z]:|[\\/])/.test(path)) return undefined;
  const full = absolute ? path : `${Deno.cwd()}${SEP}${path}`;
  const parts: string[] = [];
  for (const part of full.split(WINDOWS ? /[\\/]/ : "/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  let pathname = `/${parts.join("/")}`;
  if (!WINDOWS && full.endsWith("/")) pathname += "/";
  // What the pathname setter would not escape as pathToFileURL does.
  pathname = pathname.replaceAll("%", "%25").replaceAll("\n", "%0A").replaceAll("\r", "%0D")
    .replaceAll("\t", "%09");
  if (!WINDOWS) pathname = pathname.replaceAll("\\", "%5C");
  const url = new URL("file:///");
  url.pathname = pathname;
  return url.href;
}

/** As `lib/cli/_run_command.ts` decides whether to draw the live view. */
function liveViewAllowed(): boolean {
  if (!Deno.stderr.isTerminal() || Deno.noColor) return false;
  return !Deno.env.get("CI") && Deno.env.get("TERM") !== "dumb";
}

const encoder = new TextEncoder();
function fdSink(file: { writeSync(p: Uint8Array): number }): { write(text: string): void } {
  return {
    write(text) {
      const bytes = encoder.encode(text);
      let written = 0;
      while (written < bytes.length) written += file.writeSync(bytes.subarray(written));
    },
  };
}
