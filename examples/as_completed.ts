/**
 * Python's `as_completed` and `wait` examples: handle downloads as they
 * finish, then wait at most 150 ms for a slow batch and see what is done.
 *
 *     deno run examples/as_completed.ts
 *
 * @module
 */

import { asCompleted, executor, wait } from "../mod.ts";

function fetchLater(ms: number): Promise<string> {
  return new Promise((resolve) => setTimeout(() => resolve(`page after ${ms} ms`), ms));
}

await using pool = executor("io", { maxWorkers: 4 });

const urls = [300, 100, 200];
const futures = urls.map((ms) => pool.submit(fetchLater, ms));
for await (const { future, index } of asCompleted(futures)) {
  console.log(`url ${index}: ${await future}`);
}

const batch = [50, 100, 400].map((ms) => pool.submit(fetchLater, ms));
const { done, notDone } = await wait(batch, { signal: AbortSignal.timeout(150) });
console.log(`${done.size} done, ${notDone.size} still running after 150 ms`);
