import assert from "node:assert/strict";
import { WorkerPool } from "../mod.ts";
import { fixtureUrl } from "./_helpers.ts";

const MODULE = fixtureUrl("cpu_tasks.ts");

interface Where {
  name: string;
  inWorker: boolean;
}

Deno.test("WorkerPool runs a cpu body in a worker, never on the main thread", async () => {
  using pool = new WorkerPool(MODULE, { size: 1 });
  const { value, worker } = await pool.run("where", {});
  assert.deepEqual(value, { name: "spool-worker-0", inWorker: true });
  assert.equal(worker, 0);
  assert.equal(
    (globalThis as Record<string, unknown>).spoolFixtureBodyRan,
    undefined,
    "no body ran on the main thread",
  );
});

Deno.test("WorkerPool hands deps and results across as structured clones", async () => {
  using pool = new WorkerPool(MODULE, { size: 1 });
  const input = { list: [1, 2, 3], tag: "original" };
  const { value } = await pool.run("mutate", { input });
  const result = value as { input: typeof input } & Where;
  assert.deepEqual(input, { list: [1, 2, 3], tag: "original" }, "the main side's copy is intact");
  assert.deepEqual(result.input, { list: [1, 2, 3, 99], tag: "changed in worker" });
  assert.notEqual(result.input, input);
  assert.equal(result.inWorker, true);
});

Deno.test("WorkerPool fails a throwing cpu task with its own error, message and stack", async () => {
  using pool = new WorkerPool(MODULE, { size: 1 });
  const error = await pool.run("boom", {}).then(
    () => assert.fail("the task should fail"),
    (error: Error) => error,
  );
  assert.ok(
    error instanceof RangeError,
    "the error keeps its class, as it would on the main thread",
  );
  assert.equal(error.name, "RangeError");
  assert.equal(error.message, "boom from a worker");
  assert.match(error.stack!, /^RangeError: boom from a worker/);
  assert.match(error.stack!, /at explode \(.*fixtures\/cpu_tasks\.ts:\d+:\d+\)/);
  // The worker survives its task's error and serves the next one.
  assert.equal(((await pool.run("where", {})).value as Where).inWorker, true);
});

Deno.test("WorkerPool keeps its workers warm: one worker serves task after task", async () => {
  using pool = new WorkerPool(MODULE, { size: 1 });
  const runs = [];
  for (let i = 0; i < 4; i++) runs.push(await pool.run("count", {}));
  // A module-level counter in the task file keeps counting: the same worker,
  // with the same module instance, ran all four.
  assert.deepEqual(runs.map((r) => (r.value as { calls: number }).calls), [1, 2, 3, 4]);
  assert.deepEqual(runs.map((r) => r.worker), [0, 0, 0, 0]);
  assert.equal(pool.liveCount, 1);
});

Deno.test("WorkerPool spreads concurrent cpu tasks over more than one worker", async () => {
  // Shared memory needs workers in this process.
  using pool = new WorkerPool(MODULE, { size: 2, isolation: "worker" });
  const board = new SharedArrayBuffer(4);
  // Each body waits until the other has arrived: both return met only when
  // they ran at the same time, in two different workers.
  const [a, b] = await Promise.all([
    pool.run("meet", { board, parties: 2 }),
    pool.run("meet", { board, parties: 2 }),
  ]);
  const [va, vb] = [a.value, b.value] as (Where & { met: boolean })[];
  assert.equal(va.met && vb.met, true, "both bodies ran at the same time");
  assert.deepEqual([a.worker, b.worker].sort(), [0, 1]);
  assert.deepEqual([va.name, vb.name].sort(), ["spool-worker-0", "spool-worker-1"]);
  assert.equal(pool.liveCount, 2);
});

Deno.test("WorkerPool never runs more tasks than workers, and queues the rest", async () => {
  using pool = new WorkerPool(MODULE, { size: 2 });
  const starts: number[] = [];
  const runs = Array.from(
    { length: 6 },
    () => pool.run("where", {}, { onStart: (w) => starts.push(w) }),
  );
  assert.equal(pool.pendingCount, 4);
  const results = await Promise.all(runs);
  assert.ok(results.every((r) => r.worker === 0 || r.worker === 1));
  assert.ok(starts.every((w) => w === 0 || w === 1));
  assert.equal(starts.length, 6);
  assert.equal(pool.liveCount, 2);
  assert.equal(pool.pendingCount, 0);
});

Deno.test("WorkerPool terminates the worker of an aborted running task and starts afresh", async () => {
  using pool = new WorkerPool(MODULE, { size: 1 });
  assert.equal(((await pool.run("count", {})).value as { calls: number }).calls, 1);

  const controller = new AbortController();
  const started = Promise.withResolvers<number>();
  const forever = pool.run("forever", {}, {
    signal: controller.signal,
    onStart: started.resolve,
  });
  assert.equal(await started.promise, 0);
  const reason = new Error("stop it");
  controller.abort(reason);
  await assert.rejects(forever, (e) => e === reason);
  assert.equal(pool.liveCount, 0, "the busy worker was terminated");

  // A new worker, with a new copy of the task module, takes the next task.
  const next = await pool.run("count", {});
  assert.equal((next.value as { calls: number }).calls, 1);
  assert.equal(next.worker, 0);
});

