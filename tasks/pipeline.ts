/**
 * A mixed pipeline, the demo: four downloads (io, 1 s each, overlapping on
 * the event loop), each followed by a heavy sum of squares (cpu, in the
 * worker pool, two at a time on two cores), then a summary (io).
 *
 * Run serially this would take about 4 × 1 s + 4 × the compute time; spool
 * overlaps the downloads and spreads the computing over the workers, and the
 * summary line shows the speedup that bought.
 *
 * ```sh
 * deno task demo
 * deno run --no-prompt --allow-read=. --allow-net=127.0.0.1 tasks/pipeline.ts
 * ```
 *
 * @module
 */

import { cpu, defineTasks, io, main } from "../mod.ts";
import { download } from "./_slow_server.ts";

const DATASETS = ["alpha", "beta", "gamma", "delta"];
const DELAY_MS = 1000;
/** Sized so that one sum takes a few hundred ms on a typical core. */
const N = 800_000_000;

/** Sum of i*i for i below n, mod 2^32 so it stays exact in a Number. */
function sumOfSquares(n: number, seed: number): number {
  let total = seed;
  for (let i = 0; i < n; i++) total = (total + Math.imul(i, i)) >>> 0;
  return total;
}

const tasks: Parameters<typeof defineTasks>[0] = {};
for (const name of DATASETS) {
  tasks[`fetch:${name}`] = io({
    description: `Download dataset ${name} (the local server waits ${DELAY_MS} ms)`,
    permissions: { net: ["127.0.0.1"] },
    run: ({ signal }) => download(name, DELAY_MS, signal),
  });
  tasks[`crunch:${name}`] = cpu({
    description: `Sum of squares below ${N.toLocaleString("en")} seeded by ${name}, in a worker`,
    deps: [`fetch:${name}`],
    run: ({ deps }) => sumOfSquares(N, (deps[`fetch:${name}`] as { size: number }).size),
  });
}
tasks.summary = io({
  description: "Collect every checksum",
  deps: DATASETS.map((name) => `crunch:${name}`),
  run: ({ deps }) => deps,
});

export default defineTasks(tasks);

if (import.meta.main) await main(import.meta.url);
