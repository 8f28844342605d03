/**
 * The program that checks a task file's declarations are a function of its
 * code alone (see `_no_op_record_writer.ts`). It runs in a process that may
 * read only the task file's code files and spool's own (no environment, no
 * other file, no network, no subprocess), and here the clock and random
 * numbers throw too; then it imports the task file, selects the targets, and
 * prints the SHA-256 of the planned tasks' declarations (`codeText` without
 * env values). A top level that reads anything else throws, and the process
 * fails: its task file is never answered without being imported.
 *
 *     deno run --no-prompt --allow-read=<code files> _pure_import_main.ts <module> <targets JSON>
 *
 * @module
 */

const refuse = (what: string) => () => {
  throw new Error(`A task file's top level must not read ${what} for its run to be a no-op`);
};
Date.now = refuse("the clock");
performance.now = refuse("the clock");
Math.random = refuse("random numbers");
crypto.getRandomValues = refuse("random numbers");
crypto.randomUUID = refuse("random numbers");
const RealDate = Date;
globalThis.Date = new Proxy(RealDate, {
  construct(target, args, newTarget) {
    if (args.length === 0) refuse("the clock")();
    return Reflect.construct(target, args, newTarget);
  },
  apply: refuse("the clock"),
});
const scope = globalThis as unknown as Record<string, object | undefined>;
const temporal = scope.Temporal;
if (temporal !== undefined) {
  scope.Temporal = new Proxy(temporal, {
    get: (target, key) => key === "Now" ? refuse("the clock")() : Reflect.get(target, key),
  });
}

const [module, targets] = Deno.args;
const { loadTaskFile } = await import("../declare/load.ts");
const { codeText, hex } = await import("./_no_op.ts");
const { tasks } = await loadTaskFile(module);
const planned = tasks.graph.select(JSON.parse(targets)).map((name) => tasks.tasks.get(name)!);
const text = codeText(planned, false);
if (text === undefined) Deno.exit(3);
const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
console.log(hex(new Uint8Array(digest)));
