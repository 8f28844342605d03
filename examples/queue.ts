/**
 * Data crosses between workers through a queue (Python's
 * `multiprocessing.Queue`): the main thread sends numbers on a bounded
 * channel, two workers square them and send the results back on another.
 *
 *     deno run --allow-read=. examples/queue.ts
 *
 * @module
 */

import { Channel, executor, moduleFunction, WorkerChannel } from "../mod.ts";
import type * as work from "./_work.ts";

const squareWorker = moduleFunction<typeof work.squareWorker>(
  import.meta.resolve("./_work.ts"),
  "squareWorker",
);

const start = performance.now();
await using pool = executor("cpu", { maxWorkers: 2 });
const jobs = new Channel<number>(4);
const results = new Channel<string>(4);
const workers = [1, 2].map(() => {
  const ports = { jobs: WorkerChannel.connect(jobs), results: WorkerChannel.connect(results) };
  return pool.submit(squareWorker, ports, { transfer: [ports.jobs, ports.results] });
});
// Close the results once both workers are done, which ends the loop below.
Promise.all(workers).finally(() => results.close());

const producer = (async () => {
  for (let n = 1; n <= 10; n++) await jobs.send(n);
  jobs.close();
})();
for await (const line of results) console.log(line);
await producer;
const counts = await Promise.all(workers);
console.log(`Worker 1 squared ${counts[0]}, worker 2 squared ${counts[1]}`);
console.log(`Time: ${((performance.now() - start) / 1000).toFixed(2)} seconds`);
