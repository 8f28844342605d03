import assert from "node:assert/strict";
import {
  type FromWorker,
  packResults,
  packRuns,
  type ToHost,
  type ToWorker,
  unpackRuns,
} from "../lib/pool/_protocol.ts";
import { run } from "../mod.ts";
import { tempDir } from "./_helpers.ts";

function unpackAll(batch: ToHost[]): ToHost[] {
  const out: ToHost[] = [];
  for (const message of batch) {
    if (message.type !== "runs") {
      out.push(message);
      continue;
    }
    unpackRuns(message, (one) => {
      // Unpacked, a run has deps and args of its own, undefined: no read of
      // them reaches Object.prototype in the worker.
      assert.ok(Object.hasOwn(one, "deps") && one.deps === undefined);
      assert.ok(Object.hasOwn(one, "args") && one.args === undefined);
      const { deps: _deps, args: _args, ...rest } = one;
      out.push(rest);
    });
  }
  return out;
}

/** The types of a packed batch, in order (the worker's batches are lists without a prototype). */
function typesOf(batch: ArrayLike<{ type: string }>): string[] {
  return Array.from(batch, (message) => message.type);
}

function resultsOf(batch: FromWorker[]): FromWorker[] {
  const out: FromWorker[] = [];
  for (let m = 0; m < batch.length; m++) {
    const message = batch[m];
    if (message.type !== "results") {
      out.push(message);
      continue;
    }
    for (let i = 0; i < message.values.length; i++) {
      out.push({ type: "result", id: message.ids[i], value: message.values[i], ms: message.ms[i] });
    }
  }
  return out;
}

Deno.test("Run messages without deps or args cross packed, and unpack to the same messages in the same order", () => {
  const run = (id: number, kind: "io" | "cpu" = "io"): ToWorker => ({
    type: "run",
    id,
    task: `t${id}`,
    kind,
  });
  const batch: ToHost[] = [
    ...Array.from({ length: 20 }, (_, i) => run(i + 1)),
    { type: "cancel", id: 3, reason: { name: "AbortError", message: "stop" } },
    { type: "run", id: 21, task: "withDeps", kind: "io", deps: { a: 1 }, args: [] },
    ...Array.from({ length: 17 }, (_, i) => run(i + 22, "io")),
    ...Array.from({ length: 16 }, (_, i) => run(i + 39, "cpu")),
    ...Array.from({ length: 3 }, (_, i) => run(i + 55)),
  ];
  const packed = packRuns(batch);
  assert.deepEqual(typesOf(packed), [
    "runs",
    "cancel",
    "run",
    "runs",
    "runs",
    "run",
    "run",
    "run",
  ]);
  assert.deepEqual(unpackAll(packed), batch);
  // A short batch, or one with nothing to pack, is left as it is.
  const short = batch.slice(0, 10);
  assert.equal(packRuns(short), short);
});

Deno.test("Results with primitive values cross packed; objects and symbols go alone, in order", () => {
  const values = [undefined, null, 0, -0, NaN, 1.5, "s", true, 10n, "", false, 7, 8, 9, 10, 11];
  const primitive = values.map((value, i): FromWorker => ({
    type: "result",
    id: i + 1,
    value,
    ms: i + 0.25,
  }));
  const symbol: FromWorker = { type: "result", id: 100, value: Symbol("no"), ms: 1 };
  const object: FromWorker = { type: "result", id: 101, value: { a: 1 }, ms: 1 };
  const chunk: FromWorker = { type: "result", id: 102, value: 5 };
  const batch = [...primitive, symbol, object, chunk, ...primitive];
  const packed = packResults(batch);
  assert.deepEqual(typesOf(packed), [
    "results",
    "result",
    "result",
    "result",
    "results",
  ]);
  const back = resultsOf(packed);
  assert.equal(back.length, batch.length);
  for (let i = 0; i < batch.length; i++) {
    const [a, b] = [back[i], batch[i]] as { id: number; value: unknown; ms?: number }[];
    assert.equal(a.id, b.id);
    assert.ok(Object.is(a.value, b.value), `value ${i}`);
    assert.equal(a.ms, b.ms);
  }
});

Deno.test("A sandbox returns many primitive results intact, and a symbol fails only its own task", async () => {
  await using dir = await tempDir();
  const declare = JSON.stringify(new URL("../declare.ts", import.meta.url).href);
  const file = await dir.write(
    "many.ts",
    `import { defineTasks, io } from ${declare};\n` +
      `const values = [undefined, null, 0, -0, NaN, 1.5, "s", true, 10n, "", false];\n` +
      `const spec = {};\n` +
      `for (let i = 0; i < 60; i++) spec["t" + i] = io({ run: () => values[i % values.length] });\n` +
      `spec.symbol = io({ run: () => Symbol("no") });\n` +
      `export default defineTasks(spec);\n`,
  );
  const module = new URL(`file://${file}`).href;
  const { default: tasks } = await import(module);
  const report = await run(tasks, { module, concurrency: 100, keepGoing: true });
  const values = [undefined, null, 0, -0, NaN, 1.5, "s", true, 10n, "", false];
  for (let i = 0; i < 60; i++) {
    const task = report.tasks.find((t) => t.name === `t${i}`)!;
    assert.equal(task.status, "ok");
    assert.ok(Object.is(report.results[`t${i}`], values[i % values.length]), `t${i}`);
  }
  const symbol = report.tasks.find((t) => t.name === "symbol")!;
  assert.equal(symbol.status, "failed");
  assert.match(symbol.error!.message, /not structured-cloneable/);
});
