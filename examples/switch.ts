/**
 * The thread-versus-process switch is one word: the same script maps the
 * same function over the same inputs on the event loop ("io") or on workers
 * ("cpu"). Pick the word on the command line:
 *
 *     deno run --allow-read=. examples/switch.ts cpu   # cpu-bound: ~1x one computation
 *     deno run --allow-read=. examples/switch.ts io    # cpu-bound on one thread: ~2x
 *     deno run --allow-read=. examples/switch.ts cpu sleep   # io-bound: ~1 s either way
 *     deno run --allow-read=. examples/switch.ts io sleep
 *
 * As with Python's GIL, cpu-bound work gains nothing on the event loop, and
 * waiting work gains on both.
 *
 * @module
 */

import { executor, type ExecutorKind, moduleFunction } from "../mod.ts";
import type * as work from "./_work.ts";

const kind = (Deno.args[0] ?? "cpu") as ExecutorKind;
const sleeping = Deno.args[1] === "sleep";
const module = import.meta.resolve("./_work.ts");
const heavy = moduleFunction<typeof work.heavySquareCalculation>(module, "heavySquareCalculation");
const sleep = moduleFunction<typeof work.task>(module, "task");

const start = performance.now();
{
  await using pool = executor(kind, { maxWorkers: 2 });
  const results = sleeping
    ? await Array.fromAsync(pool.map(sleep, [1, 2]))
    : await Array.fromAsync(pool.map(heavy, [1, 2]));
  console.log(results.map(String).join("\n"));
}
const seconds = (performance.now() - start) / 1000;
console.log(
  `${kind} executor, ${sleeping ? "io-bound" : "cpu-bound"} work: ${seconds.toFixed(2)} seconds`,
);
