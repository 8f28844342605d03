// The Node + Piscina peer of bench/run.ts, as a server so that each
// repetition can run spool, Piscina and Python in turn. Usage:
//   node piscina_server.mjs <folder with node_modules/piscina> '<json config>'
// Then one JSON command per line on stdin; one JSON answer per line on stdout.
import { createRequire } from "node:module";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import * as work from "./piscina_worker.mjs";

const [dir, json] = process.argv.slice(2);
const config = JSON.parse(json);
const { Piscina } = createRequire(join(dir, "index.js"))("piscina");
const filename = fileURLToPath(new URL("./piscina_worker.mjs", import.meta.url));
const now = () => performance.now();

function newPool(threads = config.workers) {
  return new Piscina({ filename, minThreads: threads, maxThreads: threads });
}

function calibrate(ms) {
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

const range = (count) => Array.from({ length: count }, (_, i) => i);
const batches = (items, size) => {
  const out = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
};
const check = (results, count) => {
  if (results.length !== count || results[count - 1] !== (count - 1) * 2 + 1) {
    throw new Error("The tiny items came back wrong");
  }
};

// Started and warmed once; every "warm" figure runs on it.
const warm = newPool();
await Promise.all(range(config.workers * 4).map(() => warm.run(0, { name: "noop" })));

async function batched(pool, items, size) {
  const parts = await Promise.all(
    batches(items, size).map((b) => pool.run(b, { name: "tinyBatch" })),
  );
  return [].concat(...parts);
}

const ops = {
  calibrate: ({ ms }) => ({ n: calibrate(ms) }),
  async long({ name, n, tasks, mode }) {
    const start = now();
    if (mode === "serial") {
      for (let i = 0; i < tasks; i++) work[name](n);
    } else if (mode === "fresh") {
      const pool = newPool();
      await Promise.all(range(tasks).map(() => pool.run(n, { name })));
      await pool.destroy();
    } else {
      await Promise.all(range(tasks).map(() => warm.run(n, { name })));
    }
    return { ms: now() - start };
  },
  async tiny({ count, mode, size }) {
    const items = range(count);
    const start = now();
    const results = mode === "perItem"
      ? await Promise.all(items.map((x) => warm.run(x, { name: "tiny" })))
      : await batched(warm, items, size);
    const ms = now() - start;
    check(results, count);
    return { ms };
  },
  async mapFresh({ count, size }) {
    const items = range(count);
    const start = now();
    const pool = newPool();
    const results = await batched(pool, items, size);
    await pool.destroy();
    const ms = now() - start;
    check(results, count);
    return { ms };
  },
  async roundTrip({ count }) {
    const pool = newPool(1);
    for (let i = 0; i < 500; i++) await pool.run(0, { name: "noop" });
    const times = [];
    for (let i = 0; i < count; i++) {
      const start = now();
      await pool.run(0, { name: "noop" });
      times.push(now() - start);
    }
    await pool.destroy();
    times.sort((a, b) => a - b);
    const at = (q) => times[Math.min(times.length - 1, Math.floor(times.length * q))] * 1000;
    return { p50Us: at(0.5), p99Us: at(0.99) };
  },
};

const reply = (answer) => process.stdout.write(JSON.stringify(answer) + "\n");
reply({ ready: true, version: process.version });
for await (const line of createInterface({ input: process.stdin })) {
  const command = JSON.parse(line);
  if (command.op === "quit") break;
  try {
    reply(await ops[command.op](command));
  } catch (error) {
    reply({ error: String(error?.stack ?? error) });
  }
}
await warm.destroy();
