/**
 * One memory sample for bench/_memory.ts, in a fresh process so that the
 * resident size is this figure's alone:
 *
 *     deno run -A bench/_memory_child.ts <spool|spool-mod|empty> <workers>
 *
 * `spool`: a pool of in-process workers (`isolation: "worker"`) on a task
 * file that imports the light entry (`declare.ts`); `spool-mod`: the same on
 * a task file that imports `mod.ts`; `empty`: bare Web Workers that load
 * nothing. Each worker is kept busy once, so that every one has started and
 * loaded its code; then the process waits a moment and prints its resident
 * size as JSON.
 *
 * @module
 */

import { WorkerPool } from "../mod.ts";

const [kind, count] = Deno.args;
const workers = Number(count);
const settle = () => new Promise((resolve) => setTimeout(resolve, 300));
const rss = () => Deno.memoryUsage().rss / 2 ** 20;

if (kind === "empty") {
  const url = `data:application/javascript,${encodeURIComponent("postMessage(0)")}`;
  const started: Worker[] = [];
  for (let i = 0; i < workers; i++) {
    const worker = new Worker(url, { type: "module" });
    await new Promise((resolve) => worker.onmessage = resolve);
    started.push(worker);
  }
  await settle();
  console.log(JSON.stringify({ rssMib: rss() }));
  for (const worker of started) worker.terminate();
} else {
  const file = kind === "spool" ? "./_memory_tasks.ts" : "./_memory_tasks_full.ts";
  using pool = new WorkerPool(new URL(file, import.meta.url).href, {
    size: workers,
    isolation: "worker",
  });
  const done = await Promise.all(Array.from({ length: workers }, () => pool.run("spin", {})));
  const used = new Set(done.map((d) => d.worker));
  if (used.size !== workers) {
    throw new Error(`Only ${used.size} of ${workers} workers took a task`);
  }
  await settle();
  console.log(JSON.stringify({ rssMib: rss() }));
}
