/**
 * What the runner itself costs per io task: trusted io tasks through run()
 * (timed from the call, the task set already defined),
 * so that no sandbox starts and only spool's own bookkeeping is measured.
 * Each figure runs in a fresh `deno` process so that its peak RSS is its own.
 *
 * ```sh
 * deno run -A bench/_exec.ts            # every figure
 * deno run -A bench/_exec.ts fanout     # one: fanout, chain, bare-fanout, bare-chain, waits
 * ```
 *
 * @module
 */

import { defineTasks, io, run, type TaskDefinition } from "../mod.ts";

const TRIVIAL = 50_000;
const WAITS = 10_000;
const WAIT_MS = 100;

/** One figure as a child process prints it. */
interface Figure {
  name: string;
  wallMs: number;
  peakRssMb: number;
  /** The report's sum of task durations, for runs that have one. */
  taskMs?: number;
}

function trivialTasks(count: number, chain: boolean) {
  const specs: Record<string, TaskDefinition<unknown, never>> = {};
  for (let i = 0; i < count; i++) {
    specs[`t${i}`] = io({
      trusted: true,
      deps: chain && i > 0 ? [`t${i - 1}`] : [],
      run: () => i,
    });
  }
  return defineTasks(specs);
}

function waitTasks(count: number, ms: number) {
  const specs: Record<string, TaskDefinition<unknown, never>> = {};
  for (let i = 0; i < count; i++) {
    specs[`w${i}`] = io({
      trusted: true,
      run: () => new Promise((resolve) => setTimeout(() => resolve(i), ms)),
    });
  }
  return defineTasks(specs);
}

/** The floor: the same DAG as bare promises, each awaiting its dependencies. */
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

function peakRssMb(): number {
  const status = Deno.readTextFileSync("/proc/self/status");
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 1024);
}

async function measure(name: string): Promise<Figure> {
  let start = performance.now();
  let taskMs: number | undefined;
  if (name === "fanout" || name === "chain") {
    const tasks = trivialTasks(TRIVIAL, name === "chain");
    start = performance.now();
    const report = await run(tasks);
    if (!report.ok) throw new Error(`The ${name} run failed`);
  } else if (name === "bare-fanout" || name === "bare-chain") {
    await bareDag(TRIVIAL, name === "bare-chain");
  } else if (name === "waits") {
    const tasks = waitTasks(WAITS, WAIT_MS);
    start = performance.now();
    const report = await run(tasks, { concurrency: WAITS });
    if (!report.ok) throw new Error("The waits run failed");
    taskMs = report.tasks.reduce((sum, task) => sum + task.durationMs, 0);
  } else {
    throw new Error(`Unknown figure "${name}"`);
  }
  const wallMs = Math.round(performance.now() - start);
  return { name, wallMs, peakRssMb: peakRssMb(), ...(taskMs === undefined ? {} : { taskMs }) };
}

async function child(name: string): Promise<Figure> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", import.meta.filename!, "--child", name],
    stderr: "inherit",
  }).output();
  if (!output.success) throw new Error(`The ${name} figure failed`);
  return JSON.parse(new TextDecoder().decode(output.stdout));
}

if (import.meta.main) {
  if (Deno.args[0] === "--child") {
    console.log(JSON.stringify(await measure(Deno.args[1])));
  } else {
    const names = Deno.args.length > 0
      ? Deno.args
      : ["bare-fanout", "fanout", "bare-chain", "chain", "waits"];
    const repeat = 3;
    for (const name of names) {
      const figures: Figure[] = [];
      for (let r = 0; r < repeat; r++) figures.push(await child(name));
      const walls = figures.map((f) => f.wallMs).sort((a, b) => a - b);
      const rss = figures.map((f) => f.peakRssMb).sort((a, b) => a - b);
      const task = figures.map((f) => f.taskMs).filter((ms) => ms !== undefined);
      console.log(
        `${name.padEnd(12)} wall ${walls.join(" / ")} ms (median ${walls[1]})  peak RSS ${
          rss[1]
        } MB${
          task.length > 0
            ? `  task time ${(task.sort((a, b) => a - b)[1] / 1000).toFixed(1)} s for ${
              (WAITS * WAIT_MS / 1000).toFixed(0)
            } s of waits`
            : ""
        }`,
      );
    }
  }
}
