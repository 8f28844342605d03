/**
 * The run report: what every task did and when, and the figures that show
 * what io/cpu scheduling bought (wall time, task time, speedup). Its JSON
 * form is what `spool run --report json` prints.
 *
 * @module
 */

import { criticalPath } from "./critical_path.ts";
import { formatMs, roundMs } from "./_format.ts";
import { idleWhere } from "./_summary_parts.ts";
import { safeJson } from "./_sanitize.ts";
import type { TaskKind } from "../declare/define.ts";

export { formatMs, roundMs };

/**
 * How a task ended: `ok` it passed; `failed` it threw, timed out or its
 * worker died (after any retries); `skipped` it never started (a dependency
 * failed or the run stopped first); `cancelled` it was running when the run
 * stopped (fail-fast or a signal) and did not finish; `cached` it did not
 * run: its inputs, code and dependencies were unchanged, and its result and
 * outputs came from the cache (see README, "Incremental runs").
 */
export type TaskStatus = "ok" | "cached" | "failed" | "skipped" | "cancelled";

/** An error as it appears in a report. */
export interface ReportedError {
  /** The error class, such as `"TypeError"`. */
  name: string;
  /** Its message. */
  message: string;
  /** Its stack, when there is one. */
  stack?: string;
}

/** One attempt of a task that has `retries`. */
export interface AttemptReport {
  /** When it started, in ms since the run started. */
  startMs: number;
  /** When it ended, in ms since the run started. */
  endMs: number;
  /** `endMs - startMs`. */
  durationMs: number;
  /** For a cpu task, the index of the worker that ran it. */
  worker?: number;
  /** Why it failed; absent for the attempt that passed. */
  error?: ReportedError;
}

/** One task in a run report. */
export interface TaskReport {
  /** The task's name. */
  name: string;
  /** Its lane. */
  kind: TaskKind;
  /** `true` for an io task that ran on the runner's thread, outside any sandbox. */
  trusted?: true;
  /** How it ended. */
  status: TaskStatus;
  /** When it started, in ms since the run started; `null` when skipped. */
  startMs: number | null;
  /** When it ended, in ms since the run started; `null` when skipped. */
  endMs: number | null;
  /** `endMs - startMs`; 0 when skipped. */
  durationMs: number;
  /** For a cpu task, the index of the worker that ran it. */
  worker?: number;
  /** For a sharded cpu task, the workers its chunks ran on. */
  workers?: number[];
  /**
   * For a sharded cpu task, the time its chunks spent in workers, summed:
   * what it would have taken on one worker. It counts in `busyMs` in place of
   * `durationMs`.
   */
  workMs?: number;
  /** Its result, for a task that passed. */
  result?: unknown;
  /** Why it failed. */
  error?: ReportedError;
  /** Why it was skipped or cancelled: the failed dependency, or what stopped the run. */
  reason?: string;
  /**
   * With the cache on: `cached`, or the first reason the task ran (`no
   * previous run`, `input src/a.ts changed`, `task code changed`, `--force`, ...).
   */
  why?: string;
  /**
   * For a task with `retries` that started: every attempt, in order. The
   * task's `startMs` is the first attempt's, its `endMs` the last one's.
   */
  attempts?: AttemptReport[];
  /** For a task with `retries` that started: how many attempts it took. */
  attemptCount?: number;
}

/** The whole run. */
export interface RunReport {
  /** `true` when every selected task passed. */
  ok: boolean;
  /** Wall-clock time of the run, in ms. */
  wallMs: number;
  /**
   * Sum of the task durations (a sharded task's summed chunk time), in ms:
   * what a serial run would have taken.
   */
  busyMs: number;
  /**
   * What running io and cpu tasks concurrently bought: the time tasks were
   * running, with each lane counted at most up to its capacity (the io
   * concurrency limit, the worker count) at any moment, divided by
   * `wallMs`. It never exceeds `concurrency + workers`, and time a task
   * spent waiting between attempts does not count. Equal to
   * `busyMs / wallMs` when no lane was over-counted.
   */
  speedup: number;
  /** Size of the worker pool. */
  workers: number;
  /**
   * For a run on remote workers (`--nats`): where each worker index ran,
   * `machine pid N slot M`.
   */
  workerNames?: string[];
  /** The io lane's concurrency limit. */
  concurrency: number;
  /** Every selected task, in the order they were planned. */
  tasks: TaskReport[];
  /** The result of every task that passed, by name. */
  results: Record<string, unknown>;
  /** Set when the run was cancelled: what cancelled it. */
  cancelled?: string;
  /**
   * The chain of tasks that bounded the wall time, first to last (see
   * {@linkcode criticalPath}); present when the run knew the dependencies.
   */
  criticalPath?: string[];
}

