/**
 * What declaring tasks costs: the import of a big task file, as every sandbox
 * host and every CLI run pays it, against the same file's own work (building
 * its specs and closures, with `io()` and `defineTasks()` doing nothing),
 * taking turns in each repetition. Each import is timed in a fresh process,
 * cold, after spool's modules are loaded (their load is the same for any
 * file; the startup bench times it); the table gives its wall time and the
 * process's CPU time beyond the bare file's, per task (all threads, the
 * garbage collector's included: less disturbed by a busy machine).
 *
 *     deno run -A bench/_define.ts
 *     deno run -A bench/_define.ts --quick
 *     deno run -A bench/_define.ts --against /tmp/old/declare.ts   # another spool as well
 *
 * The files: 10,000 io tasks that wait (bench/_sandbox.ts's `waits()`), and
 * 1,000 tasks with deps, inputs, outputs and one permission set
 * (bench/_cache.ts's shape). `--against` adds a third contender, another
 * copy of spool's `declare.ts` (an older commit, say), in the same turns; its
 * CPU figure also holds any difference in loading its own modules.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { findMissingGrants, normalizePermissions } from "../lib/declare/permissions.ts";
import { median } from "./_stats.ts";

/** Median, min and max of per-repetition figures. */
export interface Spread {
  median: number;
  min: number;
  max: number;
}

/** One spool's figures for one task file, each against the bare declarations of the same turn. */
export interface Contender {
  /** Median import time, in ms. */
  ms: number;
  /** Import time / the bare import's, per repetition. */
  ratio: Spread;
  /** Process CPU time beyond the bare import's, per task, in µs, per repetition. */
  cpuPerTask: Spread;
}

/** One task file: spool's import against the file's own work. */
export interface DefineRow {
  /** The task file. */
  name: string;
  /** How many tasks it declares. */
  tasks: number;
  /** Median import time of the bare declarations, in ms. */
  bare: number;
  /** This spool. */
  spool: Contender;
  /** With `against`: the other spool. */
  against?: Contender;
}

const DECLARE = new URL("../declare.ts", import.meta.url).href;

// The file's own work with spool's calls doing nothing.
const BARE = `export function io(spec) { return spec; }
export const cpu = io;
export function defineTasks(tasks) { return tasks; }
`;

