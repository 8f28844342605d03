/**
 * The block that ends a run's human output, shared by the plain and live
 * reporters: the slowest tasks, the critical path, each failure with its
 * error, and last the one-line summary (wall time, task time, speedup).
 * What tasks supplied (output, errors, stacks) is passed through
 * `safeText`, so no escape sequence of theirs reaches the terminal.
 *
 * @module
 */

import { formatMs, type RunReport, summaryLine, type TaskReport } from "./report.ts";
import type { Palette } from "./_ansi.ts";
import { safeLine, safeText } from "./_sanitize.ts";
import { columns, pathBlock, SLOWEST, waitNote } from "./_summary_parts.ts";

export { SLOWEST };

/**
 * Where a task ran, for people: `io`, `cpu, worker 1`.
 *
 * @param task A task report.
 * @returns Its lane, and its worker for a cpu task.
 */
export function lane(task: TaskReport): string {
  return task.worker === undefined ? task.kind : `${task.kind}, worker ${task.worker}`;
}

/**
 * The end-of-run block.
 *
 * @param report The final report.
 * @param c Colours.
 * @param output The buffered output of each failed task, shown with its error.
 * @returns The lines, the summary line last.
 */
export function summaryBlock(
  report: RunReport,
  c: Palette,
  output: ReadonlyMap<string, readonly string[]> = new Map(),
): string[] {
  const lines: string[] = [];
  const ran = report.tasks.filter((task) => task.startMs !== null && task.endMs !== null);
  // With one or two tasks, the task lines above already say it all.
  if (ran.length > 2) {
    lines.push("", c.bold("Slowest tasks:"));
    const slowest = [...ran].sort((a, b) => b.durationMs - a.durationMs).slice(0, SLOWEST);
    lines.push(
      ...columns(slowest.map((task) => [task.name, lane(task), formatMs(task.durationMs)])),
    );
  }
  if (ran.length > 1) lines.push(...pathLines(report, c));
  if ((report.workerNames?.length ?? 0) > 0) lines.push(...placeLines(report.workerNames!, c));
  for (const task of report.tasks.filter((task) => task.status === "failed")) {
    lines.push("", c.red(`Task "${task.name}" failed:`));
    for (const line of output.get(task.name) ?? []) lines.push(`  ${c.dim("|")} ${safeLine(line)}`);
    lines.push(indent(safeText(task.error?.stack ?? task.error?.message ?? "unknown error")));
  }
  lines.push("");
  if (report.cancelled !== undefined) {
    lines.push(c.yellow(`Cancelled: ${safeLine(report.cancelled)}`));
  }
  lines.push(c.bold(summaryLine(report)));
  return lines;
}

/** Where a remote run's worker indexes ran: `worker 0: build-3 pid 4121 slot 0`. */
function placeLines(names: readonly string[], c: Palette): string[] {
  const shown = names.slice(0, PLACES).map((name, i) => `  worker ${i}: ${safeLine(name)}`);
  if (names.length > PLACES) shown.push(`  ... ${names.length - PLACES} more (see the report)`);
  return ["", c.bold(`Remote workers (${names.length} slots):`), ...shown];
}

const PLACES = 16;

function pathLines(report: RunReport, c: Palette): string[] {
  const byName = new Map(report.tasks.map((task) => [task.name, task]));
  const path = (report.criticalPath ?? []).map((name) => byName.get(name)!);
  if (path.length === 0) return [];
  const pathMs = path.at(-1)!.endMs! - path[0].startMs!;
  const rows = path.map((task, i) => [
    task.name,
    lane(task),
    formatMs(task.durationMs),
    waitNote(task.startMs! - (i === 0 ? 0 : path[i - 1].endMs!), i === 0, task),
  ]);
  return pathBlock(rows, pathMs, report.wallMs, c);
}

function indent(text: string): string {
  return text.split("\n").map((line) => `  ${line}`).join("\n");
}