/**
 * Adds the summary figures to a list of task reports.
 *
 * @param tasks The task reports, in planned order.
 * @param options Wall time, pool size, io limit, the cancel reason, and
 * each task's dependencies.
 * @returns The complete report.
 */
export function buildReport(
  tasks: TaskReport[],
  options: {
    wallMs: number;
    workers: number;
    /** Where each worker index ran, for remote workers. */
    workerNames?: string[];
    concurrency: number;
    cancelled?: string;
    /** Each task's dependencies, for the critical path. */
    deps?: ReadonlyMap<string, readonly string[]>;
  },
): RunReport {
  const busyMs = tasks.reduce((sum, task) => sum + (task.workMs ?? task.durationMs), 0);
  const { wallMs, workers, concurrency } = options;
  // A lane cannot give more than its capacity: durations that overlap past
  // it (a task's end recorded after the next one started) count once.
  const laneMs = laneBusyMs(tasks, "io", concurrency, wallMs) +
    laneBusyMs(tasks, "cpu", Math.max(1, workers), wallMs);
  const report: RunReport = {
    ok: options.cancelled === undefined &&
      tasks.every((task) => task.status === "ok" || task.status === "cached"),
    wallMs: roundMs(wallMs),
    busyMs: roundMs(busyMs),
    speedup: wallMs > 0 ? Math.floor(laneMs / wallMs * 1000) / 1000 : 0,
    workers: options.workers,
    concurrency: options.concurrency,
    tasks,
    results: Object.fromEntries(
      tasks.filter((task) => task.status === "ok" || task.status === "cached").map((
        task,
      ) => [task.name, task.result]),
    ),
  };
  if (options.workerNames !== undefined) report.workerNames = options.workerNames;
  if (options.cancelled !== undefined) report.cancelled = options.cancelled;
  const { deps } = options;
  if (deps !== undefined) report.criticalPath = criticalPath(tasks, (name) => deps.get(name) ?? []);
  return report;
}

/**
 * The time one lane's tasks were running, counting at most `capacity` of
 * them at any moment: the area under min(running, capacity), from each
 * attempt's start to its end. A sharded task counts its chunks' time in
 * workers. At most `capacity * wallMs`.
 */
function laneBusyMs(
  tasks: readonly TaskReport[],
  kind: TaskKind,
  capacity: number,
  wallMs: number,
): number {
  const starts: number[] = [];
  const ends: number[] = [];
  let chunkMs = 0;
  for (const task of tasks) {
    if (task.kind !== kind || task.startMs === null || task.endMs === null) continue;
    if (task.workMs !== undefined) {
      chunkMs += task.workMs;
      continue;
    }
    for (const span of task.attempts ?? [task as { startMs: number; endMs: number }]) {
      starts.push(span.startMs);
      ends.push(span.endMs);
    }
  }
  const from = Float64Array.from(starts).sort();
  const to = Float64Array.from(ends).sort();
  let running = 0;
  let last = 0;
  let ms = 0;
  for (let i = 0, j = 0; j < to.length;) {
    // At one instant an end comes before a start: back-to-back tasks do not overlap.
    const start = i < from.length && from[i] < to[j];
    const at = start ? from[i++] : to[j++];
    ms += Math.min(running, capacity) * (at - last);
    running += start ? 1 : -1;
    last = at;
  }
  return Math.min(ms + chunkMs, capacity * wallMs);
}

/**
 * The report as JSON; results that JSON cannot hold (a `bigint`, a typed
 * array) are turned into strings and arrays rather than dropped, and C1
 * controls and bidi overrides in strings are escaped (`\u009b`), so that
 * printing it cannot drive a terminal.
 *
 * @param report A run report.
 * @returns Pretty-printed JSON.
 */
