/**
 * The plain reporter: one line when a task starts and one when it ends, then
 * each failure with its error and the summary line. No cursor movement, so
 * it reads the same in a terminal, a pipe and a CI log.
 *
 * @module
 */

import type { Reporter } from "../reporter.ts";
import { formatMs, type RunReport, summaryLine, type TaskReport } from "../report.ts";
import { palette } from "./_ansi.ts";

/** Where reporters write: anything with a synchronous `write(text)`. */
export interface TextSink {
  /** Writes text as it is; the reporter adds the newlines. */
  write(text: string): void;
}

/** Options for {@linkcode plainReporter}. */
export interface PlainReporterOptions {
  /** Emit colour escape codes. Default `false`. */
  color?: boolean;
  /** Print only failures and the summary. Default `false`. */
  quiet?: boolean;
}

/**
 * Creates the plain, line-by-line reporter.
 *
 * @param out Where the lines go (the CLI passes stderr).
 * @param options Colour and quiet mode.
 * @returns A reporter for `run()`.
 */
export function plainReporter(out: TextSink, options: PlainReporterOptions = {}): Reporter {
  const c = palette(options.color ?? false);
  const quiet = options.quiet ?? false;
  const line = (text: string) => out.write(text + "\n");
  const where = (task: TaskReport) =>
    task.worker === undefined ? task.kind : `${task.kind}, worker ${task.worker}`;
  return {
    taskStart(event) {
      if (!quiet) line(`${c.dim("start")} ${event.name} ${c.dim(`(${event.kind})`)}`);
    },
    taskEnd(task) {
      if (task.status === "ok") {
        if (!quiet) {
          line(
            `${c.green("ok")}    ${task.name} ${c.dim(`(${where(task)})`)} ${
              formatMs(task.durationMs)
            }`,
          );
        }
      } else if (task.status === "failed") {
        line(
          `${c.red("FAIL")}  ${task.name} ${c.dim(`(${where(task)})`)} ${
            formatMs(task.durationMs)
          }: ${task.error?.message ?? "failed"}`,
        );
      } else if (!quiet) {
        line(`${c.yellow("skip")}  ${task.name}: ${task.reason ?? "skipped"}`);
      }
    },
    runEnd(report: RunReport) {
      const failures = report.tasks.filter((task) => task.status === "failed");
      for (const task of failures) {
        line("");
        line(c.red(`Task "${task.name}" failed:`));
        line(indent(task.error?.stack ?? task.error?.message ?? "unknown error"));
      }
      if (failures.length > 0 || !quiet) line("");
      if (report.cancelled !== undefined) line(c.yellow(`Cancelled: ${report.cancelled}`));
      line(c.bold(summaryLine(report)));
    },
  };
}

function indent(text: string): string {
  return text.split("\n").map((l) => `  ${l}`).join("\n");
}
