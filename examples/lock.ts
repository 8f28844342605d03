/**
 * Shared state needs a lock: two workers add 1 to one counter in a
 * SharedArrayBuffer 200,000 times each. Without the lock they overwrite each
 * other's updates; with a SharedLock the total is exact.
 *
 *     deno run --allow-read=. examples/lock.ts
 *
 * @module
 */

import { executor, moduleFunction, SharedLock } from "../mod.ts";
import type * as work from "./_work.ts";

const addToCounter = moduleFunction<typeof work.addToCounter>(
  import.meta.resolve("./_work.ts"),
  "addToCounter",
);
const TIMES = 200_000;

await using pool = executor("cpu", { maxWorkers: 2 });
for (const lock of [undefined, new SharedLock()]) {
  const counter = new SharedArrayBuffer(4);
  const start = performance.now();
  const input = { counter, times: TIMES, lock: lock?.buffer };
  await Promise.all([pool.submit(addToCounter, input), pool.submit(addToCounter, input)]);
  const total = new Int32Array(counter)[0];
  console.log(
    `${lock ? "With a SharedLock" : "Without a lock  "}: ${total} of ${2 * TIMES} (${
      2 * TIMES - total
    } lost) in ${(performance.now() - start).toFixed(0)} ms`,
  );
}
