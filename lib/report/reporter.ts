/**
 * The reporter interface: the events a run emits as it goes, so that the
 * CLI's built-in reporters (live view, plain logs, trace) and an embedding
 * script's own renderer all see the same stream.
 *
 * @module
 */

import type { TaskKind } from "../declare/define.ts";
import type { Permissions } from "../declare/permissions.ts";
import type { ReportedError, RunReport, TaskReport } from "./report.ts";

/** One planned task. */
export interface PlannedTask {
  /** The task's name. */
  name: string;
  /** Its lane. */
  kind: TaskKind;
  /** Its dependencies. */
  deps: readonly string[];
  /** Its declared permissions. */
  permissions: Permissions;
  /** An io task that runs on the runner's thread, outside any sandbox. */
  trusted?: true;
  /** The command of a task made with `sh()`; its programs are its `run` permission. */
  command?: string;
  /**
   * Its step, from 1: one more than the highest step among its
   * dependencies. Tasks of step 1 start at once; tasks of one step can run
   * at the same time.
   */
  step: number;
  /** With the cache on (`--dry-run`, the default): `cached`, or why the task would run. */
  why?: string;
}

/** The plan a run starts with. */
export interface RunPlan {
  /** Tasks to run, in dependency order. */
  tasks: PlannedTask[];
  /** Size of the worker pool (0 when no cpu task is planned). */
  workers: number;
  /** The io lane's concurrency limit. */
  concurrency: number;
}

/** A task started. */
export interface TaskStartEvent {
  /** The task's name. */
  name: string;
  /** Its lane. */
  kind: TaskKind;
  /** When it started, in ms since the run started. */
  startMs: number;
  /** For a cpu task handed to one worker, that worker's index. */
  worker?: number;
}

/** A task printed something with `console`, on the main thread or in a worker. */
export interface TaskOutputEvent {
  /** The task's name. */
  name: string;
  /** `stdout` for `console.log` and friends, `stderr` for `console.error` and `console.warn`. */
  stream: "stdout" | "stderr";
  /** One line, without its newline. */
  text: string;
}

/** An attempt of a task with `retries` failed; another follows after a wait. */
export interface TaskRetryEvent {
  /** The task's name. */
  name: string;
  /** Its lane. */
  kind: TaskKind;
  /** The number of the attempt to come, from 2. */
  attempt: number;
  /** How many attempts the task may take in all. */
  maxAttempts: number;
  /** The wait before it, in ms. */
  delayMs: number;
  /** Why the attempt failed. */
  error: ReportedError;
}

/** A task made progress: a sharded cpu task finished some of its items. */
export interface TaskProgressEvent {
  /** The task's name. */
  name: string;
  /** How many units are done. */
  done: number;
  /** How many there are in all. */
  total: number;
  /** The worker that reported it, when the work runs on several. */
  worker?: number;
}

/**
 * Receives a run's events, in order: `runStart`, then per task `taskStart`,
 * any `taskOutput` and `taskProgress`, and `taskEnd` (a skipped task gets
 * only `taskEnd`), and last `runEnd`. Every method is optional and is called
 * synchronously; an error thrown by a reporter is ignored rather than
 * failing the run.
 *
 * Giving a reporter a `taskOutput` method is what turns on output capture:
 * without one, task output goes to the console as it would outside spool.
 *
 * @example Collect progress in a script
 * ```ts
 * import { defineTasks, io, type Reporter, run } from "@spool/spool";
 *
 * const tasks = defineTasks({
 *   hello: io({ run: () => console.log("hello from a task") }),
 * });
 * const lines: string[] = [];
 * const reporter: Reporter = {
 *   taskStart: (event) => lines.push(`start ${event.name}`),
 *   taskOutput: (event) => lines.push(`${event.name}: ${event.text}`),
 *   taskEnd: (task) => lines.push(`${task.status} ${task.name}`),
 * };
 * // Every sandbox imports this module again: run only when it is the program.
 * if (import.meta.main) {
 *   await run(tasks, { reporter });
 *   console.log(lines); // ["start hello", "hello: hello from a task", "ok hello"]
 * }
 * ```
 */
export interface Reporter {
  /** The run is about to start. */
  runStart?(plan: RunPlan): void;
  /** A task started. */
  taskStart?(event: TaskStartEvent): void;
  /** A task printed a line. */
  taskOutput?(event: TaskOutputEvent): void;
  /** A task reported progress. */
  taskProgress?(event: TaskProgressEvent): void;
  /**
   * An attempt of a task with `retries` failed and the task will be tried
   * again after `delayMs`.
   */
  taskRetry?(event: TaskRetryEvent): void;
  /** A task ended: passed, failed, skipped or cancelled. */
  taskEnd?(task: TaskReport): void;
  /** The run ended; the report is final. */
  runEnd?(report: RunReport): void;
}

/**
 * One reporter that passes every event to each of `reporters`, in order.
 * An error in one does not keep the event from the others.
 *
 * @param reporters The reporters; `undefined` entries are skipped.
 * @returns The combined reporter. It has `taskOutput` only when one of them
 * has, so that output capture stays off when nobody shows output.
 * @example Log to a file as well as to the terminal
 * ```ts
 * import { combineReporters, plainReporter } from "@spool/spool";
 *
 * let log = "";
 * const reporter = combineReporters(
 *   plainReporter({ write: (text) => log += text }),
 *   { runEnd: (report) => console.log(report.ok) },
 * );
 * ```
 */
export function combineReporters(...reporters: (Reporter | undefined)[]): Reporter {
  const present = reporters.filter((r): r is Reporter => r !== undefined);
  const each = <K extends keyof Reporter>(key: K) =>
  (
    event: Parameters<NonNullable<Reporter[K]>>[0],
  ): void => {
    for (const reporter of present) {
      try {
        (reporter[key] as ((event: unknown) => void) | undefined)?.call(reporter, event);
      } catch {
        // One broken reporter must not silence the others.
      }
    }
  };
  const combined: Reporter = {
    runStart: each("runStart"),
    taskStart: each("taskStart"),
    taskProgress: each("taskProgress"),
    taskRetry: each("taskRetry"),
    taskEnd: each("taskEnd"),
    runEnd: each("runEnd"),
  };
  if (present.some((reporter) => reporter.taskOutput !== undefined)) {
    combined.taskOutput = each("taskOutput");
  }
  return combined;
}
