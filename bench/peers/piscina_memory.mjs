// The Piscina side of bench/_memory.ts: a fresh Node process starts a pool of
// <threads> threads, keeps every thread busy once (so each has loaded its
// module), waits for things to settle and prints the process's resident size.
//   node piscina_memory.mjs <folder with node_modules/piscina> <threads>
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const [dir, count] = process.argv.slice(2);
const threads = Number(count);
const { Piscina } = createRequire(join(dir, "index.js"))("piscina");
const filename = fileURLToPath(new URL("./piscina_worker.mjs", import.meta.url));
const pool = new Piscina({ filename, minThreads: threads, maxThreads: threads });
await Promise.all(
  Array.from({ length: threads }, () => pool.run(50, { name: "spin" })),
);
await new Promise((resolve) => setTimeout(resolve, 300));
console.log(JSON.stringify({ rssMib: process.memoryUsage().rss / 2 ** 20 }));
await pool.destroy();
