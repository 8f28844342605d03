/**
 * A run as a Chrome Trace Event file (the JSON format that Perfetto and
 * chrome://tracing open): one track per worker showing its occupancy, one
 * track per io task so that overlapping io shows as stacked bars, a track
 * for the run as a whole and one for its critical path.
 *
 * @module
 */

import type { AttemptReport, RunReport, TaskReport } from "./report.ts";

/** One event of the Trace Event format. */
export interface TraceEvent {
  /** The slice's label: a task name, or the metadata kind for `ph: "M"`. */
  name: string;
  /** `X`: a complete event with a duration. `M`: metadata (track names and order). */
  ph: "X" | "M";
  /** Start, in µs since the run started. */
  ts: number;
  /** Duration in µs, for `X`. */
  dur?: number;
  /** Process id: 1 the run, 2 the cpu lane, 3 the io lane. */
  pid: number;
  /** Thread id: the track inside its process. */
  tid: number;
  /** Category: `run`, `io` or `cpu`. */
  cat?: string;
  /** Details shown when the slice is selected; for metadata, its value. */
  args?: Record<string, unknown>;
}

/** A trace file's content. */
export interface ChromeTrace {
  /** The events. */
  traceEvents: TraceEvent[];
  /** Show times in ms. */
  displayTimeUnit: "ms";
  /** The run's figures, shown by chrome://tracing's metadata view. */
  otherData: Record<string, string | number | boolean>;
}

const RUN = 1;
const CPU = 2;
const IO = 3;

/**
 * Turns a run report into a Chrome trace. Tasks that never ran (skipped)
 * have no slice; a sharded cpu task, which runs on several workers at once,
 * gets a track of its own in the cpu lane.
 *
 * @param report A run report.
 * @returns The trace; write it with `JSON.stringify`.
 * @example Write a trace after a run
 * ```ts
 * import { chromeTrace, defineTasks, io, run } from "@spool/spool";
 *
 * const tasks = defineTasks({ a: io({ run: () => 1 }), b: io({ run: () => 2 }) });
 * // Every sandbox imports this module again: run only when it is the program.
 * if (import.meta.main) {
 *   const trace = chromeTrace(await run(tasks));
 *   console.log(trace.traceEvents.filter((event) => event.ph === "X").length); // 4: run, path, a, b
 *   await Deno.writeTextFile("trace.json", JSON.stringify(trace));
 * }
 * ```
 */
export function chromeTrace(report: RunReport): ChromeTrace {
  const events: TraceEvent[] = [];
  const us = (ms: number) => Math.round(ms * 1000);
  const meta = (pid: number, tid: number, name: string, args: Record<string, unknown>) =>
    events.push({ name, ph: "M", ts: 0, pid, tid, args });
  const slice = (pid: number, tid: number, task: TaskReport, attempt?: number) => {
    const part = attempt === undefined ? task : task.attempts![attempt];
    events.push({
      name: attempt === undefined ? task.name : `${task.name} (attempt ${attempt + 1})`,
      cat: task.kind,
      ph: "X",
      ts: us(part.startMs!),
      dur: us(part.endMs! - part.startMs!),
      pid,
      tid,
      args: attempt === undefined ? taskArgs(task) : attemptArgs(task.attempts![attempt]),
    });
  };

  meta(RUN, 0, "process_name", { name: "spool run" });
  meta(RUN, 0, "process_sort_index", { sort_index: RUN });
  meta(RUN, 1, "thread_name", { name: "run" });
  meta(RUN, 2, "thread_name", { name: "critical path" });
  events.push({
    name: report.ok ? "run" : report.cancelled !== undefined ? "run (cancelled)" : "run (failed)",
    cat: "run",
    ph: "X",
    ts: 0,
    dur: us(report.wallMs),
    pid: RUN,
    tid: 1,
    args: { wallMs: report.wallMs, busyMs: report.busyMs, speedup: report.speedup },
  });
  const byName = new Map(report.tasks.map((task) => [task.name, task]));
  for (const name of report.criticalPath ?? []) {
    const task = byName.get(name);
    if (task?.startMs != null) slice(RUN, 2, task);
  }

  const ran = report.tasks
    .filter((task) => task.startMs !== null && task.endMs !== null)
    .sort((a, b) => a.startMs! - b.startMs!);
  if (report.workers > 0) {
    meta(CPU, 0, "process_name", { name: `cpu lane (${report.workers} workers)` });
    meta(CPU, 0, "process_sort_index", { sort_index: CPU });
    // Every worker gets a track, busy or not: idle time is what occupancy shows.
    for (let worker = 0; worker < report.workers; worker++) {
      const place = report.workerNames?.[worker];
      meta(CPU, worker + 1, "thread_name", {
        name: place === undefined ? `worker ${worker}` : `worker ${worker} (${place})`,
      });
      meta(CPU, worker + 1, "thread_sort_index", { sort_index: worker });
    }
  }
  let spread = 0;
  let io = 0;
  for (const task of ran) {
    if (task.kind === "cpu" && task.attempts !== undefined && task.attempts.length > 1) {
      // Each attempt may have run on another worker.
      task.attempts.forEach((attempt, i) => {
        if (attempt.worker !== undefined) slice(CPU, attempt.worker + 1, task, i);
      });
    } else if (task.kind === "cpu" && task.worker !== undefined) {
      slice(CPU, task.worker + 1, task);
    } else if (task.kind === "cpu") {
      const tid = 1000 + spread++;
      meta(CPU, tid, "thread_name", { name: `${task.name} (all workers)` });
      meta(CPU, tid, "thread_sort_index", { sort_index: tid });
      slice(CPU, tid, task);
    } else {
      if (io === 0) {
        meta(IO, 0, "process_name", { name: `io lane (concurrency ${report.concurrency})` });
        meta(IO, 0, "process_sort_index", { sort_index: IO });
      }
      const tid = ++io;
      meta(IO, tid, "thread_name", { name: task.name });
      meta(IO, tid, "thread_sort_index", { sort_index: tid });
      slice(IO, tid, task);
    }
  }
  return {
    traceEvents: events,
    displayTimeUnit: "ms",
    otherData: {
      tool: "spool",
      ok: report.ok,
      wallMs: report.wallMs,
      busyMs: report.busyMs,
      speedup: report.speedup,
      workers: report.workers,
      concurrency: report.concurrency,
    },
  };
}

function attemptArgs(attempt: AttemptReport): Record<string, unknown> {
  const args: Record<string, unknown> = {
    status: attempt.error === undefined ? "ok" : "failed",
    durationMs: attempt.durationMs,
  };
  if (attempt.worker !== undefined) args.worker = attempt.worker;
  if (attempt.error !== undefined) args.error = `${attempt.error.name}: ${attempt.error.message}`;
  return args;
}

function taskArgs(task: TaskReport): Record<string, unknown> {
  const args: Record<string, unknown> = { status: task.status, durationMs: task.durationMs };
  if (task.worker !== undefined) args.worker = task.worker;
  if (task.error !== undefined) args.error = `${task.error.name}: ${task.error.message}`;
  if (task.reason !== undefined) args.reason = task.reason;
  if (task.attemptCount !== undefined) args.attempts = task.attemptCount;
  return args;
}