Deno.test("WorkerPool removes an aborted queued task without running it", async () => {
  using pool = new WorkerPool(MODULE, { size: 1 });
  const busy = new AbortController();
  const forever = pool.run("forever", {}, { signal: busy.signal });
  const queued = new AbortController();
  const waiting = pool.run("where", {}, { signal: queued.signal });
  assert.equal(pool.pendingCount, 1);
  queued.abort(new Error("not needed"));
  assert.equal(pool.pendingCount, 0);
  await assert.rejects(waiting, /not needed/);
  busy.abort(new Error("done"));
  await assert.rejects(forever, /done/);
});

Deno.test("WorkerPool rejects an already aborted signal without starting a worker", async () => {
  using pool = new WorkerPool(MODULE, { size: 1 });
  await assert.rejects(
    pool.run("where", {}, { signal: AbortSignal.abort(new Error("early")) }),
    /early/,
  );
  assert.equal(pool.liveCount, 0);
});

Deno.test("WorkerPool reports deps and results that cannot be cloned", async () => {
  using pool = new WorkerPool(MODULE, { size: 1 });
  await assert.rejects(pool.run("where", { fn: () => 1 }), {
    name: "TypeError",
    message:
      /Cannot send the dependencies of cpu task "where" to a worker: they are not structured-cloneable/,
  });
  await assert.rejects(pool.run("uncloneable", {}), {
    name: "TypeError",
    message: /Cannot return the result of cpu task "uncloneable": it is not structured-cloneable/,
  });
});

Deno.test("WorkerPool rejects a task the module does not define as cpu", async () => {
  using pool = new WorkerPool(MODULE, { size: 1 });
  await assert.rejects(pool.run("nope", {}), /The task module has no cpu task "nope"/);
  await assert.rejects(pool.run("notCpu", {}), /The task module has no cpu task "notCpu"/);
});

Deno.test("WorkerPool.close rejects running and queued tasks, and later runs", async () => {
  const pool = new WorkerPool(MODULE, { size: 1 });
  const running = pool.run("forever", {});
  const queued = pool.run("where", {});
  pool.close();
  await assert.rejects(running, /the worker pool was closed/);
  await assert.rejects(queued, /the worker pool was closed/);
  await assert.rejects(pool.run("where", {}), /the worker pool is closed/);
  assert.equal(pool.liveCount, 0);
});

Deno.test("WorkerPool rejects a size that is not a positive integer", () => {
  for (const size of [0, -1, 1.5, Number.NaN]) {
    assert.throws(() => new WorkerPool(MODULE, { size }), {
      name: "RangeError",
      message:
        `Cannot create worker pool as 'size' must be a positive integer: current value is ${size}`,
    });
  }
  using pool = new WorkerPool(MODULE);
  assert.equal(pool.size, navigator.hardwareConcurrency);
  assert.equal(pool.liveCount, 0, "workers start when work arrives");
});

Deno.test("WorkerPool ends idle cpu workers after idleTimeout and starts new ones for new work", async () => {
  assert.throws(() => new WorkerPool(MODULE, { idleTimeout: -1 }), {
    name: "RangeError",
    message:
      "Cannot create worker pool as 'idleTimeout' must be a number of ms, 0 or more: current value is -1",
  });
  using pool = new WorkerPool(MODULE, { size: 1, isolation: "worker", idleTimeout: 0 });
  await pool.run("where", {});
  // Give the idle timer its turn.
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(pool.liveCount, 0);
  assert.equal(((await pool.run("where", {})).value as Where).inWorker, true);
});

Deno.test("a sandboxed io body sees its signal aborted whether it read the signal before the cancel or after", async () => {
  using pool = new WorkerPool(fixtureUrl("late_signal.ts"), { size: 1 });
  // Not cancelled: the signal it reads late is not aborted (and the host is
  // ready, so that both bodies below are running when cancelled).
  assert.deepEqual((await pool.runIo("late", {})).value, { aborted: false, reason: undefined });
  const first = new AbortController();
  const early = pool.runIo("early", {}, { signal: first.signal });
  const second = new AbortController();
  const late = pool.runIo("late", {}, { signal: second.signal });
  await new Promise((resolve) => setTimeout(resolve, 100));
  first.abort(new Error("stop early"));
  second.abort(new Error("stop late"));
  // A running io body is told, and the job settles when the body ends.
  assert.equal((await early).value, "stop early");
  assert.deepEqual((await late).value, { aborted: true, reason: "stop late" });
});

Deno.test("an io task aborted while its sandbox starts never runs there", async () => {
  const stray: string[] = [];
  const output: string[] = [];
  using pool = new WorkerPool(fixtureUrl("announce.ts"), {
    size: 1,
    onStrayOutput: (_stream, text) => stray.push(text),
  });
  const onOutput = (_stream: string, text: string) => output.push(text);
  const controller = new AbortController();
  // Sent ahead to the host while it starts, then cancelled before it is ready.
  const aborted = pool.runIo("announce", {}, { signal: controller.signal, onOutput });
  controller.abort(new Error("not needed"));
  await assert.rejects(aborted, { message: "not needed" });
  // The same host answers the next task after it has seen the first.
  const { value } = await pool.runIo("announce", {}, { onOutput });
  assert.equal(value, 1);
  assert.deepEqual(output, ["announce ran"]);
  assert.deepEqual(stray, [], "the aborted body printed nothing: it never ran");
});
