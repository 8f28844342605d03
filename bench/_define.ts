/**
 * What declaring tasks costs: the import of a big task file, as every sandbox
 * host and every CLI run pays it, against the same file's own work (building
 * its specs and closures, with `io()` and `defineTasks()` doing nothing),
 * taking turns in each repetition. Each import is timed in a fresh process,
 * cold, after spool's modules are loaded (their load is the same for any
 * file; the startup bench times it).
 *
 *     deno run -A bench/_define.ts
 *     deno run -A bench/_define.ts --quick
 *     deno run -A bench/_define.ts --against /tmp/old/declare.ts   # another spool as well
 *
 * The files: 10,000 io tasks that wait (bench/_sandbox.ts's `waits()`), and
 * 1,000 tasks with deps, inputs, outputs and one permission set
 * (bench/_cache.ts's shape). `--against` adds a third contender, another
 * copy of spool's `declare.ts` (an older commit, say), in the same turns.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { median } from "./_stats.ts";

/** One task file: spool's import time against the file's own work. */
export interface DefineRow {
  /** The task file. */
  name: string;
  /** How many tasks it declares. */
  tasks: number;
  /** Median import time with spool, in ms. */
  spool: number;
  /** Median import time of the bare declarations, in ms. */
  bare: number;
  /** Spool / bare per repetition: median, min, max. */
  ratio: { median: number; min: number; max: number };
  /** With `against`: the other spool's median import time and its ratio to bare. */
  against?: { ms: number; ratio: { median: number; min: number; max: number } };
}

const DECLARE = new URL("../declare.ts", import.meta.url).href;

// The file's own work with spool's calls doing nothing.
const BARE = `export function io(spec) { return spec; }
export const cpu = io;
export function defineTasks(tasks) { return tasks; }
`;

// Loads the declaring module, then times the task file's import alone.
const PROBE = `const [declare, file] = Deno.args;
await import(declare);
const start = performance.now();
await import(file);
console.log(performance.now() - start);
`;

function waits(count: number): string {
  return `const spec = {};
for (let i = 0; i < ${count}; i++) {
  spec["w" + i] = io({ trusted: false, run: () => new Promise((r) => setTimeout(r, 100)) });
}
export default defineTasks(spec);
`;
}

function graph(count: number): string {
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const dep = i % 10 === 0 ? "" : `, deps: ["t${i - 1}"]`;
    lines.push(
      `  t${i}: io({ permissions, inputs: ["src/d${i}"], outputs: ["out/t${i}.txt"]${dep}, run: () => copy(${i}) }),`,
    );
  }
  return `function copy(i) {
  return i;
}
const permissions = { read: ["src"], write: ["out"] };
export default defineTasks({
${lines.join("\n")}
});
`;
}

async function importMs(dir: string, declare: string, file: string): Promise<number> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-prompt", `${dir}/probe.js`, declare, file],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (code !== 0) {
    throw new Error(`Importing ${file} failed: ${new TextDecoder().decode(stderr)}`);
  }
  return Number(new TextDecoder().decode(stdout).trim());
}

function spread(ratios: number[]): { median: number; min: number; max: number } {
  return { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) };
}

/**
 * Times the imports.
 *
 * @param options `quick` for a tenth of the tasks; `repeat` repetitions;
 * `against`, the URL or path of another spool's `declare.ts`.
 * @returns One row per task file.
 */
export async function defineRows(
  options: { quick?: boolean; repeat?: number; against?: string } = {},
): Promise<DefineRow[]> {
  const repeat = options.repeat ?? 5;
  const scale = options.quick ? 10 : 1;
  const dir = await Deno.makeTempDir({ prefix: "spool-bench-define-" });
  try {
    await Deno.writeTextFile(`${dir}/probe.js`, PROBE);
    await Deno.writeTextFile(`${dir}/bare.js`, BARE);
    const declares: Record<string, string> = { spool: DECLARE, bare: `file://${dir}/bare.js` };
    if (options.against !== undefined) {
      declares.against = new URL(options.against, `file://${Deno.cwd()}/`).href;
    }
    const shapes = [
      { name: "10,000 io tasks that wait (bench/_sandbox.ts)", tasks: 10_000 / scale, body: waits },
      {
        name: "1,000 tasks: deps, inputs, outputs, permissions (bench/_cache.ts)",
        tasks: 1_000 / scale,
        body: graph,
      },
    ];
    const rows: DefineRow[] = [];
    for (const [s, shape] of shapes.entries()) {
      const files: Record<string, string> = {};
      for (const [who, declare] of Object.entries(declares)) {
        const path = `${dir}/${who}_${s}.js`;
        await Deno.writeTextFile(
          path,
          `import { defineTasks, io } from ${JSON.stringify(declare)};\n${shape.body(shape.tasks)}`,
        );
        files[who] = `file://${path}`;
      }
      const who = Object.keys(declares);
      const samples: Record<string, number[]> = Object.fromEntries(who.map((w) => [w, []]));
      // One warm-up round, for deno's caches; then turns, rotating who goes first.
      for (let r = -1; r < repeat; r++) {
        const order = who.map((_, i) => who[(i + Math.max(r, 0)) % who.length]);
        for (const w of order) {
          const ms = await importMs(dir, declares[w], files[w]);
          if (r >= 0) samples[w].push(ms);
        }
      }
      const ratios = (w: string) => samples[w].map((ms, i) => ms / samples.bare[i]);
      rows.push({
        name: shape.name,
        tasks: shape.tasks,
        spool: median(samples.spool),
        bare: median(samples.bare),
        ratio: spread(ratios("spool")),
        against: samples.against === undefined
          ? undefined
          : { ms: median(samples.against), ratio: spread(ratios("against")) },
      });
    }
    return rows;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * The rows as a Markdown table.
 *
 * @param rows From {@linkcode defineRows}.
 * @returns The table.
 */
export function formatDefineRows(rows: DefineRow[]): string {
  const x = (r: { median: number; min: number; max: number }) =>
    `${r.median.toFixed(2)}x [${r.min.toFixed(2)}-${r.max.toFixed(2)}]`;
  const against = rows.some((r) => r.against !== undefined);
  const lines = [
    `| import a task file (fresh process) | spool | bare declarations | ratio (median [min-max]) | spool's share per task |${
      against ? " other spool | its ratio |" : ""
    }`,
    `| --- | --- | --- | --- | --- |${against ? " --- | --- |" : ""}`,
  ];
  for (const r of rows) {
    const perTask = ((r.spool - r.bare) * 1000) / r.tasks;
    lines.push(
      `| ${r.name} | ${r.spool.toFixed(1)} ms | ${r.bare.toFixed(1)} ms | ${x(r.ratio)} | ${
        perTask.toFixed(2)
      } µs |${
        r.against === undefined ? "" : ` ${r.against.ms.toFixed(1)} ms | ${x(r.against.ratio)} |`
      }`,
    );
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      quick: { type: "boolean", default: false },
      repeat: { type: "string" },
      against: { type: "string" },
    },
  });
  const rows = await defineRows({
    quick: values.quick,
    repeat: values.repeat === undefined ? undefined : Number(values.repeat),
    against: values.against,
  });
  console.log(formatDefineRows(rows));
}
