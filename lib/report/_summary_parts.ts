/**
 * The pieces of the end-of-run block that two printers share: the one that
 * reads a run report (`_summary.ts`, `report.ts`'s summary line) and the
 * no-op fast path's, which works from a record (`_all_cached.ts`). Apart,
 * and importing nothing but `_format.ts`, so that the fast path loads no
 * other report module.
 *
 * @module
 */

import type { Palette } from "./_ansi.ts";
import { formatMs } from "./_format.ts";

/** How many of the slowest tasks the summary lists. */
export const SLOWEST = 5;
/** A path longer than this shows its first and last steps only. */
const PATH_LINES = 10;
/** A wait before a task on the critical path is shown from this many ms. */
const WAIT_MS = 10;

/**
 * Rows as lines of aligned columns, the last column unpadded.
 *
 * @param rows The cells, the same number in each row.
 * @param indent What starts each line.
 * @returns The lines.
 */
export function columns(rows: string[][], indent = "  "): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  return rows.map((row) =>
    indent + row.map((cell, i) => cell.padEnd(i === row.length - 1 ? 0 : widths[i])).join("  ")
      .trimEnd()
  );
}

/**
 * What a step of the critical path says about the wait before it: nothing
 * below {@linkcode WAIT_MS}; for the first step, when it started; for the
 * others, what it waited for once its dependencies were done (a cpu task
 * for a worker; a sandboxed io task for a slot, or for its sandbox host to
 * start, one per permission set, started when first needed).
 *
 * @param wait The wait, in ms.
 * @param first Whether it is the path's first step.
 * @param task Its lane and whether it is trusted.
 * @returns The note, or `""`.
 */
export function waitNote(
  wait: number,
  first: boolean,
  task: { kind: string; trusted?: boolean },
): string {
  if (wait < WAIT_MS) return "";
  if (first) return `started at ${formatMs(wait)}`;
  const what = task.kind === "cpu"
    ? "a worker"
    : task.trusted
    ? "a slot"
    : "a slot or its sandbox host";
  return `waited ${formatMs(wait)} for ${what}`;
}

/**
 * The critical path's lines: a header, then a row a step (the middle of a
 * long path left out), each after the first led by an arrow.
 *
 * @param rows A row a step: name, lane, duration, {@linkcode waitNote}.
 * @param pathMs From the first step's start to the last step's end.
 * @param wallMs The run's wall time.
 * @param c Colours.
 * @returns The lines, a blank one first.
 */
export function pathBlock(rows: string[][], pathMs: number, wallMs: number, c: Palette): string[] {
  const shown = rows.length <= PATH_LINES ? rows : [
    ...rows.slice(0, PATH_LINES / 2),
    [`... ${rows.length - PATH_LINES} more`, "", "", ""],
    ...rows.slice(-PATH_LINES / 2),
  ];
  return [
    "",
    c.bold(
      `Critical path: ${formatMs(pathMs)} of ${formatMs(wallMs)} wall, ${rows.length} ${
        rows.length === 1 ? "task" : "tasks"
      }`,
    ),
    ...columns(shown, "     ").map((line, i) => i === 0 ? line : c.dim("  -> ") + line.slice(5)),
  ];
}

/**
 * Where the idle part of a run's wall time went: before the first task
 * started, after the last ended, or between tasks, whichever holds most.
 *
 * @param idleMs The wall time no task was running.
 * @param wallMs The wall time.
 * @param firstStartMs When the first task started.
 * @param lastEndMs When the last task ended.
 * @returns `start-up`, `wind-down` or `waits between tasks`.
 */
export function idleWhere(
  idleMs: number,
  wallMs: number,
  firstStartMs: number,
  lastEndMs: number,
): string {
  const startUp = Math.min(firstStartMs, idleMs);
  const windDown = Math.max(0, Math.min(wallMs - lastEndMs, idleMs - startUp));
  const between = idleMs - startUp - windDown;
  return startUp >= windDown && startUp >= between
    ? "start-up"
    : windDown >= between
    ? "wind-down"
    : "waits between tasks";
}
