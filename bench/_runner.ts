/**
 * What the runner itself costs per io task, end to end: trusted io tasks
 * (the runner's own path, no sandbox) through the `spool run` CLI and
 * through `run()`, against the floor each figure has (p-limit for many
 * waits, the same DAG as bare promises for trivial tasks). Every contender
 * runs in a fresh `deno` process, so that its peak RSS is its own, and they
 * take turns in each repetition, in an order that rotates, so that they
 * share each noise window; ratios are taken within a repetition.
 *
 *     deno run -A bench/_runner.ts            # prints the rows
 *     deno run -A bench/_runner.ts --quick    # small sizes, two repetitions
 *     deno task bench --only runner           # the same, from the bench
 *
 * A contender's time is its own wall: for `run()`, p-limit and the bare DAG
 * from the first call to the last task settled, the task set already
 * defined; for the CLI, the wall its summary line prints (from the run's
 * start to its end). The CLI's whole process (start-up, task file import,
 * output) is given beside it.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { median } from "./_stats.ts";
import { type Ratio, ratio } from "./_turns.ts";

const MOD = new URL("../mod.ts", import.meta.url).href;
const CLI = new URL("../cli.ts", import.meta.url).pathname;
const SELF = new URL(import.meta.url).pathname;

/** One contender's sample: its own wall, its whole process, its peak RSS. */
interface Sample {
  ms: number;
  processMs: number;
  rssMb: number;
}

/** The three ways a figure is run. */
type Who = "cli" | "run" | "floor";

/** One figure's rows, as the bench prints and `--json` writes them. */
export interface RunnerRow {
  /** What was measured. */
  name: string;
  /** The floor's name: `p-limit`, `bare promise DAG`. */
  floorName: string;
  /** Medians of each contender's samples. */
  cli: Sample;
  run: Sample;
  floor: Sample;
  /** Per repetition: CLI / floor and run() / floor, own walls. */
  cliRatio: Ratio;
  runRatio: Ratio;
  /** The issue's targets: at most this ratio, and (CLI) at most this RSS. */
  cliTarget: number;
  runTarget: number;
  rssTargetMb?: number;
}

/** The task files: trusted io tasks, generated into a temporary folder. */
const SHAPES = {
  waits: (count: number, ms: number) =>
    `for (let i = 0; i < ${count}; i++) {
  spec["w" + i] = io({ trusted: true, run: () => new Promise((r) => setTimeout(() => r(i), ${ms})) });
}`,
  fanout: (count: number) =>
    `for (let i = 0; i < ${count}; i++) spec["t" + i] = io({ trusted: true, run: () => i });`,
  chain: (count: number) =>
    `for (let i = 0; i < ${count}; i++) {
  spec["t" + i] = io({ trusted: true, deps: i > 0 ? ["t" + (i - 1)] : [], run: () => i });
}`,
};

type Shape = keyof typeof SHAPES;

function taskSource(shape: Shape, count: number, ms: number): string {
  return `import { defineTasks, io } from ${JSON.stringify(MOD)};
const spec = {};
${SHAPES[shape](count, ms)}
export default defineTasks(spec);
`;
}

function peakRssMb(): number {
  const status = Deno.readTextFileSync("/proc/self/status");
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN) / 1024;
}

/** The floor of a trivial DAG: each task a promise awaiting its dependencies. */
async function bareDag(count: number, chain: boolean): Promise<void> {
  const done: Promise<number>[] = [];
  for (let i = 0; i < count; i++) {
    const previous = chain && i > 0 ? done[i - 1] : undefined;
    done.push((async () => {
      if (previous !== undefined) await previous;
      return await Promise.resolve(i);
    })());
  }
  await Promise.all(done);
}

/** In a fresh process: one in-process contender, printed as JSON. */
async function child(who: "run" | "floor", shape: Shape, count: number, ms: number, file: string) {
  let took: number;
  if (who === "run") {
    const { run } = await import(MOD);
    const tasks = (await import(new URL(`file://${file}`).href)).default;
    const start = performance.now();
    const report = await run(tasks, { concurrency: shape === "waits" ? count : undefined });
    took = performance.now() - start;
    if (!report.ok) throw new Error(`The ${shape} run failed`);
  } else if (shape === "waits") {
    const { default: pLimit } = await import("p-limit");
    const limit = pLimit(count);
    const start = performance.now();
    const all: Promise<number>[] = [];
    for (let i = 0; i < count; i++) {
      all.push(limit(() => new Promise<number>((r) => setTimeout(() => r(i), ms))));
    }
    await Promise.all(all);
    took = performance.now() - start;
  } else {
    const start = performance.now();
    await bareDag(count, shape === "chain");
    took = performance.now() - start;
  }
  console.log(JSON.stringify({ ms: took, rssMb: peakRssMb() }));
}

