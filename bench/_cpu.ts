/**
 * The cpu lane's figures: eight long tasks serially on one thread against
 * spool's run() (a fresh pool, its start included, as a user gets it), and
 * 200,000 tiny items through a sharded task on a warm pool.
 *
 * @module
 */

import { run, WorkerPool } from "../mod.ts";
import tasks, { LONG_TASKS, type Params, setParams } from "./_tasks.ts";
import { median, timeMedian } from "./_stats.ts";
import { sumSquaresBig, sumSquaresNumber } from "./_work.ts";

/** Serial and spool time of one long-task workload. */
export interface SpoolLongFigures {
  /** Every task one after another on the main thread, in ms. */
  serialMs: number;
  /** `run()` of the tasks on a fresh pool, its start included, in ms. */
  parallelMs: number;
  /** `run()` of the tasks on a pool already started and warmed by one run, in ms. */
  warmMs: number;
}

const MODULE = new URL("./_tasks.ts", import.meta.url).href;

function names(prefix: string): string[] {
  return Array.from({ length: LONG_TASKS }, (_, i) => `${prefix}${i}`);
}

/**
 * Long cpu tasks: serial on this thread against spool on a fresh pool and on
 * a warm one, repetitions interleaved so that a noisy moment hits all three.
 *
 * @param kind Which workload.
 * @param n Its loop length.
 * @param workers Pool size.
 * @param repeat Repetitions; the medians are kept.
 * @returns Serial and spool times.
 */
export async function longTasks(
  kind: "big" | "number",
  n: number,
  workers: number,
  repeat: number,
): Promise<SpoolLongFigures> {
  setParams({ bigN: n, numberN: n, items: [] });
  const body = kind === "big" ? sumSquaresBig : sumSquaresNumber;
  const targets = names(kind);
  const check = (report: Awaited<ReturnType<typeof run>>) => {
    if (!report.ok) throw new Error(`The ${kind} tasks failed: ${JSON.stringify(report.tasks)}`);
  };
  using pool = new WorkerPool(MODULE, { size: workers });
  check(await run(tasks, { targets, cpuLane: pool, module: MODULE }));
  const serial: number[] = [];
  const parallel: number[] = [];
  const warm: number[] = [];
  for (let r = 0; r < repeat; r++) {
    let start = performance.now();
    for (let i = 0; i < LONG_TASKS; i++) body(n);
    serial.push(performance.now() - start);
    start = performance.now();
    check(await run(tasks, { targets, workers, module: MODULE }));
    parallel.push(performance.now() - start);
    start = performance.now();
    check(await run(tasks, { targets, cpuLane: pool, module: MODULE }));
    warm.push(performance.now() - start);
  }
  return { serialMs: median(serial), parallelMs: median(parallel), warmMs: median(warm) };
}

/**
 * Tiny items through a sharded task on a warm pool.
 *
 * @param count How many items.
 * @param workers Pool size.
 * @param repeat Repetitions; the median is kept.
 * @returns The median time, in ms.
 */
export async function tinyItems(count: number, workers: number, repeat: number): Promise<number> {
  const params: Params = { bigN: 0, numberN: 0, items: Array.from({ length: count }, (_, i) => i) };
  setParams(params);
  using pool = new WorkerPool(MODULE, { size: workers });
  const options = { targets: ["tiny"], cpuLane: pool, module: MODULE };
  await run(tasks, options); // warm: workers started, code optimised
  return await timeMedian(repeat, async () => {
    const report = await run(tasks, options);
    const results = report.results.tiny as number[];
    if (results.length !== count || results[count - 1] !== (count - 1) * 2 + 1) {
      throw new Error("The tiny items came back wrong");
    }
  });
}