export function reportToJson(report: RunReport): string {
  // Each task entry carries its result; `results` would repeat them.
  const { results: _, ...rest } = report;
  // What tasks returned or threw may hold C1 controls, which JSON keeps raw.
  return safeJson(JSON.stringify(rest, (_key, value) => {
    if (typeof value === "bigint") return value.toString();
    if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
      return Array.from(
        value as unknown as ArrayLike<number | bigint>,
        (v) => typeof v === "bigint" ? v.toString() : v,
      );
    }
    if (value instanceof Map) return Object.fromEntries(value);
    if (value instanceof Set) return [...value];
    return value;
  }, 2));
}

/**
 * The one-line summary that ends every run's human output. The speedup is
 * given when it says something: below 1x, the line says where the wall time
 * went (no task running: spool's start-up, or waits between tasks), and when
 * tasks ran for less than half the wall time no figure is given at all.
 *
 * @param report A run report.
 * @returns For example `4 tasks: 4 ok in 2.05 s wall, 6.12 s of task time, speedup 2.99x`,
 * or `3 tasks: 3 ok in 410 ms wall, 12 ms of task time, no speedup figure (idle 97% of the
 * wall: start-up)`.
 */
export function summaryLine(report: RunReport): string {
  const counts = { ok: 0, cached: 0, failed: 0, skipped: 0, cancelled: 0 };
  for (const task of report.tasks) counts[task.status]++;
  const parts = [`${counts.ok} ok`];
  if (counts.cached > 0) parts.push(`${counts.cached} cached`);
  if (counts.failed > 0) parts.push(`${counts.failed} failed`);
  if (counts.skipped > 0) parts.push(`${counts.skipped} skipped`);
  if (counts.cancelled > 0) parts.push(`${counts.cancelled} cancelled`);
  const noun = report.tasks.length === 1 ? "task" : "tasks";
  return `${report.tasks.length} ${noun}: ${parts.join(", ")} in ${formatMs(report.wallMs)} wall, ${
    formatMs(report.busyMs)
  } of task time, ${speedupText(report)}`;
}

/** A speedup below this is explained; tasks covering less than half the wall get no figure. */
const LOW_SPEEDUP = 0.995;
const LOW_COVER = 0.5;

function speedupText(report: RunReport): string {
  const figure = `speedup ${report.speedup.toFixed(2)}x`;
  if (report.speedup >= LOW_SPEEDUP || report.wallMs <= 0) return figure;
  // Below 1x, some of the wall had no task running: say how much, and where.
  const { coveredMs, firstStartMs, lastEndMs } = coverage(report.tasks);
  const idleMs = Math.max(0, report.wallMs - coveredMs);
  const where = idleWhere(idleMs, report.wallMs, firstStartMs, lastEndMs);
  const idle = `idle ${Math.round(idleMs / report.wallMs * 100)}% of the wall: ${where}`;
  return coveredMs >= LOW_COVER * report.wallMs
    ? `${figure} (${idle})`
    : `no speedup figure (${idle})`;
}

/** How long at least one task was running, when the first started and the last ended. */
function coverage(
  tasks: readonly TaskReport[],
): { coveredMs: number; firstStartMs: number; lastEndMs: number } {
  const spans = tasks.flatMap((task) =>
    task.startMs === null || task.endMs === null
      ? []
      : (task.attempts ?? [task as { startMs: number; endMs: number }])
  ).sort((a, b) => a.startMs - b.startMs);
  let coveredMs = 0;
  let reach = -Infinity;
  for (const span of spans) {
    if (span.endMs <= reach) continue;
    coveredMs += span.endMs - Math.max(span.startMs, reach);
    reach = span.endMs;
  }
  return { coveredMs, firstStartMs: spans[0]?.startMs ?? 0, lastEndMs: Math.max(0, reach) };
}

/**
 * The report of a task that never started.
 *
 * @param task The task's name and lane.
 * @param reason Why it did not start.
 * @returns A `skipped` task report.
 */
export function skippedReport(task: { name: string; kind: TaskKind }, reason: string): TaskReport {
  return {
    name: task.name,
    kind: task.kind,
    status: "skipped",
    startMs: null,
    endMs: null,
    durationMs: 0,
    reason,
  };
}
