// The Node + Piscina peer of bench/run.ts. Usage:
//   node piscina_bench.mjs <folder with node_modules/piscina> '<json config>'
// Prints one JSON object of figures on stdout.
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as work from "./piscina_worker.mjs";

const [dir, json] = process.argv.slice(2);
const config = JSON.parse(json);
const { Piscina } = createRequire(join(dir, "index.js"))("piscina");
const filename = fileURLToPath(new URL("./piscina_worker.mjs", import.meta.url));

const median = (xs) => xs.toSorted((a, b) => a - b)[Math.floor(xs.length / 2)];
const now = () => performance.now();

function calibrateNumber(ms) {
  work.sumSquaresNumber(1e6);
  let n = 1e6;
  for (;;) {
    const start = now();
    work.sumSquaresNumber(n);
    const took = now() - start;
    if (took > 20) return Math.round((n * ms) / took);
    n *= 4;
  }
}

function newPool() {
  return new Piscina({ filename, minThreads: config.workers, maxThreads: config.workers });
}

/**
 * Serial on this thread, then a fresh pool (its start included), like
 * spool's run(), then a pool started and warmed by one run.
 */
async function longTasks(name, n) {
  const all = (pool) =>
    Promise.all(Array.from({ length: config.tasks }, () => pool.run(n, { name })));
  const warmPool = newPool();
  await all(warmPool);
  const serial = [];
  const parallel = [];
  const warm = [];
  for (let r = 0; r < config.repeat; r++) {
    let start = now();
    for (let i = 0; i < config.tasks; i++) work[name](n);
    serial.push(now() - start);
    start = now();
    const pool = newPool();
    await all(pool);
    parallel.push(now() - start);
    await pool.destroy();
    start = now();
    await all(warmPool);
    warm.push(now() - start);
  }
  await warmPool.destroy();
  return { serialMs: median(serial), parallelMs: median(parallel), warmMs: median(warm) };
}

async function tinyItems() {
  const items = Array.from({ length: config.items }, (_, i) => i);
  const pool = newPool();
  await Promise.all(
    Array.from({ length: config.workers * 4 }, () => pool.run(0, { name: "noop" })),
  );
  const perItem = [];
  const batched = [];
  for (let r = 0; r < config.repeat; r++) {
    let start = now();
    await Promise.all(items.map((x) => pool.run(x, { name: "tiny" })));
    perItem.push(now() - start);
    start = now();
    // The same split spool makes before it has measured: four batches per worker.
    const size = Math.ceil(items.length / (config.workers * 4));
    const batches = [];
    for (let i = 0; i < items.length; i += size) batches.push(items.slice(i, i + size));
    const parts = await Promise.all(batches.map((b) => pool.run(b, { name: "tinyBatch" })));
    [].concat(...parts);
    batched.push(now() - start);
  }
  await pool.destroy();
  return { perItemMs: median(perItem), batchedMs: median(batched) };
}

async function roundTrip() {
  const pool = new Piscina({ filename, minThreads: 1, maxThreads: 1 });
  for (let i = 0; i < 500; i++) await pool.run(0, { name: "noop" });
  const times = [];
  for (let i = 0; i < config.roundTrips; i++) {
    const start = now();
    await pool.run(0, { name: "noop" });
    times.push(now() - start);
  }
  await pool.destroy();
  times.sort((a, b) => a - b);
  const at = (q) => times[Math.min(times.length - 1, Math.floor(times.length * q))] * 1000;
  return { p50Us: at(0.5), p99Us: at(0.99) };
}

const out = { node: process.version };
out.big = await longTasks("sumSquaresBig", config.bigN);
const numberN = calibrateNumber(config.numberMs);
out.number = { n: numberN, ...(await longTasks("sumSquaresNumber", numberN)) };
out.tiny = await tinyItems();
out.roundTrip = await roundTrip();
process.stdout.write(JSON.stringify(out));
