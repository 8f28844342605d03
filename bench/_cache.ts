/**
 * Incremental runs: a graph of 1,000 tasks over 10,000 input files, run
 * again with nothing changed, by spool (its cache), GNU Make (a generated
 * Makefile, mtimes) and `deno task` (an equivalent deno.json with its own
 * `files`/`output` cache), taking turns in each repetition; and spool's cold
 * run of the same graph (an empty cache, every task run in its sandbox).
 *
 *     deno run -A bench/_cache.ts            # prints the rows
 *     deno run -A bench/_cache.ts --quick    # 100 tasks over 1,000 files
 *
 * Each task reads its own folder of 10 files and writes one output; every
 * tenth task starts a chain of ten (each depends on the one before), in all
 * three tools. Times are wall-clock times of the whole command, process
 * start included, as a user waits for them.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { median } from "./_stats.ts";

/** One row: a contender's median no-op time and its ratio to Make's, per repetition. */
export interface CacheRow {
  /** What was timed. */
  name: string;
  /** Median wall time, in ms. */
  ms: number;
  /** This / Make's no-op, per repetition: median, min, max. */
  ratio: { median: number; min: number; max: number };
  /** This / `deno task`'s no-op, per repetition: median, min, max. */
  vsDenoTask: { median: number; min: number; max: number };
}

const CLI = new URL("../cli.ts", import.meta.url).pathname;
// The generated task file imports the light entry, as a task file that
// cares about start-up should (README "Start-up and memory").
const MOD = new URL("../declare.ts", import.meta.url).href;

/**
 * Writes the tree, the spool task file, the Makefile and the deno.json.
 *
 * @param dir An empty folder.
 * @param tasks How many tasks.
 * @param filesPerTask How many input files each reads.
 */
export async function generate(dir: string, tasks: number, filesPerTask: number): Promise<void> {
  await Deno.mkdir(`${dir}/out`, { recursive: true });
  const spool: string[] = [];
  const make: string[] = [];
  const denoTasks: Record<string, unknown> = {};
  const all: string[] = [];
  for (let i = 0; i < tasks; i++) {
    await Deno.mkdir(`${dir}/src/d${i}`, { recursive: true });
    for (let f = 0; f < filesPerTask; f++) {
      await Deno.writeTextFile(`${dir}/src/d${i}/f${f}.txt`, `task ${i} file ${f}\n`);
    }
    const dep = i % 10 === 0 ? undefined : i - 1;
    spool.push(
      `  t${i}: io({ permissions, inputs: ["src/d${i}"], outputs: ["out/t${i}.txt"]${
        dep === undefined ? "" : `, deps: ["t${dep}"]`
      }, run: () => copy(${i}) }),`,
    );
    const out = `out/t${i}.txt`;
    make.push(
      `${out}: $(wildcard src/d${i}/*)${
        dep === undefined ? "" : ` out/t${dep}.txt`
      }\n\tcat src/d${i}/* > ${out}`,
    );
    denoTasks[`t${i}`] = {
      command: `cat src/d${i}/* > ${out}`,
      files: [`src/d${i}/*`],
      output: [out],
      ...(dep === undefined ? {} : { dependencies: [`t${dep}`] }),
    };
    all.push(out);
  }
  await Deno.writeTextFile(
    `${dir}/tasks.ts`,
    `import { defineTasks, io } from ${JSON.stringify(MOD)};
function copy(i: number): number {
  let text = "";
  for (const entry of [...Deno.readDirSync("src/d" + i)].sort((a, b) => a.name < b.name ? -1 : 1)) {
    text += Deno.readTextFileSync("src/d" + i + "/" + entry.name);
  }
  Deno.writeTextFileSync("out/t" + i + ".txt", text);
  return text.length;
}
// One permission set for every task: one sandbox host; each task names its own files.
const permissions = { read: ["src"], write: ["out"] };
export default defineTasks({
${spool.join("\n")}
});
`,
  );
  await Deno.writeTextFile(`${dir}/Makefile`, `all: ${all.join(" ")}\n\n${make.join("\n\n")}\n`);
  denoTasks.all = { command: "true", dependencies: Object.keys(denoTasks) };
  await Deno.writeTextFile(`${dir}/deno.json`, JSON.stringify({ tasks: denoTasks }, null, 2));
}

