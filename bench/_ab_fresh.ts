/**
 * Two or more checkouts of spool against each other on the sandbox bench's
 * fresh-process row: 10,000 io waits of 100 ms, sandboxed and `trusted`,
 * each `run()` in a `deno` process of its own, the checkouts and the two
 * kinds taking turns (which goes first alternates). Prints, per checkout, the
 * median `run()` wall of each kind and the median ratio of the pairs.
 *
 *     deno run -A bench/_ab_fresh.ts 10 ../before .    # 10 pairs per checkout
 *
 * README "What the sandbox costs" quotes it for each change of a round.
 *
 * @module
 */

import { median } from "./_stats.ts";

const [countArg, ...trees] = Deno.args;
const pairs = Number(countArg);
if (!Number.isInteger(pairs) || pairs < 1 || trees.length === 0) {
  console.error("usage: deno run -A bench/_ab_fresh.ts <pairs> <checkout>...");
  Deno.exit(2);
}

const dir = await Deno.makeTempDir({ prefix: "spool-ab-fresh-" });
interface Checkout {
  name: string;
  runner: string;
  files: { sandboxed: string; trusted: string };
  walls: { sandboxed: number[]; trusted: number[] };
}

const checkouts: Checkout[] = [];
for (const [index, tree] of trees.entries()) {
  const root = new URL(`file://${await Deno.realPath(tree)}/`);
  const files = { sandboxed: "", trusted: "" };
  for (const kind of ["sandboxed", "trusted"] as const) {
    const path = `${dir}/tasks_${index}_${kind}.ts`;
    await Deno.writeTextFile(
      path,
      `import { defineTasks, io } from ${JSON.stringify(new URL("declare.ts", root).href)};
const spec = {};
for (let i = 0; i < 10000; i++) {
  spec["w" + i] = io({ trusted: ${
        kind === "trusted"
      }, run: () => new Promise((r) => setTimeout(r, 100)) });
}
export default defineTasks(spec);
`,
    );
    files[kind] = path;
  }
  const runner = `${dir}/run_${index}.ts`;
  await Deno.writeTextFile(
    runner,
    `import { run } from ${JSON.stringify(new URL("mod.ts", root).href)};
const tasks = (await import(new URL("file://" + Deno.args[0]).href)).default;
const t0 = performance.now();
const report = await run(tasks, { concurrency: 10000 });
if (!report.ok) Deno.exit(1);
console.log(performance.now() - t0);
`,
  );
  checkouts.push({ name: tree, runner, files, walls: { sandboxed: [], trusted: [] } });
}

async function once(checkout: Checkout, kind: "sandboxed" | "trusted"): Promise<void> {
  const { code, stdout } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--unstable-worker-options", checkout.runner, checkout.files[kind]],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (code !== 0) throw new Error(`A run of ${checkout.name} (${kind}) failed (exit ${code})`);
  checkout.walls[kind].push(Number(new TextDecoder().decode(stdout).trim()));
}

try {
  for (let i = 0; i < pairs; i++) {
    for (const checkout of checkouts) {
      const order = i % 2 === 0
        ? ["sandboxed", "trusted"] as const
        : ["trusted", "sandboxed"] as const;
      for (const kind of order) await once(checkout, kind);
    }
  }
  for (const { name, walls } of checkouts) {
    const ratios = walls.sandboxed.map((wall, i) => wall / walls.trusted[i]);
    console.log(
      `${name}: sandboxed ${median(walls.sandboxed).toFixed(0)} ms, trusted ${
        median(walls.trusted).toFixed(0)
      } ms, ratio ${median(ratios).toFixed(2)}x [${Math.min(...ratios).toFixed(2)}-${
        Math.max(...ratios).toFixed(2)
      }]`,
    );
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
