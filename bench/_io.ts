/**
 * The io lane's and the planner's figures: the limiter's cost per task
 * against p-limit and bare `Promise.all`, 10,000 concurrent 100 ms waits
 * through run(), and planning a 10,000-task graph.
 *
 * @module
 */

import pLimit from "p-limit";
import { defineTasks, io, IoLane, run, type TaskDefinition } from "../mod.ts";
import { median } from "./_stats.ts";

/** Time per trivial io task, in µs. */
export interface LimiterFigures {
  /** `Promise.all` over the bare functions: no limiter at all. */
  bareUs: number;
  /** Through spool's IoLane. */
  spoolUs: number;
  /** Through p-limit. */
  pLimitUs: number;
}

const trivial = (i: number) => Promise.resolve(i);

/**
 * Trivial io tasks through each limiter at spool's default concurrency,
 * interleaved, medians kept.
 *
 * @param count How many tasks per measurement.
 * @param concurrency The limit for both limiters.
 * @param repeat Repetitions.
 * @returns Time per task for each.
 */
export async function limiter(
  count: number,
  concurrency: number,
  repeat: number,
): Promise<LimiterFigures> {
  const ids = Array.from({ length: count }, (_, i) => i);
  const runs = {
    bare: () => Promise.all(ids.map((i) => trivial(i))),
    spool: () => {
      const lane = new IoLane(concurrency);
      return Promise.all(ids.map((i) => lane.run(() => trivial(i))));
    },
    pLimit: () => {
      const limit = pLimit(concurrency);
      return Promise.all(ids.map((i) => limit(() => trivial(i))));
    },
  };
  const samples: Record<keyof typeof runs, number[]> = { bare: [], spool: [], pLimit: [] };
  // The first rounds warm the code up and are dropped.
  for (let r = 0; r < repeat + 2; r++) {
    for (
      const [name, fn] of Object.entries(runs) as [keyof typeof runs, () => Promise<unknown>][]
    ) {
      const start = performance.now();
      await fn();
      if (r >= 2) samples[name].push(((performance.now() - start) * 1000) / count);
    }
  }
  return {
    bareUs: median(samples.bare),
    spoolUs: median(samples.spool),
    pLimitUs: median(samples.pLimit),
  };
}

function sleepTasks(count: number, ms: number) {
  const specs: Record<string, TaskDefinition<unknown, never>> = {};
  for (let i = 0; i < count; i++) {
    // Trusted: this row measures the runner's own io path; the sandbox's cost
    // has its own rows (bench/_sandbox.ts).
    specs[`wait${i}`] = io({
      trusted: true,
      run: ({ signal }) =>
        new Promise<number>((resolve, reject) => {
          const timer = setTimeout(() => resolve(i), ms);
          signal.addEventListener("abort", () => {
            clearTimeout(timer);
            reject(signal.reason);
          }, { once: true });
        }),
    });
  }
  return defineTasks(specs);
}

/**
 * Many io tasks that each wait, all at once, through run().
 *
 * @param count How many tasks.
 * @param ms How long each waits.
 * @param repeat Repetitions; the median is kept.
 * @returns The median wall time of the run, in ms.
 */
export async function concurrentWaits(count: number, ms: number, repeat: number): Promise<number> {
  const tasks = sleepTasks(count, ms);
  const samples: number[] = [];
  for (let r = 0; r < repeat; r++) {
    const start = performance.now();
    const report = await run(tasks, { concurrency: count });
    samples.push(performance.now() - start);
    const failed = report.tasks.find((task) => task.status !== "ok");
    if (failed !== undefined) {
      throw new Error(`The waiting tasks failed: ${failed.name}: ${failed.error?.message}`);
    }
  }
  return median(samples);
}

/**
 * A seeded random graph: each task depends on up to three earlier ones.
 */
function graphSpecs(count: number): Record<string, TaskDefinition<unknown, never>> {
  let seed = 42;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const specs: Record<string, TaskDefinition<unknown, never>> = {};
  for (let i = 0; i < count; i++) {
    const deps = new Set<string>();
    for (let d = 0; d < 3 && i > 0; d++) deps.add(`t${Math.floor(random() * i)}`);
    specs[`t${i}`] = io({ trusted: true, deps: [...deps], run: () => i });
  }
  return specs;
}

/**
 * Planning: validating a task set of `count` tasks (names, deps, cycles,
 * permissions) and selecting every task in dependency order.
 *
 * @param count How many tasks.
 * @param repeat Repetitions; the median is kept.
 * @returns The median time, in ms.
 */
export function planGraph(count: number, repeat: number): number {
  const specs = graphSpecs(count);
  const samples: number[] = [];
  for (let r = 0; r < repeat + 1; r++) {
    const start = performance.now();
    const set = defineTasks(specs);
    const order = set.graph.select([]);
    const took = performance.now() - start;
    if (order.length !== count) throw new Error("The plan lost tasks");
    if (r > 0) samples.push(took);
  }
  return median(samples);
}
