/**
 * Stacks as a user wants to read them: a failed task's stack in the human
 * output keeps the frames of the user's code and drops spool's own (and
 * Deno's internal ones), saying how many it dropped; `--verbose` keeps them
 * all. The JSON report always has the whole stack.
 *
 * @module
 */

import type { ReportedError, RunReport, TaskReport } from "../report/report.ts";
import type { Reporter } from "../report/reporter.ts";

/** Where spool's own modules live, whether from a clone, a URL or JSR. */
const SPOOL_LIB = new URL("../", import.meta.url).href;

/**
 * A stack without spool's frames.
 *
 * @param stack An error's stack.
 * @returns The stack with every frame in spool's `lib/` or in Deno's
 * internals removed, and a line saying how many were.
 */
export function shortStack(stack: string): string {
  const lines = stack.split("\n");
  const kept: string[] = [];
  let hidden = 0;
  for (const line of lines) {
    const frame = /^\s+at /.test(line);
    if (frame && (line.includes(SPOOL_LIB) || /\((ext|node):|at (ext|node):/.test(line))) {
      hidden++;
    } else {
      kept.push(line);
    }
  }
  if (hidden === 0) return stack;
  const indent = lines.find((line) => /^\s+at /.test(line))?.match(/^\s+/)?.[0] ?? "    ";
  return [
    ...kept,
    `${indent}(${hidden} spool frame${hidden === 1 ? "" : "s"} hidden: --verbose shows them)`,
  ]
    .join("\n");
}

function shortError(error: ReportedError | undefined): ReportedError | undefined {
  return error?.stack === undefined ? error : { ...error, stack: shortStack(error.stack) };
}

function shortTask(task: TaskReport): TaskReport {
  const short = { ...task };
  if (task.error !== undefined) short.error = shortError(task.error);
  if (task.attempts !== undefined) {
    short.attempts = task.attempts.map((attempt) =>
      attempt.error === undefined ? attempt : { ...attempt, error: shortError(attempt.error) }
    );
  }
  return short;
}

/**
 * A reporter that passes everything on to `reporter`, with spool's frames
 * taken out of the stacks of failed tasks and retried attempts.
 *
 * @param reporter The human reporter (plain or live).
 * @returns The wrapping reporter.
 */
export function withShortStacks(reporter: Reporter): Reporter {
  return {
    runStart: (plan) => reporter.runStart?.(plan),
    taskStart: (event) => reporter.taskStart?.(event),
    taskOutput: (event) => reporter.taskOutput?.(event),
    taskProgress: (event) => reporter.taskProgress?.(event),
    taskRetry: (event) => reporter.taskRetry?.({ ...event, error: shortError(event.error)! }),
    taskEnd: (task) => reporter.taskEnd?.(shortTask(task)),
    runEnd: (report: RunReport) =>
      reporter.runEnd?.({ ...report, tasks: report.tasks.map(shortTask) }),
  };
}
