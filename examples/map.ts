/**
 * `executor.map` over a list, results in input order: three 1-second tasks
 * on three slots take about 1 s (Python's `ThreadPoolExecutor.map`).
 *
 *     deno run examples/map.ts
 *
 * @module
 */

import { executor } from "../mod.ts";

async function task(n: number): Promise<string> {
  await new Promise((resolve) => setTimeout(resolve, 1000));
  return `Task ${n} finished`;
}

const start = performance.now();
{
  await using pool = executor("io", { maxWorkers: 3 });
  for await (const result of pool.map(task, [1, 2, 3])) console.log(result);
}
console.log(`Time: ${((performance.now() - start) / 1000).toFixed(2)} seconds`);