const hasTime = (() => {
  try {
    return Deno.statSync("/usr/bin/time").isFile;
  } catch {
    return false;
  }
})();

/** One sample of one contender, in a fresh process. */
async function sample(
  who: Who,
  shape: Shape,
  count: number,
  ms: number,
  dir: string,
): Promise<Sample> {
  const file = `${dir}/${shape}.ts`;
  const start = performance.now();
  if (who !== "cli") {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", SELF, "--child", who, shape, String(count), String(ms), file],
      stderr: "inherit",
    }).output();
    const processMs = performance.now() - start;
    if (!output.success) throw new Error(`The ${shape} figure (${who}) failed`);
    const { ms: took, rssMb } = JSON.parse(new TextDecoder().decode(output.stdout));
    return { ms: took, processMs, rssMb };
  }
  // The CLI as a user runs it, output piped (the plain reporter, a line per
  // start and end); its wall is the one its summary line prints.
  const rssFile = `${dir}/rss.txt`;
  const spool = [Deno.execPath(), "run", "-A", CLI, "run", "--file", file, "--no-cache"];
  if (shape === "waits") spool.push("-c", String(count));
  const [program, ...args] = hasTime
    ? ["/usr/bin/time", "-f", "%M", "-o", rssFile, ...spool]
    : spool;
  const output = await new Deno.Command(program, { args, stdout: "piped", stderr: "piped" })
    .output();
  const processMs = performance.now() - start;
  const stderr = new TextDecoder().decode(output.stderr);
  const wall = /ok in ([\d.]+) (ms|s) wall/.exec(stderr);
  if (!output.success || wall === null) {
    throw new Error(`The ${shape} figure (CLI) failed: ${stderr.slice(-500)}`);
  }
  const rssMb = hasTime ? Number(await Deno.readTextFile(rssFile)) / 1024 : Number.NaN;
  return { ms: Number(wall[1]) * (wall[2] === "s" ? 1000 : 1), processMs, rssMb };
}

/**
 * Runs the runner figures.
 *
 * @param options `quick` for small sizes; `repeat` repetitions (default 5, 2 quick).
 * @param log Progress lines.
 * @returns One row per figure.
 */
