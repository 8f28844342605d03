/**
 * spool's side of the turns in bench/run.ts: the same commands the peer
 * servers answer, run in this process, so that the harness treats spool and
 * its peers alike. A warm WorkerPool (for `run()`) and a warm CpuExecutor are
 * started once and kept for every "warm" figure.
 *
 * @module
 */

import { CpuExecutor, moduleFunction, run, WorkerPool } from "../mod.ts";
import tasks, { LONG_TASKS, paramArgs, setParams } from "./_tasks.ts";
import type { Peer, PeerCommand } from "./_peers.ts";
import { spoolRoundTrip } from "./_pool.ts";
import { calibrateNumber, sumSquaresBig, sumSquaresNumber } from "./_work.ts";
import type * as work from "./_work.ts";

const MODULE = new URL("./_tasks.ts", import.meta.url).href;
const tiny = moduleFunction<typeof work.tiny>(import.meta.resolve("./_work.ts"), "tiny");
const range = (count: number) => Array.from({ length: count }, (_, i) => i);

function check(results: readonly number[], count: number): void {
  if (results.length !== count || results[count - 1] !== (count - 1) * 2 + 1) {
    throw new Error("The tiny items came back wrong");
  }
}

/** `map` (one step per result) or `mapChunks` (one per chunk), collecting every result. */
async function mapAll(
  pool: CpuExecutor,
  items: number[],
  size: number,
  byChunk: boolean,
): Promise<number[]> {
  const results: number[] = [];
  if (byChunk) {
    // Joined once at the end, as the Piscina peer joins its batches.
    const parts: number[][] = [];
    for await (const chunk of pool.mapChunks(tiny, items, { chunkSize: size })) parts.push(chunk);
    return results.concat(...parts);
  } else {
    for await (const value of pool.map(tiny, items, { chunkSize: size })) results.push(value);
  }
  return results;
}

/**
 * Starts spool's pools for `workers` workers and warms them.
 *
 * @param workers The pool size.
 * @returns spool, as a contender that answers the peers' commands.
 */
export async function startSpool(workers: number): Promise<Peer> {
  const pool = new WorkerPool(MODULE, { size: workers });
  const executor = new CpuExecutor({ maxWorkers: workers, idleTimeout: Infinity });
  const warmup = { bigN: 1, numberN: 1, items: range(workers * 4) };
  setParams(warmup);
  await run(tasks, { targets: ["tiny"], cpuLane: pool, module: MODULE, args: paramArgs(warmup) });
  await mapAll(executor, range(workers * 100), 10, false);
  await mapAll(executor, range(workers * 100), 10, true);
  const timed = async (fn: () => Promise<unknown> | unknown) => {
    const start = performance.now();
    await fn();
    return { ms: performance.now() - start };
  };
  const ops: Record<string, (c: PeerCommand) => Promise<Record<string, number>>> = {
    calibrate: (c) => Promise.resolve({ n: calibrateNumber(c.ms as number) }),
    long: (c) => {
      const n = c.n as number;
      const big = c.name === "sumSquaresBig";
      const sizes = { bigN: n, numberN: n, items: [] };
      setParams(sizes);
      const args = paramArgs(sizes);
      const targets = range(LONG_TASKS).map((i) => `${big ? "big" : "number"}${i}`);
      const body = big ? sumSquaresBig : sumSquaresNumber;
      return timed(async () => {
        if (c.mode === "serial") {
          for (let i = 0; i < (c.tasks as number); i++) body(n);
          return;
        }
        const report = c.mode === "fresh"
          ? await run(tasks, { targets, workers, module: MODULE, args })
          : await run(tasks, { targets, cpuLane: pool, module: MODULE, args });
        if (!report.ok) throw new Error(`The long tasks failed: ${JSON.stringify(report.tasks)}`);
      });
    },
    async tiny(c) {
      const count = c.count as number;
      const items = range(count);
      let results: number[] = [];
      const sizes = { bigN: 0, numberN: 0, items };
      if (c.mode === "sharded") setParams(sizes);
      const figure = await timed(async () => {
        if (c.mode === "sharded") {
          const report = await run(tasks, {
            targets: ["tiny"],
            cpuLane: pool,
            module: MODULE,
            args: paramArgs(sizes),
          });
          results = report.results.tiny as number[];
        } else if (c.mode === "map" || c.mode === "mapChunks") {
          results = await mapAll(executor, items, c.size as number, c.mode === "mapChunks");
        } else {
          results = await Promise.all(items.map((x) => executor.submit(tiny, x)));
        }
      });
      check(results, count);
      return figure;
    },
    async mapFresh(c) {
      const items = range(c.count as number);
      let results: number[] = [];
      const figure = await timed(async () => {
        const fresh = new CpuExecutor({ maxWorkers: workers });
        results = await mapAll(fresh, items, c.size as number, c.mode === "mapChunks");
        await fresh.shutdown();
      });
      check(results, c.count as number);
      return figure;
    },
    async roundTrip(c) {
      return { ...await spoolRoundTrip(c.count as number) };
    },
  };
  return {
    name: "spool",
    version: Deno.version.deno,
    call: (command) => ops[command.op](command),
    async [Symbol.asyncDispose]() {
      pool.close();
      await executor.shutdown();
    },
  };
}
