/**
 * Start-up: `spool --help`, `spool list` and a `spool run` of one small task,
 * each a fresh `deno run` of cli.ts, against an empty `deno run`. Each
 * repetition runs every command `inner` times in an order that rotates
 * between repetitions and keeps each command's median; the ratio to the empty
 * run is taken within the repetition.
 *
 * @module
 */

import { median } from "./_stats.ts";
import { ratio } from "./_turns.ts";
import type { MemoryRow } from "./_memory.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const TASKS = new URL("./_memory_tasks.ts", import.meta.url).pathname;
const TASKS_MOD = new URL("./_memory_tasks_full.ts", import.meta.url).pathname;

/** The commands timed, by label; `empty` is the baseline. */
function commands(empty: string): Record<string, string[]> {
  const cli = ["run", "-A", `${ROOT}cli.ts`];
  return {
    empty: ["run", empty],
    help: [...cli, "--help"],
    list: [...cli, "list", "--file", TASKS],
    "list (mod.ts)": [...cli, "list", "--file", TASKS_MOD],
    run: [...cli, "run", "--file", TASKS, "hello", "--no-cache"],
  };
}

/** Wall times in ms by label, one median per repetition. */
export type StartupSamples = Record<string, number[]>;

async function time(args: string[]): Promise<number> {
  const start = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const ms = performance.now() - start;
  if (!out.success) {
    throw new Error(`deno ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return ms;
}

/**
 * Takes the start-up samples.
 *
 * @param options Repetitions, runs of each command per repetition, progress.
 * @returns The samples.
 */
export async function startupSamples(
  options: { repeat: number; inner: number; log?: (line: string) => void },
): Promise<StartupSamples> {
  const dir = await Deno.makeTempDir({ prefix: "spool-bench-startup-" });
  try {
    const empty = `${dir}/empty.ts`;
    await Deno.writeTextFile(empty, "");
    const all = commands(empty);
    const labels = Object.keys(all);
    const samples: StartupSamples = Object.fromEntries(labels.map((l) => [l, []]));
    for (const label of labels) await time(all[label]); // compiled and cached once
    for (let r = 0; r < options.repeat; r++) {
      const order = labels.map((_, i) => labels[(i + r) % labels.length]);
      options.log?.(`start-up, repetition ${r + 1} of ${options.repeat}`);
      const runs: Record<string, number[]> = Object.fromEntries(labels.map((l) => [l, []]));
      for (let i = 0; i < options.inner; i++) {
        for (const label of order) runs[label].push(await time(all[label]));
      }
      for (const label of labels) samples[label].push(median(runs[label]));
    }
    return samples;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const FIGURES: Record<string, string> = {
  help: "`spool --help`",
  list: "`spool list` (task file on declare.ts)",
  "list (mod.ts)": "`spool list` (task file on mod.ts)",
  run: "`spool run` of one trusted io task",
};

/**
 * The table's rows: each command's wall time against an empty `deno run`
 * (target for `--help` and `list`: at most 2x).
 *
 * @param samples From {@linkcode startupSamples}.
 * @returns The rows.
 */
export function startupRows(samples: StartupSamples): MemoryRow[] {
  const empty = samples.empty;
  return Object.entries(FIGURES).map(([label, figure]) => {
    const r = ratio(samples[label], empty);
    const targeted = label === "help" || label === "list";
    return {
      figure: `${figure}: wall, process start to exit`,
      spool: `${median(samples[label]).toFixed(0)} ms`,
      baseline: `empty deno run ${median(empty).toFixed(0)} ms`,
      ratio: `${r.median.toFixed(2)}x [${r.min.toFixed(2)}–${r.max.toFixed(2)}]`,
      target: targeted ? "≤ 2.00x an empty run" : "—",
      met: targeted ? r.median <= 2 : undefined,
    };
  });
}