export async function runnerRows(
  options: { quick?: boolean; repeat?: number } = {},
  log: (line: string) => void = () => {},
): Promise<RunnerRow[]> {
  const quick = options.quick ?? false;
  const repeat = options.repeat ?? (quick ? 2 : 5);
  const waits = quick ? 1_000 : 10_000;
  const trivial = quick ? 5_000 : 50_000;
  const figures: {
    shape: Shape;
    count: number;
    ms: number;
    name: string;
    floorName: string;
    cliTarget: number;
    runTarget: number;
    rssTargetMb?: number;
  }[] = [
    {
      shape: "waits",
      count: waits,
      ms: 100,
      name: `${waits.toLocaleString("en")} io tasks x 100 ms timer, -c ${waits}`,
      floorName: "p-limit",
      cliTarget: 1.3,
      runTarget: 1.15,
    },
    {
      shape: "fanout",
      count: trivial,
      ms: 0,
      name: `${trivial.toLocaleString("en")} trivial io tasks, fan-out`,
      floorName: "bare promise DAG",
      cliTarget: 3,
      runTarget: 3,
      rssTargetMb: 250,
    },
    {
      shape: "chain",
      count: trivial,
      ms: 0,
      name: `${trivial.toLocaleString("en")} trivial io tasks, chain`,
      floorName: "bare promise DAG",
      cliTarget: 2.5,
      runTarget: 2.5,
    },
  ];
  const dir = await Deno.makeTempDir({ prefix: "spool-bench-runner-" });
  try {
    const samples = figures.map(() => ({
      cli: [] as Sample[],
      run: [] as Sample[],
      floor: [] as Sample[],
    }));
    for (const { shape, count, ms } of figures) {
      await Deno.writeTextFile(`${dir}/${shape}.ts`, taskSource(shape, count, ms));
    }
    // A first CLI run caches the task file's imports and is not counted.
    await sample("cli", "chain", 10, 0, dir).catch(() => undefined);
    const everyone: Who[] = ["cli", "run", "floor"];
    for (let r = 0; r < repeat; r++) {
      const order = everyone.map((_, i) => everyone[(i + r) % everyone.length]);
      log(`repetition ${r + 1} of ${repeat}: ${order.join(", ")}`);
      for (const [i, { shape, count, ms }] of figures.entries()) {
        for (const who of order) samples[i][who].push(await sample(who, shape, count, ms, dir));
      }
    }
    return figures.map((figure, i) => {
      const s = samples[i];
      const med = (list: Sample[]): Sample => ({
        ms: median(list.map((x) => x.ms)),
        processMs: median(list.map((x) => x.processMs)),
        rssMb: median(list.map((x) => x.rssMb)),
      });
      const walls = (list: Sample[]) => list.map((x) => x.ms);
      const row: RunnerRow = {
        name: figure.name,
        floorName: figure.floorName,
        cli: med(s.cli),
        run: med(s.run),
        floor: med(s.floor),
        cliRatio: ratio(walls(s.cli), walls(s.floor)),
        runRatio: ratio(walls(s.run), walls(s.floor)),
        cliTarget: figure.cliTarget,
        runTarget: figure.runTarget,
      };
      if (figure.rssTargetMb !== undefined) row.rssTargetMb = figure.rssTargetMb;
      return row;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * The rows as a Markdown table.
 *
 * @param rows From {@linkcode runnerRows}.
 * @returns The table, and a line on how it was measured.
 */
export function formatRunnerRows(rows: RunnerRow[]): string {
  const ms = (n: number) => `${n.toFixed(0)} ms`;
  const mb = (n: number) => Number.isNaN(n) ? "-" : `${n.toFixed(0)} MB`;
  const x = (r: Ratio) => `${r.median.toFixed(2)}x [${r.min.toFixed(2)}-${r.max.toFixed(2)}]`;
  const lines = [
    "| trusted io tasks | spool CLI: run wall (process), peak RSS | run(): wall, peak RSS | floor: wall, peak RSS | CLI / floor | run() / floor | target | met |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const r of rows) {
    const rssMet = r.rssTargetMb === undefined || r.cli.rssMb <= r.rssTargetMb;
    const met = [
      r.cliRatio.median <= r.cliTarget && rssMet ? "CLI yes" : "CLI NO",
      r.runRatio.median <= r.runTarget ? "run() yes" : "run() NO",
    ].join(", ");
    const target = r.cliTarget === r.runTarget
      ? `≤ ${r.cliTarget}x`
      : `CLI ≤ ${r.cliTarget}x, run() ≤ ${r.runTarget}x`;
    lines.push(
      `| ${r.name} | ${ms(r.cli.ms)} (${ms(r.cli.processMs)}), ${mb(r.cli.rssMb)} | ${
        ms(r.run.ms)
      }, ${mb(r.run.rssMb)} | ${r.floorName} ${ms(r.floor.ms)}, ${mb(r.floor.rssMb)} | ${
        x(r.cliRatio)
      } | ${x(r.runRatio)} | ${target}${
        r.rssTargetMb === undefined ? "" : `, CLI ≤ ${r.rssTargetMb} MB`
      } | ${met} |`,
    );
  }
  lines.push(
    "",
    "Each contender a fresh deno process, taking turns in rotating order; walls are medians, " +
      "ratios per repetition: median [min-max]",
  );
  return lines.join("\n");
}

if (import.meta.main) {
  if (Deno.args[0] === "--child") {
    const [, who, shape, count, ms, file] = Deno.args;
    await child(who as "run" | "floor", shape as Shape, Number(count), Number(ms), file);
  } else {
    const { values } = parseArgs({
      args: Deno.args,
      options: { quick: { type: "boolean", default: false }, repeat: { type: "string" } },
    });
    const rows = await runnerRows(
      {
        quick: values.quick,
        repeat: values.repeat === undefined ? undefined : Number(values.repeat),
      },
      (line) => console.error(line),
    );
    console.log(formatRunnerRows(rows));
  }
}
