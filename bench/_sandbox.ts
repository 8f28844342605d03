/**
 * What the sandbox costs: the same io tasks run sandboxed (in a host process
 * per permission set) and `trusted` (on the runner's thread), taking turns
 * in each repetition; the start of a sandbox host against an in-process
 * worker; a warm cpu round trip through each; and a host's memory.
 *
 *     deno run -A bench/_sandbox.ts            # prints the rows
 *     deno run -A bench/_sandbox.ts --quick
 *
 * The task files are generated into a temporary folder, since every sandbox
 * imports the task file and a sandbox's top-level code can read nothing.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type Isolation, run, type TaskSet, WorkerPool } from "../mod.ts";
import { median } from "./_stats.ts";

/** One figure: per repetition, what spool measured in each configuration. */
export interface SandboxRow {
  /** What was measured. */
  name: string;
  /** The figure's unit. */
  unit: string;
  /** Median of the sandboxed configuration. */
  sandboxed: number;
  /** Median of the baseline configuration. */
  baseline: number;
  /** The baseline's name. */
  baselineName: string;
  /** Sandboxed / baseline per repetition: median, min, max. */
  ratio: { median: number; min: number; max: number };
}

// The light entry, as README "Start-up and memory" advises for task files:
// every sandbox imports the task file again, and with mod.ts it would load
// the whole library (about 70 ms more per host start, measured in workers).
const MOD = new URL("../declare.ts", import.meta.url).href;

async function taskFile(dir: string, name: string, body: string): Promise<string> {
  const path = `${dir}/${name}.ts`;
  await Deno.writeTextFile(
    path,
    `import { cpu, defineTasks, io } from ${JSON.stringify(MOD)};\n${body}\n`,
  );
  return new URL(`file://${path}`).href;
}

async function load(url: string): Promise<TaskSet> {
  return (await import(url)).default as TaskSet;
}

function waits(count: number, ms: number, trusted: boolean): string {
  return `const spec = {};
for (let i = 0; i < ${count}; i++) {
  spec["w" + i] = io({ trusted: ${trusted}, run: () => new Promise((r) => setTimeout(r, ${ms})) });
}
export default defineTasks(spec);`;
}

function trivial(count: number, trusted: boolean): string {
  return `const spec = {};
for (let i = 0; i < ${count}; i++) spec["t" + i] = io({ trusted: ${trusted}, run: () => i });
export default defineTasks(spec);`;
}

/** Runs `a` and `b` in turns, `repeat` times, alternating which goes first. */
async function turns(
  repeat: number,
  a: () => Promise<number>,
  b: () => Promise<number>,
): Promise<{ a: number[]; b: number[] }> {
  const out = { a: [] as number[], b: [] as number[] };
  for (let i = 0; i < repeat; i++) {
    if (i % 2 === 0) {
      out.a.push(await a());
      out.b.push(await b());
    } else {
      out.b.push(await b());
      out.a.push(await a());
    }
  }
  return out;
}

function row(
  name: string,
  unit: string,
  baselineName: string,
  measured: { a: number[]; b: number[] },
): SandboxRow {
  const ratios = measured.a.map((a, i) => a / measured.b[i]);
  return {
    name,
    unit,
    sandboxed: median(measured.a),
    baseline: median(measured.b),
    baselineName,
    ratio: { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) },
  };
}

async function timed(
  tasks: TaskSet,
  concurrency: number,
  isolation: Isolation = "process",
  pool?: WorkerPool,
): Promise<number> {
  const t0 = performance.now();
  const report = await run(
    tasks,
    pool === undefined ? { concurrency, isolation } : {
      concurrency,
      pool,
    },
  );
  if (!report.ok) throw new Error(`A benchmark run failed: ${JSON.stringify(report.tasks[0])}`);
  const wall = performance.now() - t0;
  lastTaskMs = median(report.tasks.map((task) => task.durationMs));
  return wall;
}

/** The median task time the last {@linkcode timed} run reported, in ms. */
let lastTaskMs = Number.NaN;

/**
 * Writes the script {@linkcode freshRun} runs: one run() of the task file
 * it is given, printing what run() took.
 */
