import assert from "node:assert/strict";
import {
  type ChunkResult,
  cpu,
  type CpuChunk,
  defineTasks,
  io,
  ItemError,
  run,
  TaskFileError,
  type TaskShard,
} from "../mod.ts";
import { CHUNKS_PER_WORKER, chunkSize, MIN_CHUNK_MS, runShard } from "../lib/run/shard.ts";
import tasks from "./fixtures/shard_tasks.ts";
import { fixture, spool } from "./_helpers.ts";

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/**
 * A cpu lane that maps chunks on the main thread and records them, with a
 * chosen `map` time per item, so chunk planning can be checked exactly.
 */
function fakeLane(
  size: number,
  msPerItem: number,
  map: (item: unknown) => unknown = (item) => (item as number) * 10,
) {
  const chunks: { start: number; length: number }[] = [];
  let running = 0;
  let peak = 0;
  const lane = {
    size,
    async runChunk(_task: string, chunk: CpuChunk): Promise<ChunkResult> {
      running++;
      peak = Math.max(peak, running);
      chunks.push({ start: chunk.start, length: chunk.items.length });
      await Promise.resolve();
      running--;
      const value = Array.from(chunk.items, map);
      return { value, worker: 0, ms: msPerItem * chunk.items.length };
    },
  };
  return { lane, chunks, peak: () => peak };
}

function shardOf(items: unknown, extra: Partial<TaskShard> = {}): TaskShard {
  return {
    items: items as TaskShard["items"],
    map: (x) => x,
    reduce: undefined,
    initial: undefined,
    hasInitial: false,
    chunkSize: undefined,
    ...extra,
  };
}

Deno.test("chunkSize gives each worker four chunks when nothing is known of the items", () => {
  assert.equal(CHUNKS_PER_WORKER, 4);
  assert.equal(chunkSize(200_000, 2), 25_000);
  assert.equal(chunkSize(8, 2), 1);
  assert.equal(chunkSize(3, 8), 1);
  assert.equal(chunkSize(0, 2), 1);
});

Deno.test("chunkSize grows chunks of cheap items to a millisecond of work, but keeps every worker busy", () => {
  // 0.2 µs an item: a millisecond is 5,000 items, more than the 2,500 of four per worker.
  assert.equal(MIN_CHUNK_MS, 1);
  assert.equal(chunkSize(20_000, 2, 0.0002), 5_000);
  // Items too cheap to measure: one chunk per worker, never fewer.
  assert.equal(chunkSize(20_000, 2, 0), 10_000);
  assert.equal(chunkSize(20_000, 2, 1e-9), 10_000);
  // Expensive items keep the four-per-worker split.
  assert.equal(chunkSize(80, 2, 300), 10);
});

Deno.test("chunkSize rejects a worker count that is not a positive integer", () => {
  assert.throws(
    () => chunkSize(10, 0),
    new RangeError(
      "Cannot size chunks as 'workers' must be a positive integer: current value is 0",
    ),
  );
});

Deno.test("runShard keeps one chunk per worker in flight and returns results in input order", async () => {
  const { lane, chunks, peak } = fakeLane(3, 1);
  const result = await runShard(lane, "t", shardOf(range(120)), { deps: {} });
  assert.deepEqual(result, range(120).map((i) => i * 10));
  assert.equal(peak(), 3);
  // Chunks cover every item exactly once.
  const covered = chunks.toSorted((a, b) => a.start - b.start);
  let next = 0;
  for (const { start, length } of covered) {
    assert.equal(start, next);
    next += length;
  }
  assert.equal(next, 120);
});

Deno.test("runShard keeps a remote lane's chunksInFlight sent, sized for its slots, in input order", async () => {
  const { lane, chunks, peak } = fakeLane(2, 1);
  const result = await runShard(
    { ...lane, chunksInFlight: 16 },
    "t",
    shardOf(range(64), { chunkSize: 1 }),
    { deps: {} },
  );
  assert.deepEqual(result, range(64).map((i) => i * 10));
  // Chunks wait queued on the lane, not a round trip each through the run.
  assert.equal(peak(), 16);
  assert.equal(chunks.length, 64);
});

