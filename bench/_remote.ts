/**
 * What spool over NATS JetStream costs and buys (`--only remote`): a local
 * nats-server, `spool worker` processes on loopback, and `run()` with a
 * {@linkcode NatsLane}.
 *
 * - dispatch: tiny cpu tasks per second through NATS (and shard chunks per
 *   second), against the same tasks on the local worker pool in the same
 *   repetition;
 * - scaling: N = 1, 2, 4, 8 worker processes of one slot each, on tasks that
 *   hold their slot for `holdMs` without burning a core (a timer), so that
 *   loopback can show N beyond the core count: the parallelism reached
 *   (task time / wall) against the ideal N.
 *
 *     deno run -A bench/_remote.ts [--quick]
 *
 * Workers use `--isolation worker` (a Web Worker per slot in the worker
 * process) so that eight of them fit a small machine; the run's own sandboxes
 * are not involved, its cpu tasks all go to NATS.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { run, type TaskSet } from "../mod.ts";
import { NatsLane } from "../lib/remote/mod.ts";
import { median } from "./_stats.ts";
import { startNats } from "../tests/_nats_server.ts";

/** One row: what was measured, the figure, its baseline and target. */
export interface RemoteRow {
  name: string;
  /** Median over repetitions. */
  value: number;
  unit: string;
  /** Per repetition, value / baseline: median, min, max. */
  ratio?: { median: number; min: number; max: number };
  baselineName?: string;
  target: string;
  met: boolean;
}

const MAX_SINGLES = 2_000;
const MAX_HOLDS = 32;
/** Jobs each dispatch worker takes ahead of its free slots (`spool worker --prefetch`). */
const PREFETCH = Number(Deno.env.get("PREFETCH") ?? 16);
const MOD = new URL("../mod.ts", import.meta.url).href;
const CLI = new URL("../cli.ts", import.meta.url).pathname;

interface Worker {
  stop(): Promise<void>;
}

async function startWorker(
  url: string,
  file: string,
  slots: number,
  ...flags: string[]
): Promise<Worker> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      "-A",
      CLI,
      "-f",
      file,
      "worker",
      "--nats",
      url,
      "-w",
      String(slots),
      "--isolation",
      "worker",
      "--quiet",
      ...flags,
    ],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let log = "";
  while (!log.includes("waiting for jobs")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`spool worker did not start:\n${log}`);
    log += value;
  }
  const draining = (async () => {
    while (!(await reader.read()).done);
  })().catch(() => {});
  return {
    async stop() {
      child.kill("SIGTERM");
      await child.status;
      await draining;
    },
  };
}

/** The one task file of every figure: runs pick their tasks as targets, sizes through args. */
const TASKS = `import { cpu, defineTasks } from ${JSON.stringify(MOD)};
const arg = (args, name) => Number(args.find((a) => a.startsWith(name + "="))?.slice(name.length + 1));
const spec = {};
for (let i = 0; i < ${MAX_SINGLES}; i++) spec["t" + i] = cpu({ isolation: "worker", run: () => i });
for (let i = 0; i < ${MAX_HOLDS}; i++) {
  spec["h" + i] = cpu({
    isolation: "worker",
    run: ({ args }) => new Promise((r) => setTimeout(() => r(i), arg(args, "--hold"))),
  });
}
spec.sharded = cpu({
  isolation: "worker",
  items: ({ args }) => Array.from({ length: arg(args, "--items") }, (_, i) => i),
  chunkSize: 1,
  map: (i) => i,
});
export default defineTasks(spec);
`;

/**
 * Runs the remote figures.
 *
 * @param options `quick` for small sizes; `repeat` repetitions.
 * @returns The rows.
 */