async function freshRunScript(dir: string, concurrency: number): Promise<string> {
  const script = `${dir}/fresh_run.ts`;
  await Deno.writeTextFile(
    script,
    `import { run } from ${JSON.stringify(new URL("../mod.ts", import.meta.url).href)};
const tasks = (await import(Deno.args[0])).default;
const t0 = performance.now();
const report = await run(tasks, { concurrency: ${concurrency} });
if (!report.ok) Deno.exit(1);
console.log(performance.now() - t0);
`,
  );
  return script;
}

/**
 * One run() of a task file in a fresh `deno` process, as one `spool run` or
 * a script that runs once pays it: its own start, spool's code cold, and the
 * host's `deno info` lookup included. Returns what run() took.
 */
async function freshRun(script: string, taskFile: string): Promise<number> {
  const { code, stdout } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--unstable-worker-options", script, taskFile],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (code !== 0) throw new Error(`A benchmark run in a fresh process failed (exit ${code})`);
  return Number(new TextDecoder().decode(stdout).trim());
}

async function firstIo(url: string, isolation: Isolation): Promise<number> {
  using pool = new WorkerPool(url, { size: 1, isolation });
  const t0 = performance.now();
  await pool.runIo("t0", {});
  return performance.now() - t0;
}

async function roundTrip(url: string, isolation: Isolation, calls: number): Promise<number> {
  using pool = new WorkerPool(url, { size: 1, isolation });
  await pool.run("echo", { n: 0 });
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) await pool.run("echo", { n: i });
  return (performance.now() - t0) * 1000 / calls;
}

/** The resident memory of this process's sandbox hosts for one task file, in MiB. */
async function hostRss(taskFile: string): Promise<number> {
  let kib = 0;
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const cmdline = await Deno.readTextFile(`/proc/${entry.name}/cmdline`);
      // Hosts of earlier rows may still be on their way out: only this file's.
      if (!cmdline.includes("_host_main.ts") || !cmdline.includes(taskFile)) continue;
      const status = await Deno.readTextFile(`/proc/${entry.name}/status`);
      // This run's hosts only: their parent is this process.
      if (Number(/PPid:\s+(\d+)/.exec(status)?.[1]) !== Deno.pid) continue;
      kib += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    } catch {
      // Gone meanwhile.
    }
  }
  return kib / 1024;
}

/**
 * Measures the sandbox's cost.
 *
 * @param options How many repetitions, and small sizes for a smoke run.
 * @returns The rows, sandboxed against their baseline.
 */
