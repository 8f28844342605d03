/**
 * What importing spool and declaring 10,000 io tasks costs in a fresh
 * process: what every sandbox host pays again when its worker imports the
 * task file, and what `spool` pays before its first task. Each sample is a
 * fresh `deno` process; several checkouts take turns, so that a before/after
 * comparison is made in one run on the same machine.
 *
 * ```sh
 * deno run -A bench/_import.ts                      # this checkout
 * deno run -A bench/_import.ts . ../spool-before    # this one against another, in turns
 * ```
 *
 * @module
 */

import { median } from "./_stats.ts";

const REPEAT = 7;
const TASKS = 10_000;

/** The child: imports mod.ts from the checkout at `root`, then declares the tasks. */
const CHILD = `
const root = Deno.args[0];
const start = performance.now();
const spool = await import(new URL("mod.ts", root).href);
const imported = performance.now();
const spec = {};
for (let i = 0; i < ${TASKS}; i++) {
  spec["w" + i] = spool.io({ run: () => new Promise((r) => setTimeout(r, 100)) });
}
spool.defineTasks(spec);
console.log(JSON.stringify([imported - start, performance.now() - start]));
`;

async function sample(root: string): Promise<[number, number]> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-prompt", "--allow-all", CHILD, root],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (code !== 0) {
    throw new Error(`the child for ${root} failed:\n${new TextDecoder().decode(stderr)}`);
  }
  return JSON.parse(new TextDecoder().decode(stdout));
}

if (import.meta.main) {
  const roots = (Deno.args.length === 0 ? ["."] : Deno.args).map((path) =>
    new URL(`${Deno.realPathSync(path)}/`, "file:///").href
  );
  const samples = roots.map(() => ({ imports: [] as number[], totals: [] as number[] }));
  for (let r = 0; r < REPEAT; r++) {
    for (let i = 0; i < roots.length; i++) {
      // Alternate which checkout goes first, so neither always meets a warmer machine.
      const k = r % 2 === 0 ? i : roots.length - 1 - i;
      const [imported, total] = await sample(roots[k]);
      samples[k].imports.push(imported);
      samples[k].totals.push(total);
    }
  }
  const base = median(samples[0].totals);
  console.log(`| checkout | import mod.ts | import + ${TASKS} io tasks | vs first |`);
  console.log("| --- | --- | --- | --- |");
  roots.forEach((root, i) => {
    const total = median(samples[i].totals);
    console.log(
      `| ${root} | ${median(samples[i].imports).toFixed(1)} ms | ${total.toFixed(1)} ms | ${
        (total / base).toFixed(2)
      }x |`,
    );
  });
}
