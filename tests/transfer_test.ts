import assert from "node:assert/strict";
import { run, transfer, WorkerPool } from "../mod.ts";
import { transferList } from "../lib/pool/_protocol.ts";
import { runShard } from "../lib/run/shard.ts";
import tasks from "./fixtures/shard_tasks.ts";
import { fixtureUrl } from "./_helpers.ts";

const TASKS = fixtureUrl("shard_tasks.ts");

Deno.test("transfer returns its argument, and the next message moves its buffer once", () => {
  const bytes = new Uint8Array(8);
  assert.equal(transfer(bytes), bytes);
  const message = { deps: { a: [1, "x", { nested: bytes }] } };
  assert.deepEqual(transferList(message), [bytes.buffer]);
  // Collected once: a second message carrying it copies (or fails on a detached buffer).
  assert.deepEqual(transferList(message), []);
});

Deno.test("transferList finds marked buffers in maps, sets and views and leaves unmarked ones", () => {
  const inMap = transfer(new ArrayBuffer(4));
  const inSet = transfer(new Float64Array(2));
  const view = transfer(new DataView(new ArrayBuffer(4)));
  const unmarked = new Uint8Array(4);
  const found = transferList([new Map([["k", inMap]]), new Set([inSet]), view, unmarked]);
  assert.equal(found.length, 3);
  assert.ok(found.includes(inMap));
  assert.ok(found.includes(inSet.buffer as ArrayBuffer));
  assert.ok(found.includes(view.buffer as ArrayBuffer));
  assert.ok(!found.includes(unmarked.buffer));
});

Deno.test("transfer leaves a SharedArrayBuffer unmarked: it is shared, never moved", () => {
  const shared = new Int32Array(new SharedArrayBuffer(16));
  assert.equal(transfer(shared), shared);
  assert.equal(transfer(shared.buffer), shared.buffer);
  assert.deepEqual(transferList({ shared, buffer: shared.buffer }), []);
});

Deno.test("transfer rejects a value that is not a buffer, and a detached buffer", () => {
  assert.throws(
    () => transfer([1, 2] as unknown as ArrayBuffer),
    new TypeError(
      "Cannot mark a value for transfer as 'value' must be an ArrayBuffer, a typed array or a DataView: current value is an instance of Array",
    ),
  );
  const buffer = new ArrayBuffer(8);
  structuredClone(buffer, { transfer: [buffer] });
  assert.throws(() => transfer(buffer), /Cannot mark a buffer for transfer as it is detached/);
});

Deno.test("A marked buffer in a cpu task's dependencies moves to an in-process worker", async () => {
  // Moving needs the worker in this process; a host process gets a copy.
  using pool = new WorkerPool(TASKS, { size: 1, isolation: "worker" });
  const moved = transfer(new Uint8Array(16).fill(1));
  assert.equal((await pool.run("received", { bytes: moved })).value, 16);
  assert.equal(moved.byteLength, 0, "the caller's buffer is detached");

  const copied = new Uint8Array(16).fill(1);
  assert.equal((await pool.run("received", { bytes: copied })).value, 16);
  assert.equal(copied.byteLength, 16, "an unmarked buffer is copied");
});

Deno.test("A marked result moves out of the worker, leaving the worker's copy detached", async () => {
  const report = await run(tasks, { targets: ["kept"], workers: 1 });
  assert.ok(report.ok, JSON.stringify(report.tasks.map((t) => t.error)));
  assert.deepEqual(report.results.keep, new Uint8Array(1024).fill(7));
  assert.equal(report.results.kept, 0);
});

Deno.test("A SharedArrayBuffer passes untouched: an in-process worker writes into the caller's memory", async () => {
  using pool = new WorkerPool(TASKS, { size: 1, isolation: "worker" });
  const shared = new Int32Array(new SharedArrayBuffer(64));
  assert.equal((await pool.run("fill", { shared: transfer(shared) })).value, 16);
  assert.deepEqual([...shared], new Array(16).fill(5));
});

Deno.test("A SharedArrayBuffer cannot cross into a sandbox process: the task fails and says why", async () => {
  using pool = new WorkerPool(TASKS, { size: 1 });
  const shared = new Int32Array(new SharedArrayBuffer(64));
  await assert.rejects(pool.run("fill", { shared }), (error: Error) => {
    assert.equal(error.name, "TypeError");
    assert.equal(
      error.message,
      'Cannot send the dependencies of cpu task "fill" to a worker: they are not structured-cloneable (#<SharedArrayBuffer> could not be cloned: shared memory cannot cross into a sandbox process (give the task isolation "worker" to share it))',
    );
    return true;
  });
});

Deno.test("A typed array of items goes to workers in chunks and stays usable by the caller", async () => {
  using pool = new WorkerPool(TASKS, { size: 2 });
  const items = new Float64Array(10_000).map((_, i) => i);
  const shard = tasks.tasks.get("typed")!.shard!;
  const result = await runShard(pool, "typed", { ...shard, items }, { deps: {} });
  assert.deepEqual(result, Array.from(items, (x) => x * 2));
  assert.equal(items.length, 10_000);
  assert.equal(items[9_999], 9_999);
});
