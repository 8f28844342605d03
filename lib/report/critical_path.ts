/**
 * The critical path of a finished run: the chain of tasks that bounded its
 * wall time. Making a task on it faster (or starting it sooner) shortens the
 * run; making any other task faster does not.
 *
 * @module
 */

import type { TaskReport } from "./report.ts";

/**
 * Finds the critical path: from the task that ended last, walk back to the
 * dependency that ended last (the one it was waiting for), and so on to a
 * task with no dependency that ran. A gap between a dependency's end and its
 * dependant's start is time the dependant spent waiting for a lane (a free
 * worker, an io slot).
 *
 * @param tasks The tasks of a run report; skipped tasks are ignored.
 * @param depsOf A task's dependencies by name.
 * @returns The names on the path, first to last; empty when no task ran.
 * @example A chain and a side task
 * ```ts
 * import { criticalPath, type TaskReport } from "@spool/spool";
 *
 * const task = (name: string, startMs: number, endMs: number): TaskReport => ({
 *   name, kind: "io", status: "ok", startMs, endMs, durationMs: endMs - startMs,
 * });
 * const tasks = [task("fetch", 0, 100), task("side", 0, 50), task("parse", 100, 180)];
 * const deps: Record<string, string[]> = { parse: ["fetch", "side"] };
 * console.log(criticalPath(tasks, (name) => deps[name] ?? [])); // ["fetch", "parse"]
 * ```
 */
export function criticalPath(
  tasks: readonly TaskReport[],
  depsOf: (name: string) => readonly string[],
): string[] {
  const ran = new Map<string, TaskReport>();
  let last: TaskReport | undefined;
  for (const task of tasks) {
    if (task.endMs === null) continue;
    ran.set(task.name, task);
    if (last === undefined || task.endMs > last.endMs!) last = task;
  }
  const path: string[] = [];
  const seen = new Set<string>();
  for (let current = last; current !== undefined && !seen.has(current.name);) {
    seen.add(current.name);
    path.push(current.name);
    let gate: TaskReport | undefined;
    for (const dep of depsOf(current.name)) {
      const report = ran.get(dep);
      if (report !== undefined && (gate === undefined || report.endMs! > gate.endMs!)) {
        gate = report;
      }
    }
    current = gate;
  }
  return path.reverse();
}
