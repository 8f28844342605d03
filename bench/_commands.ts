/**
 * What a command task costs: `sh("echo hi")` (a deno shell process that loads
 * dax and runs the command in a process group of its own) against the same
 * command spawned bare by a trusted io task (`Deno.Command("sh", ["-c",
 * "echo hi"])`), and against `deno task` running it. They take turns in each
 * repetition; the ratio is per repetition.
 *
 *     deno run -A bench/_commands.ts            # prints the rows
 *     deno run -A bench/_commands.ts --quick
 *
 * @module
 */

import { parseArgs } from "node:util";
import { defineTasks, io, run, sh } from "../mod.ts";
import { median } from "./_stats.ts";

/** One figure: ms per command in each configuration. */
export interface CommandRow {
  /** What was measured. */
  name: string;
  /** Median ms per command of `sh()`. */
  sh: number;
  /** Median ms per command of the baseline. */
  baseline: number;
  /** The baseline's name. */
  baselineName: string;
  /** sh / baseline per repetition. */
  ratio: { median: number; min: number; max: number };
}

const COMMAND = "echo hi";

async function viaSh(count: number): Promise<number> {
  const spec: Record<string, ReturnType<typeof sh>> = {};
  for (let i = 0; i < count; i++) spec[`c${i}`] = sh(COMMAND);
  const tasks = defineTasks(spec);
  const t0 = performance.now();
  const report = await run(tasks, { concurrency: 1 });
  if (report.tasks.some((t) => t.status !== "ok")) throw new Error("sh bench task failed");
  return (performance.now() - t0) / count;
}

async function viaCommand(count: number): Promise<number> {
  const spec: Record<string, ReturnType<typeof io>> = {};
  for (let i = 0; i < count; i++) {
    spec[`c${i}`] = io({
      trusted: true,
      run: async () =>
        new TextDecoder().decode(
          (await new Deno.Command("sh", { args: ["-c", COMMAND], stdout: "piped" }).output())
            .stdout,
        ).trim(),
    });
  }
  const tasks = defineTasks(spec);
  const t0 = performance.now();
  await run(tasks, { concurrency: 1 });
  return (performance.now() - t0) / count;
}

async function viaDenoTask(count: number): Promise<number> {
  const dir = await Deno.makeTempDir({ prefix: "spool-bench-" });
  try {
    await Deno.writeTextFile(`${dir}/deno.json`, JSON.stringify({ tasks: { hi: COMMAND } }));
    const t0 = performance.now();
    for (let i = 0; i < count; i++) {
      await new Deno.Command(Deno.execPath(), {
        args: ["task", "--quiet", "hi"],
        cwd: dir,
        stdout: "null",
        stderr: "null",
      }).output();
    }
    return (performance.now() - t0) / count;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Measures the rows.
 *
 * @param options `quick` for fewer commands; `repeat` repetitions.
 * @returns The rows.
 */
export async function commandRows(options: { quick: boolean; repeat: number }): Promise<
  CommandRow[]
> {
  const count = options.quick ? 4 : 10;
  const runs = { sh: [] as number[], command: [] as number[], task: [] as number[] };
  const order = [
    async () => runs.sh.push(await viaSh(count)),
    async () => runs.command.push(await viaCommand(count)),
    async () => runs.task.push(await viaDenoTask(count)),
  ];
  for (let rep = 0; rep < options.repeat; rep++) {
    for (let i = 0; i < order.length; i++) await order[(i + rep) % order.length]();
  }
  const row = (name: string, baselineName: string, base: number[]): CommandRow => {
    const ratios = runs.sh.map((ms, i) => ms / base[i]);
    return {
      name,
      sh: median(runs.sh),
      baseline: median(base),
      baselineName,
      ratio: { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) },
    };
  };
  return [
    row(`ms per "${COMMAND}", one at a time`, "bare Deno.Command", runs.command),
    row(`ms per "${COMMAND}", one at a time`, "deno task", runs.task),
  ];
}

/**
 * The rows as a table.
 *
 * @param rows The rows.
 * @returns The text.
 */
export function formatCommandRows(rows: CommandRow[]): string {
  return [
    "command tasks: sh() against a baseline (ratio: median [min-max] of the repetitions)",
    ...rows.map((r) =>
      `  ${r.name}: sh() ${r.sh.toFixed(0)} ms, ${r.baselineName} ${
        r.baseline.toFixed(0)
      } ms, ratio ${r.ratio.median.toFixed(2)}x [${r.ratio.min.toFixed(2)}-${
        r.ratio.max.toFixed(2)
      }]`
    ),
  ].join("\n");
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { quick: { type: "boolean", default: false } },
  });
  const rows = await commandRows({ quick: values.quick, repeat: values.quick ? 2 : 3 });
  console.log(formatCommandRows(rows));
}
