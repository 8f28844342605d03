/**
 * What the plain reporter prints for a run whose every task came from the
 * cache, worked out without building a run report: the `spool` command's
 * no-op fast path prints it for a thousand tasks in a process that has
 * loaded nothing else, where a report's thousand objects, its maps and the
 * summary's sorts cost more than the check that the run is a no-op. It
 * prints the same text, character for character, as `plainReporter` fed
 * the same tasks' reports and `buildReport`'s report of them
 * (`tests/all_cached_test.ts` compares the two over many graphs and times).
 *
 * In such a run every task's duration is 0 ms, so the slowest tasks are the
 * first five in the plan's order, no lane is ever busy, and the summary
 * never has a speedup figure.
 *
 * @module
 */

import { palette } from "./_ansi.ts";
import { formatMs } from "./_format.ts";
import { columns, idleWhere, pathBlock, SLOWEST, waitNote } from "./_summary_parts.ts";

/**
 * A task of the run, as a no-op record holds it: its name, its lane,
 * whether it is trusted (1) or not (0), and its dependencies as indexes.
 */
export type CachedTask = readonly [
  name: string,
  kind: "io" | "cpu",
  trusted: 0 | 1,
  deps: readonly number[],
];

/**
 * The order a run ends its tasks in when every one comes from the cache
 * (`lib/run/_execution.ts`): ready cpu tasks before ready io tasks, each
 * queue first in first out, a task ready once its last dependency ended.
 *
 * @param tasks The planned tasks, in the plan's order; their dependencies
 * among them.
 * @returns Indexes, the first to end first.
 */
export function cachedEndOrder(tasks: readonly CachedTask[]): number[] {
  const waiting = tasks.map(([, , , deps]) => deps.length);
  const dependants: number[][] = tasks.map(() => []);
  tasks.forEach(([, , , deps], i) => deps.forEach((dep) => dependants[dep].push(i)));
  const ready = { cpu: [] as number[], io: [] as number[] };
  const heads = { cpu: 0, io: 0 };
  tasks.forEach(([, kind], i) => {
    if (waiting[i] === 0) ready[kind].push(i);
  });
  const order: number[] = [];
  for (;;) {
    const kind = heads.cpu < ready.cpu.length ? "cpu" : heads.io < ready.io.length ? "io" : "";
    if (kind === "") return order;
    const i = ready[kind][heads[kind]++];
    order.push(i);
    for (const next of dependants[i]) if (--waiting[next] === 0) ready[tasks[next][1]].push(next);
  }
}

/**
 * The text, lines ended by newlines.
 *
 * @param tasks The planned tasks, in the plan's order.
 * @param endMs Each task's end (its start too), in ms from the run's start, rounded as `roundMs` does.
 * @param ended The order the tasks ended in, as indexes: {@linkcode cachedEndOrder}.
 * @param wallMs The run's wall time, rounded as `roundMs` does.
 * @param options Colour, and quiet mode (no line per task).
 * @returns What the plain reporter writes.
 */
export function allCachedText(
  tasks: readonly CachedTask[],
  endMs: ArrayLike<number>,
  ended: readonly number[],
  wallMs: number,
  options: { color: boolean; quiet: boolean },
): string {
  const c = palette(options.color);
  const lines: string[] = [];
  if (!options.quiet) {
    for (const i of ended) {
      lines.push(`${c.dim("cache")} ${tasks[i][0]} ${c.dim(`(${tasks[i][1]})`)}`);
    }
  }
  const n = tasks.length;
  if (n > 2) {
    lines.push("", c.bold("Slowest tasks:"));
    const slowest = tasks.slice(0, SLOWEST).map(([name, kind]) => [name, kind, "0 ms"]);
    lines.push(...columns(slowest));
  }
  if (n > 1) lines.push(...pathLines(tasks, endMs, wallMs, c));
  lines.push("");
  lines.push(c.bold(summaryLine(n, endMs, wallMs)));
  return lines.map((line) => `${line}\n`).join("");
}

/** The critical path's lines, as `_summary.ts` prints them. */
function pathLines(
  tasks: readonly CachedTask[],
  endMs: ArrayLike<number>,
  wallMs: number,
  c: ReturnType<typeof palette>,
): string[] {
  // The task that ended last (the first of equals), then back through the
  // dependency that ended last: `criticalPath`.
  let last = 0;
  for (let i = 1; i < tasks.length; i++) if (endMs[i] > endMs[last]) last = i;
  const path: number[] = [];
  const seen = new Set<number>();
  for (let current = last; current >= 0 && !seen.has(current);) {
    seen.add(current);
    path.push(current);
    let gate = -1;
    for (const dep of tasks[current][3]) if (gate < 0 || endMs[dep] > endMs[gate]) gate = dep;
    current = gate;
  }
  path.reverse();
  const pathMs = endMs[path.at(-1)!] - endMs[path[0]];
  const rows = path.map((i, step) => {
    const [name, kind, trusted] = tasks[i];
    const wait = endMs[i] - (step === 0 ? 0 : endMs[path[step - 1]]);
    return [name, kind, "0 ms", waitNote(wait, step === 0, { kind, trusted: trusted === 1 })];
  });
  return pathBlock(rows, pathMs, wallMs, c);
}

/** `summaryLine` for tasks all cached: no task time, so no speedup figure. */
function summaryLine(n: number, endMs: ArrayLike<number>, wallMs: number): string {
  const counts = n > 0 ? `0 ok, ${n} cached` : "0 ok";
  const head = `${n} ${n === 1 ? "task" : "tasks"}: ${counts} in ${formatMs(wallMs)} wall, ${
    formatMs(0)
  } of task time, `;
  if (wallMs <= 0) return `${head}speedup 0.00x`;
  // No task covers any of the wall: the idle time is all of it, split into
  // before the first start, after the last end, and between.
  let first = n > 0 ? endMs[0] : 0;
  let lastEnd = n > 0 ? endMs[0] : 0;
  for (let i = 1; i < n; i++) {
    if (endMs[i] < first) first = endMs[i];
    if (endMs[i] > lastEnd) lastEnd = endMs[i];
  }
  const where = idleWhere(wallMs, wallMs, first, Math.max(0, lastEnd));
  return `${head}no speedup figure (idle 100% of the wall: ${where})`;
}
