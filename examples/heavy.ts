/**
 * Two heavy computations on two workers take about half the serial time
 * (Python's processes in the background texts). Each is
 * `sum(i * i for i in range(10**7))`, computed exactly with BigInt.
 *
 *     deno run --allow-read=. examples/heavy.ts
 *
 * @module
 */

import { executor, moduleFunction } from "../mod.ts";
import { heavySquareCalculation as onThisThread } from "./_work.ts";
import type * as work from "./_work.ts";

const module = import.meta.resolve("./_work.ts");
const heavySquareCalculation = moduleFunction<typeof work.heavySquareCalculation>(
  module,
  "heavySquareCalculation",
);
const ready = moduleFunction<typeof work.ready>(module, "ready");

let start = performance.now();
const serialResults = [onThisThread(1), onThisThread(2)];
const serial = (performance.now() - start) / 1000;
console.log(`Serial: ${serial.toFixed(2)} seconds\n`);

let parallelResults: bigint[];
let startUp: number;
let parallel: number;
{
  await using pool = executor("cpu", { maxWorkers: 2 });
  // Processes cost start-up time: start both workers first, to time it apart.
  start = performance.now();
  await Promise.all([pool.submit(ready), pool.submit(ready)]);
  startUp = (performance.now() - start) / 1000;
  start = performance.now();
  parallelResults = await Promise.all([
    pool.submit(heavySquareCalculation, 1),
    pool.submit(heavySquareCalculation, 2),
  ]);
  parallel = (performance.now() - start) / 1000;
}
console.log(
  `Two workers: ${parallel.toFixed(2)} seconds (+ ${startUp.toFixed(2)} s to start them)`,
);
console.log(
  `Results agree: ${parallelResults.join() === serialResults.join()} (${parallelResults[0]})`,
);
console.log(`Parallel / serial: ${(parallel / serial).toFixed(2)}`);
