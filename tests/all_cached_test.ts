/**
 * The no-op fast path's summary (`lib/report/_all_cached.ts`) is the plain
 * reporter's, character for character: over many graphs and end times,
 * quiet or not, in colour or not, it prints what `plainReporter` prints
 * for the same tasks' reports and `buildReport`'s report of them.
 */

import assert from "node:assert/strict";
import { allCachedText, cachedEndOrder, type CachedTask } from "../lib/report/_all_cached.ts";
import { plainReporter } from "../lib/report/plain.ts";
import { buildReport, roundMs, type TaskReport } from "../lib/report/report.ts";

/** A small deterministic random source (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random plan: each task may depend on tasks before it. */
function plan(n: number, next: () => number): CachedTask[] {
  return Array.from({ length: n }, (_, i) => {
    const deps: number[] = [];
    for (let k = 0; k < 3; k++) if (i > 0 && next() < 0.5) deps.push(Math.floor(next() * i));
    return [
      `task-${i}${next() < 0.2 ? "-with-a-longer-name" : ""}`,
      next() < 0.3 ? "cpu" : "io",
      next() < 0.3 ? 1 : 0,
      [...new Set(deps)],
    ] as const;
  });
}

/** What the plain reporter prints for the same run, by way of a run report. */
function reporterText(
  tasks: readonly CachedTask[],
  endMs: readonly number[],
  order: readonly number[],
  wallMs: number,
  options: { color: boolean; quiet: boolean },
): string {
  let text = "";
  const reporter = plainReporter({ write: (chunk) => text += chunk }, options);
  const reports: TaskReport[] = new Array(tasks.length);
  for (const i of order) {
    const [name, kind, trusted] = tasks[i];
    const at = endMs[i];
    const report: TaskReport = trusted === 1
      ? { name, kind, trusted: true, status: "cached", startMs: at, endMs: at, durationMs: 0 }
      : { name, kind, status: "cached", startMs: at, endMs: at, durationMs: 0 };
    reports[i] = report;
    reporter.taskEnd!(report);
  }
  const report = buildReport(reports, {
    wallMs,
    workers: 2,
    concurrency: 64,
    deps: new Map(tasks.map(([name, , , deps]) => [name, deps.map((dep) => tasks[dep][0])])),
  });
  reporter.runEnd!(report);
  return text;
}

Deno.test("The all-cached summary prints what the plain reporter prints for the same run", () => {
  let cases = 0;
  for (let seed = 1; seed <= 120; seed++) {
    const next = random(seed);
    const n = [0, 1, 2, 3, 5, 7, 12, 30][seed % 8];
    const tasks = plan(n, next);
    const order = cachedEndOrder(tasks);
    assert.equal(order.length, n, "every task ends once");
    // Ties, sub-millisecond steps, and waits long enough to be shown.
    const steps = [0, 0.0004, 0.3, 1, 9.999, 10, 10.5, 12.5];
    const endMs: number[] = new Array(n);
    let at = next() < 0.2 ? 15 : 0;
    for (const i of order) {
      at = roundMs(at + steps[Math.floor(next() * steps.length)]);
      endMs[i] = at;
    }
    const wallMs = seed % 11 === 0 && at === 0 ? 0 : roundMs(at + [0, 0.2, 6, 40][seed % 4]);
    for (const color of [false, true]) {
      for (const quiet of [false, true]) {
        const options = { color, quiet };
        assert.equal(
          allCachedText(tasks, endMs, order, wallMs, options),
          reporterText(tasks, endMs, order, wallMs, options),
          `seed ${seed}, ${n} tasks, ${JSON.stringify(options)}`,
        );
        cases++;
      }
    }
  }
  assert.equal(cases, 480);
});

Deno.test("Cached tasks end cpu first, each lane in the plan's order, each after its dependencies", () => {
  const tasks: CachedTask[] = [
    ["fetch", "io", 0, []],
    ["parse", "cpu", 0, [0]],
    ["lint", "io", 1, []],
    ["hash", "cpu", 0, []],
    ["pack", "io", 0, [1, 3]],
  ];
  // hash (the ready cpu task), fetch (io, first in the plan), parse (cpu,
  // ready once fetch ended), lint (io, waiting since the start), pack (last
  // of its dependencies ended).
  assert.deepEqual(cachedEndOrder(tasks).map((i) => tasks[i][0]), [
    "hash",
    "fetch",
    "parse",
    "lint",
    "pack",
  ]);
});