Deno.test("runShard sizes chunks after the first one's measured time", async () => {
  // 120 items at 1 ms each on 3 workers: first chunks of 10 (four per worker),
  // then the remaining 90 in chunks of at most 1/4 of a worker's share.
  const slow = fakeLane(3, 1);
  await runShard(slow.lane, "t", shardOf(range(120)), { deps: {} });
  assert.deepEqual(slow.chunks.slice(0, 3).map((c) => c.length), [10, 10, 10]);
  assert.ok(slow.chunks.length >= 3 * CHUNKS_PER_WORKER - 1, `${slow.chunks.length} chunks`);

  // 120,000 items at 0.01 µs: chunks of 10,000 take 0.1 ms, so the rest grows
  // to one chunk per worker.
  const cheap = fakeLane(3, 0.00001);
  await runShard(cheap.lane, "t", shardOf(range(120_000)), { deps: {} });
  assert.deepEqual(cheap.chunks.map((c) => c.length), [
    10_000,
    10_000,
    10_000,
    30_000,
    30_000,
    30_000,
  ]);
});

Deno.test("runShard uses the task's chunkSize as given", async () => {
  const { lane, chunks } = fakeLane(2, 0.00001);
  await runShard(lane, "t", shardOf(range(50), { chunkSize: 7 }), { deps: {} });
  assert.deepEqual(chunks.map((c) => c.length), [7, 7, 7, 7, 7, 7, 7, 1]);
});

Deno.test("runShard keeps array results whole and copes with one chunk per item", async () => {
  const { lane } = fakeLane(2, 0.00001, (item) => [item, "x"]);
  const pairs = shardOf(range(100_000), { chunkSize: 1 });
  const result = await runShard(lane, "t", pairs, { deps: {} }) as unknown[];
  assert.equal(result.length, 100_000);
  assert.deepEqual(result[99_999], [99_999, "x"]);
});

Deno.test("runShard folds the chunks' results in order with reduce and initial", async () => {
  const { lane } = fakeLane(2, 1);
  const reduce = (a: unknown, b: unknown) => `${a}|${b}`;
  const shard = shardOf(range(4), { chunkSize: 1, reduce, initial: "start", hasInitial: true });
  // The fake lane does not reduce in chunks, so each chunk's value is a one-item array.
  assert.equal(await runShard(lane, "t", shard, { deps: {} }), "start|0|10|20|30");
  const empty = shardOf([], { reduce, initial: 0, hasInitial: true });
  assert.equal(await runShard(lane, "t", empty, { deps: {} }), 0);
});

Deno.test("runShard gets items from a function of the task's context", async () => {
  const { lane } = fakeLane(2, 1);
  const shard = shardOf(({ deps }: { deps: Record<string, unknown> }) => deps.list);
  assert.deepEqual(await runShard(lane, "t", shard, { deps: { list: [1, 2, 3] } }), [10, 20, 30]);
  await assert.rejects(
    runShard(lane, "t", shardOf(() => 42), { deps: {} }),
    new TypeError(
      "Cannot shard cpu task \"t\" as 'items' must be an array, a typed array or an iterable: current value is number",
    ),
  );
});

Deno.test("A sharded task maps every item in a worker and returns results in input order", async () => {
  const report = await run(tasks, {
    targets: ["indexes", "fromDeps", "typed", "generated"],
    workers: 2,
  });
  assert.ok(report.ok, JSON.stringify(report.tasks.map((t) => t.error)));
  assert.deepEqual(report.results.indexes, range(10_000).map((i) => [i, i]));
  assert.deepEqual(report.results.fromDeps, range(1000).map((i) => i + 1));
  assert.deepEqual(report.results.typed, range(50_000).map((i) => i * 2));
  assert.deepEqual(report.results.generated, range(100).map((i) => i * 3));
});

Deno.test("A sharded task with reduce returns the fold, in input order", async () => {
  const report = await run(tasks, { targets: ["sum", "concat", "empty"], workers: 2 });
  assert.ok(report.ok);
  assert.equal(report.results.sum, range(100_000).reduce((a, i) => a + i * i, 0));
  assert.equal(report.results.concat, range(500).map((i) => `${i},`).join(""));
  assert.equal(report.results.empty, undefined);
});