export async function sandboxRows(
  options: { repeat?: number; quick?: boolean } = {},
): Promise<SandboxRow[]> {
  const repeat = options.repeat ?? 3;
  const waitCount = options.quick ? 1_000 : 10_000;
  const trivialCount = options.quick ? 500 : 2_000;
  const dir = await Deno.makeTempDir({ prefix: "spool-bench-sandbox-" });
  try {
    const rows: SandboxRow[] = [];
    const waitsSandboxedUrl = await taskFile(dir, "waits_s", waits(waitCount, 100, false));
    const waitsTrustedUrl = await taskFile(dir, "waits_t", waits(waitCount, 100, true));
    const waitsSandboxed = await load(waitsSandboxedUrl);
    const waitsTrusted = await load(waitsTrustedUrl);
    // What each task reported as its time, from the same runs: a wait of
    // 100 ms should read as 100 ms, sandboxed or not.
    const taskMs = { a: [] as number[], b: [] as number[] };
    rows.push(row(
      `${waitCount.toLocaleString("en")} io tasks x 100 ms wait, run(), -c ${waitCount}: wall`,
      "ms",
      "trusted",
      await turns(
        repeat,
        async () => {
          const wall = await timed(waitsSandboxed, waitCount);
          taskMs.a.push(lastTaskMs);
          return wall;
        },
        async () => {
          const wall = await timed(waitsTrusted, waitCount);
          taskMs.b.push(lastTaskMs);
          return wall;
        },
      ),
    ));
    rows.push(row("the same: the time each task reported (median)", "ms", "trusted", taskMs));
    // The same run, each in a process of its own: nothing warm from earlier
    // runs, and no garbage of theirs to collect, on either side.
    const script = await freshRunScript(dir, waitCount);
    rows.push(row(
      `${waitCount.toLocaleString("en")} io tasks x 100 ms wait, run() in a fresh process: wall`,
      "ms",
      "trusted",
      await turns(
        repeat,
        () => freshRun(script, waitsSandboxedUrl),
        () => freshRun(script, waitsTrustedUrl),
      ),
    ));
    {
      // The same, with the sandbox host started by an earlier run: a pool
      // kept across runs (RunOptions.pool), as spool run --watch does.
      using pool = new WorkerPool(waitsSandboxed.module, {});
      await timed(waitsSandboxed, waitCount, "process", pool);
      rows.push(row(
        `${waitCount.toLocaleString("en")} io tasks x 100 ms wait, warm sandbox (pool kept): wall`,
        "ms",
        "trusted",
        await turns(
          repeat,
          () => timed(waitsSandboxed, waitCount, "process", pool),
          () => timed(waitsTrusted, waitCount),
        ),
      ));
    }
    // The same sandbox (exactly the declared permissions) in a worker of
    // this process: no host process to start and no relay, but no fault
    // isolation either (README "Permissions"). Shows what the process costs.
    rows.push(row(
      `${waitCount.toLocaleString("en")} io tasks x 100 ms wait, isolation "worker": wall`,
      "ms",
      "trusted",
      await turns(
        repeat,
        () => timed(waitsSandboxed, waitCount, "worker"),
        () => timed(waitsTrusted, waitCount),
      ),
    ));
    const trivialSandboxed = await load(
      await taskFile(dir, "trivial_s", trivial(trivialCount, false)),
    );
    const trivialTrusted = await load(
      await taskFile(dir, "trivial_t", trivial(trivialCount, true)),
    );
    const perTask = await turns(
      repeat,
      async () => (await timed(trivialSandboxed, 64)) * 1000 / trivialCount,
      async () => (await timed(trivialTrusted, 64)) * 1000 / trivialCount,
    );
    rows.push(row(
      `${
        trivialCount.toLocaleString("en")
      } trivial io tasks, -c 64: per task (host start included)`,
      "us",
      "trusted",
      perTask,
    ));
    const one = await taskFile(
      dir,
      "one",
      `export default defineTasks({ t0: io({ run: () => 0 }), echo: cpu({ run: ({ deps }) => deps.n }) });`,
    );
    rows.push(row(
      "sandbox start: first io task in a fresh pool",
      "ms",
      "in-process worker",
      await turns(repeat, () => firstIo(one, "process"), () => firstIo(one, "worker")),
    ));
    const calls = options.quick ? 200 : 1_000;
    rows.push(row(
      "warm cpu round trip (deps in, result out)",
      "us",
      "in-process worker",
      await turns(
        repeat,
        () => roundTrip(one, "process", calls),
        () => roundTrip(one, "worker", calls),
      ),
    ));
    {
      using pool = new WorkerPool(one, { size: 2 });
      await Promise.all([pool.run("echo", { n: 1 }), pool.run("echo", { n: 2 })]);
      const rss = await hostRss(new URL(one).pathname);
      rows.push({
        name: "memory: resident size of one sandbox host process (2 hosts / 2)",
        unit: "MiB",
        sandboxed: rss / 2,
        baseline: Number.NaN,
        baselineName: "-",
        ratio: { median: Number.NaN, min: Number.NaN, max: Number.NaN },
      });
    }
    return rows;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * The rows as a table.
 *
 * @param rows What {@linkcode sandboxRows} measured.
 * @returns Markdown table lines.
 */
export function formatSandboxRows(rows: SandboxRow[]): string {
  const fmt = (n: number) => Number.isNaN(n) ? "-" : n >= 100 ? n.toFixed(0) : n.toFixed(2);
  const lines = [
    "| sandbox cost | sandboxed | baseline | ratio (median [min-max]) |",
    "| --- | --- | --- | --- |",
  ];
  for (const r of rows) {
    const ratio = Number.isNaN(r.ratio.median)
      ? "-"
      : `${r.ratio.median.toFixed(2)}x [${r.ratio.min.toFixed(2)}-${r.ratio.max.toFixed(2)}]`;
    lines.push(
      `| ${r.name} | ${fmt(r.sandboxed)} ${r.unit} | ${
        Number.isNaN(r.baseline) ? "-" : `${fmt(r.baseline)} ${r.unit} (${r.baselineName})`
      } | ${ratio} |`,
    );
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { quick: { type: "boolean", default: false }, repeat: { type: "string" } },
  });
  const rows = await sandboxRows({
    quick: values.quick,
    repeat: values.repeat === undefined ? undefined : Number(values.repeat),
  });
  console.log(formatSandboxRows(rows));
}