// Loads spool's modules, then times the task file's import alone; prints
// that time and the process's CPU time (all threads, the collector's too).
const PROBE = `import process from "node:process";
const [declare, file] = Deno.args;
await import(declare);
const start = performance.now();
await import(file);
const ms = performance.now() - start;
const { user, system } = process.cpuUsage();
console.log(JSON.stringify({ ms, cpuMs: (user + system) / 1000 }));
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

interface Sample {
  /** The import's wall time. */
  ms: number;
  /** The process's CPU time when the import is done. */
  cpuMs: number;
}

async function importOnce(dir: string, declare: string, file: string): Promise<Sample> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-prompt", `${dir}/probe.js`, declare, file],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (code !== 0) {
    throw new Error(`Importing ${file} failed: ${new TextDecoder().decode(stderr)}`);
  }
  return JSON.parse(new TextDecoder().decode(stdout));
}

function spread(ratios: number[]): Spread {
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
    // What each task file imports, and what its process loads before the
    // timed import: spool's modules for the bare file too, so that the two
    // processes differ only in the declarations.
    const declares: Record<string, string> = { spool: DECLARE, bare: `file://${dir}/bare.js` };
    const preload: Record<string, string> = { spool: DECLARE, bare: DECLARE };
    if (options.against !== undefined) {
      declares.against = preload.against = new URL(options.against, `file://${Deno.cwd()}/`).href;
    }
    const count = (n: number) => n.toLocaleString("en-US");
    const shapes = [
      { name: "io tasks that wait (bench/_sandbox.ts)", tasks: 10_000 / scale, body: waits },
      {
        name: "tasks: deps, inputs, outputs, permissions (bench/_cache.ts)",
        tasks: 1_000 / scale,
        body: graph,
      },
    ].map((shape) => ({ ...shape, name: `${count(shape.tasks)} ${shape.name}` }));
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
      const samples: Record<string, Sample[]> = Object.fromEntries(who.map((w) => [w, []]));
      // One warm-up round, for deno's caches; then turns, rotating who goes first.
      for (let r = -1; r < repeat; r++) {
        const order = who.map((_, i) => who[(i + Math.max(r, 0)) % who.length]);
        for (const w of order) {
          const sample = await importOnce(dir, preload[w], files[w]);
          if (r >= 0) samples[w].push(sample);
        }
      }
      const bare = samples.bare;
      const contender = (w: string): Contender => ({
        ms: median(samples[w].map((x) => x.ms)),
        ratio: spread(samples[w].map((x, i) => x.ms / bare[i].ms)),
        cpuPerTask: spread(
          samples[w].map((x, i) => ((x.cpuMs - bare[i].cpuMs) * 1000) / shape.tasks),
        ),
      });
      rows.push({
        name: shape.name,
        tasks: shape.tasks,
        bare: median(bare.map((x) => x.ms)),
        spool: contender("spool"),
        against: samples.against === undefined ? undefined : contender("against"),
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
  const x = (r: Spread) => `${r.median.toFixed(2)}x [${r.min.toFixed(2)}-${r.max.toFixed(2)}]`;
  const us = (r: Spread) => `${r.median.toFixed(1)} µs [${r.min.toFixed(1)}-${r.max.toFixed(1)}]`;
  const against = rows.some((r) => r.against !== undefined);
  const lines = [
    `| import a task file (fresh process) | bare declarations | spool | ratio (median [min-max]) | spool's CPU per task |${
      against ? " other spool | its ratio | its CPU per task |" : ""
    }`,
    `| --- | --- | --- | --- | --- |${against ? " --- | --- | --- |" : ""}`,
  ];
  for (const r of rows) {
    const other = r.against === undefined
      ? ""
      : ` ${r.against.ms.toFixed(1)} ms | ${x(r.against.ratio)} | ${us(r.against.cpuPerTask)} |`;
    lines.push(
      `| ${r.name} | ${r.bare.toFixed(1)} ms | ${r.spool.ms.toFixed(1)} ms | ${
        x(r.spool.ratio)
      } | ${us(r.spool.cpuPerTask)} |${other}`,
    );
  }
  return lines.join("\n");
}

/** The runner's grant check over many tasks that share one permissions object. */
export interface GrantRow {
  /** How many tasks. */
  tasks: number;
  /** Median time when they share one normalized object (as defineTasks gives them), in ms. */
  shared: number;
  /** Median time when each holds its own equal object, in ms. */
  distinct: number;
  /** Distinct / shared per repetition. */
  ratio: Spread;
}

/**
 * Times `findMissingGrants` (the check `run()` makes before any task
 * starts) over tasks that share one permissions object, against the same
 * tasks each holding an equal object of its own, taking turns. The process
 * holds every grant, so both find nothing missing.
 *
 * @param options `quick` for a tenth of the tasks; `repeat` repetitions.
 * @returns The row.
 */
export function grantRow(options: { quick?: boolean; repeat?: number } = {}): GrantRow {
  const count = options.quick ? 1_000 : 10_000;
  const repeat = options.repeat ?? 5;
  const declared = { read: ["/tmp", "/etc"], write: ["/tmp"], env: ["HOME"], net: ["example.com"] };
  const one = normalizePermissions("t", declared);
  const shared = Array.from({ length: count }, (_, i) => ({ name: `t${i}`, permissions: one }));
  const distinct = shared.map(({ name }) => ({
    name,
    permissions: normalizePermissions(name, declared),
  }));
  const time = (tasks: typeof shared) => {
    const start = performance.now();
    if (findMissingGrants(tasks).length > 0) throw new Error("Run the bench with -A");
    return performance.now() - start;
  };
  const samples = { shared: [] as number[], distinct: [] as number[] };
  for (let r = -1; r < repeat; r++) {
    const first = r % 2 === 0 ? "shared" : "distinct";
    const second = first === "shared" ? "distinct" : "shared";
    const a = time(first === "shared" ? shared : distinct);
    const b = time(second === "shared" ? shared : distinct);
    if (r < 0) continue;
    samples[first].push(a);
    samples[second].push(b);
  }
  return {
    tasks: count,
    shared: median(samples.shared),
    distinct: median(samples.distinct),
    ratio: spread(samples.distinct.map((ms, i) => ms / samples.shared[i])),
  };
}

/**
 * The grant row as a Markdown table.
 *
 * @param row From {@linkcode grantRow}.
 * @returns The table.
 */
export function formatGrantRow(row: GrantRow): string {
  return [
    "| grant check before a run (in process) | one shared object | an equal object each | ratio (median [min-max]) |",
    "| --- | --- | --- | --- |",
    `| findMissingGrants over ${row.tasks.toLocaleString("en-US")} tasks, 5 scopes | ${
      row.shared.toFixed(1)
    } ms | ${row.distinct.toFixed(1)} ms | ${row.ratio.median.toFixed(2)}x [${
      row.ratio.min.toFixed(2)
    }-${row.ratio.max.toFixed(2)}] |`,
  ].join("\n");
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
  const repeat = values.repeat === undefined ? undefined : Number(values.repeat);
  const rows = await defineRows({ quick: values.quick, repeat, against: values.against });
  console.log(formatDefineRows(rows));
  console.log();
  console.log(formatGrantRow(grantRow({ quick: values.quick, repeat })));
}