Deno.test("A failing item fails its task with the item's index and its own error", async () => {
  const report = await run(tasks, { targets: ["boom"], workers: 2 });
  const boom = report.tasks.find((t) => t.name === "boom")!;
  assert.equal(boom.status, "failed");
  assert.equal(boom.error?.name, "ItemError");
  assert.equal(
    boom.error?.message,
    'Item 37 of cpu task "boom" failed: RangeError: item 37 is bad',
  );
  // The stack is the item's own: it points into the task file's map.
  assert.match(boom.error?.stack ?? "", /shard_tasks\.ts:\d+:\d+/);
});

Deno.test("A sharded task whose map returns a promise fails, saying map must be synchronous", async () => {
  const report = await run(tasks, { targets: ["asyncMap"], workers: 2 });
  const task = report.tasks.find((t) => t.name === "asyncMap")!;
  assert.equal(task.status, "failed");
  assert.match(
    task.error?.message ?? "",
    /Cannot map cpu task "asyncMap" as 'map' must be synchronous: it returned a promise/,
  );
});

Deno.test("ItemError carries the item's index and its own error as cause", () => {
  const cause = new RangeError("bad");
  const error = new ItemError("t", 5, cause);
  assert.equal(error.index, 5);
  assert.equal(error.cause, cause);
  assert.equal(error.message, 'Item 5 of cpu task "t" failed: RangeError: bad');
});

Deno.test("A sharded task runs on more than one worker", async () => {
  const report = await run(tasks, { targets: ["names"], workers: 2 });
  assert.ok(report.ok, JSON.stringify(report.tasks[0].error));
  const names = report.results.names as string[];
  assert.equal(names.length, 8);
  assert.equal(new Set(names).size, 2, names.join(", "));
});

Deno.test("A sharded task reports its workers, its summed chunk time in busyMs, and its progress", async () => {
  const progress: { done: number; total: number; worker?: number }[] = [];
  const report = await run(tasks, {
    targets: ["names"],
    workers: 2,
    reporter: { taskProgress: ({ done, total, worker }) => progress.push({ done, total, worker }) },
  });
  const task = report.tasks[0];
  assert.deepEqual(task.workers, [0, 1]);
  // Eight items that each spin 20 ms by Date.now() ran in workers (less a
  // little for the clock's coarse steps), whatever the wall time.
  assert.ok(task.workMs! >= 8 * 15, `workMs ${task.workMs}`);
  assert.equal(report.busyMs, task.workMs);
  assert.deepEqual(progress.map((p) => p.done), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.ok(progress.every((p) => p.total === 8 && (p.worker === 0 || p.worker === 1)));
});

Deno.test("defineTasks rejects a sharded task that is io, has run too, or lacks map", () => {
  const bad = (spec: unknown) => defineTasks({ t: spec as ReturnType<typeof cpu> });
  assert.throws(
    () => bad(io({ trusted: true, items: [1], map: (x: number) => x } as never)),
    (error: Error) =>
      error instanceof TaskFileError && /only cpu tasks can be sharded/.test(error.message),
  );
  assert.throws(
    () => bad(cpu({ items: [1], map: (x: number) => x, run: () => 1 } as never)),
    (error: Error) => /has both 'run' and 'items'/.test(error.message),
  );
  assert.throws(
    () => bad(cpu({ items: [1] } as never)),
    (error: Error) => /has 'items' but no map function/.test(error.message),
  );
  assert.throws(
    () => bad(cpu({ items: 5, map: (x: number) => x } as never)),
    (error: Error) => /has invalid 'items'/.test(error.message),
  );
  assert.throws(
    () => bad(cpu({ items: [1], map: (x: number) => x, chunkSize: 0 })),
    (error: Error) =>
      /has an invalid 'chunkSize': expected a positive integer, got 0/.test(error.message),
  );
});

Deno.test("A sharded task run from the command line prints its fold", async () => {
  const { code, stdout } = await spool(
    ["run", "--file", fixture("shard_tasks.ts"), "sum", "--report", "json"],
  );
  assert.equal(code, 0);
  const report = JSON.parse(stdout);
  assert.equal(report.tasks[0].result, range(100_000).reduce((a, i) => a + i * i, 0));
});