async function timed(dir: string, command: string, args: string[]): Promise<number> {
  const start = performance.now();
  const { code, stderr } = await new Deno.Command(command, {
    args,
    cwd: dir,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const ms = performance.now() - start;
  if (code !== 0) {
    throw new Error(`${command} ${args.join(" ")} failed: ${new TextDecoder().decode(stderr)}`);
  }
  return ms;
}

/**
 * Measures the no-op runs and spool's cold run.
 *
 * @param options `quick` for a tenth of the size; `repeat` repetitions.
 * @returns The rows, Make's first.
 */
export async function cacheRows(
  options: { quick?: boolean; repeat?: number } = {},
): Promise<CacheRow[]> {
  const tasks = options.quick ? 100 : 1_000;
  const repeat = options.repeat ?? 5;
  const dir = await Deno.makeTempDir({ prefix: "spool-bench-cache-" });
  try {
    await generate(dir, tasks, 10);
    const deno = Deno.execPath();
    const spoolRun = [
      "run",
      "--no-prompt",
      "-A",
      CLI,
      "run",
      "--cache",
      "--file",
      "tasks.ts",
      "-q",
    ];
    const contenders: Record<string, () => Promise<number>> = {
      "make (no-op)": () => timed(dir, "make", ["-r", "-s", "-C", dir]),
      "deno task (no-op, files/output cache)": () => timed(dir, deno, ["task", "-q", "all"]),
      "spool (no-op, cache)": () => timed(dir, deno, spoolRun),
    };
    // First runs: every tool builds, then the no-op runs are all hits. spool
    // runs twice: a deno.lock that Deno writes during its first run is new
    // to that run's no-op record, and the second run writes the record.
    await timed(dir, "make", ["-r", "-s", "-C", dir]);
    await timed(dir, deno, ["task", "-q", "all"]);
    await timed(dir, deno, spoolRun);
    await timed(dir, deno, spoolRun);
    const samples: Record<string, number[]> = { "spool (cold: empty cache, every task runs)": [] };
    for (const name of Object.keys(contenders)) samples[name] = [];
    const names = Object.keys(contenders);
    for (let r = 0; r < repeat; r++) {
      // Turns rotate, so that no tool always runs right after another.
      for (let k = 0; k < names.length; k++) {
        const name = names[(k + r) % names.length];
        samples[name].push(await contenders[name]());
      }
      await Deno.remove(`${dir}/.spool`, { recursive: true });
      samples["spool (cold: empty cache, every task runs)"].push(await timed(dir, deno, spoolRun));
    }
    const spread = (ms: number[], base: number[]) => {
      const ratios = ms.map((value, i) => value / base[i]);
      return { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) };
    };
    return Object.entries(samples).map(([name, ms]) => ({
      name,
      ms: median(ms),
      ratio: spread(ms, samples["make (no-op)"]),
      vsDenoTask: spread(ms, samples["deno task (no-op, files/output cache)"]),
    }));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * The rows as a table.
 *
 * @param rows From {@linkcode cacheRows}.
 * @returns Text lines.
 */
export function formatCacheRows(rows: readonly CacheRow[]): string {
  const lines = [
    "incremental runs: 1,000 tasks over 10,000 files (--quick: 100 over 1,000), wall time of the whole command",
    `${"".padEnd(46)}${"median".padStart(10)}   ${
      "vs make no-op [range]".padEnd(24)
    }vs deno task no-op [range]`,
  ];
  const spread = ({ median, min, max }: CacheRow["ratio"]) =>
    `${median.toFixed(2)}x [${min.toFixed(2)}-${max.toFixed(2)}]`;
  for (const row of rows) {
    lines.push(
      `${row.name.padEnd(46)}${`${row.ms.toFixed(0)} ms`.padStart(10)}   ${
        spread(row.ratio).padEnd(24)
      }${spread(row.vsDenoTask)}`,
    );
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { quick: { type: "boolean", default: false }, repeat: { type: "string" } },
  });
  const rows = await cacheRows({
    quick: values.quick,
    repeat: values.repeat === undefined ? undefined : Number(values.repeat),
  });
  console.log(formatCacheRows(rows));
}