export async function remoteRows(
  options: { quick: boolean; repeat: number },
): Promise<RemoteRow[]> {
  const { quick, repeat } = options;
  const singles = quick ? 500 : 2_000;
  const chunks = quick ? 500 : 2_000;
  const holdMs = quick ? 200 : 500;
  const perSlot = 4;
  const dir = await Deno.makeTempDir({ prefix: "spool-bench-remote-" });
  const file = `${dir}/tasks.ts`;
  await Deno.writeTextFile(file, TASKS);
  const module = new URL(`file://${file}`).href;
  const nats = await startNats();
  const rows: RemoteRow[] = [];
  const tasks = (await import(module)).default as TaskSet;
  const timed = async (
    targets: string[],
    args: string[],
    lane: NatsLane | undefined,
    workers: number,
  ) => {
    const t0 = performance.now();
    const report = await run(tasks, {
      targets,
      args,
      module,
      cpuLane: lane,
      workers,
      isolation: "worker",
    });
    if (!report.ok) {
      const failed = report.tasks.find((task) => task.status === "failed") ?? report.tasks[0];
      throw new Error(`a bench run failed: ${JSON.stringify(failed)}`);
    }
    return performance.now() - t0;
  };
  try {
    // ---- dispatch: two workers of two slots against a local pool of four ----
    const slots = 2;
    const workers = await Promise.all(
      [0, 1].map(() => startWorker(nats.url, file, slots, "--prefetch", String(PREFETCH))),
    );
    const rates = { remote: [] as number[], local: [] as number[], chunks: [] as number[] };
    const ratios = { singles: [] as number[], chunks: [] as number[] };
    const localChunks: number[] = [];
    try {
      const single = Array.from({ length: singles }, (_, i) => `t${i}`);
      const sharded = [`--items=${chunks}`];
      for (let r = -1; r < repeat; r++) {
        const lane = await NatsLane.connect(nats.url, { module });
        let remote: number, remoteChunks: number;
        try {
          remote = singles / (await timed(single, [], lane, 1) / 1000);
          remoteChunks = chunks / (await timed(["sharded"], sharded, lane, 1) / 1000);
        } finally {
          await lane.close();
        }
        const local = singles / (await timed(single, [], undefined, 2 * slots) / 1000);
        const localChunk = chunks /
          (await timed(["sharded"], sharded, undefined, 2 * slots) / 1000);
        // The first turn warms workers and caches: not counted.
        if (r < 0) continue;
        rates.remote.push(remote);
        rates.local.push(local);
        rates.chunks.push(remoteChunks);
        localChunks.push(localChunk);
        ratios.singles.push(remote / local);
        ratios.chunks.push(remoteChunks / localChunk);
      }
    } finally {
      await Promise.all(workers.map((worker) => worker.stop()));
    }
    const spread = (values: number[]) => ({
      median: median(values),
      min: Math.min(...values),
      max: Math.max(...values),
    });
    rows.push({
      name:
        `tiny cpu tasks through NATS (${singles}, 2 workers × ${slots} slots, --prefetch ${PREFETCH})`,
      value: median(rates.remote),
      unit: "tasks/s",
      ratio: spread(ratios.singles),
      baselineName: `local pool of ${2 * slots}: ${Math.round(median(rates.local))} tasks/s`,
      target: "≥ 2,000 tasks/s",
      met: median(rates.remote) >= 2000,
    });
    rows.push({
      name: `shard chunks through NATS (${chunks} chunks of 1 item)`,
      value: median(rates.chunks),
      unit: "chunks/s",
      ratio: spread(ratios.chunks),
      baselineName: `local pool of ${2 * slots}: ${Math.round(median(localChunks))} chunks/s`,
      target: "≥ 2,000 chunks/s",
      met: median(rates.chunks) >= 2000,
    });

    // ---- scaling: N single-slot workers on tasks that hold their slot ----
    const started: Worker[] = [];
    try {
      for (const n of [1, 2, 4, 8]) {
        while (started.length < n) started.push(await startWorker(nats.url, file, 1));
        const count = perSlot * n;
        const holds = Array.from({ length: count }, (_, i) => `h${i}`);
        const parallel: number[] = [];
        for (let r = -1; r < repeat; r++) {
          const lane = await NatsLane.connect(nats.url, { module });
          try {
            const wall = await timed(holds, [`--hold=${holdMs}`], lane, 1);
            if (r >= 0) parallel.push(count * holdMs / wall);
          } finally {
            await lane.close();
          }
        }
        rows.push({
          name: `scaling: ${n} worker${n === 1 ? "" : "s"}, ${count} tasks holding ${holdMs} ms`,
          value: median(parallel),
          unit: "× (task time / wall)",
          ratio: spread(parallel.map((p) => p / n)),
          baselineName: `ideal ${n}`,
          target: `≥ ${(0.9 * n).toFixed(1)} (0.9 × ${n})`,
          met: median(parallel) >= 0.9 * n,
        });
      }
    } finally {
      await Promise.all(started.map((worker) => worker.stop()));
    }
  } finally {
    await nats[Symbol.asyncDispose]();
    await Deno.remove(dir, { recursive: true });
  }
  return rows;
}

/**
 * The rows as a table.
 *
 * @param rows The rows.
 * @returns The table, one line per row.
 */
export function formatRemoteRows(rows: readonly RemoteRow[]): string {
  const lines = rows.map((row) => {
    const ratio = row.ratio === undefined
      ? ""
      : ` ${row.ratio.median.toFixed(2)}× of ${row.baselineName} [${row.ratio.min.toFixed(2)}–${
        row.ratio.max.toFixed(2)
      }]`;
    const value = row.value >= 100 ? Math.round(row.value).toString() : row.value.toFixed(2);
    return `${
      row.met ? "ok  " : "MISS"
    } ${row.name}: ${value} ${row.unit};${ratio}; target ${row.target}`;
  });
  return lines.join("\n");
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Deno.args, options: { quick: { type: "boolean" } } });
  const quick = values.quick ?? false;
  console.log(formatRemoteRows(await remoteRows({ quick, repeat: quick ? 2 : 3 })));
}
