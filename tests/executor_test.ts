import assert from "node:assert/strict";
import { AsyncLocalStorage } from "node:async_hooks";
import {
  asCompleted,
  BrokenWorkerError,
  CancelledError,
  CpuExecutor,
  executor,
  IoExecutor,
  moduleFunction,
} from "../mod.ts";
import type * as math from "./fixtures/executor/math.ts";
import type * as setup from "./fixtures/executor/setup.ts";

const MATH = import.meta.resolve("./fixtures/executor/math.ts");
const square = moduleFunction<typeof math.square>(MATH, "square");
const fail = moduleFunction<typeof math.fail>(MATH, "fail");
const crash = moduleFunction<typeof math.crash>(MATH, "crash");
const readEnv = moduleFunction<typeof math.readEnv>(MATH, "readEnv");
const hold = moduleFunction<typeof math.hold>(MATH, "hold");
const whereAmI = moduleFunction<typeof math.whereAmI>(MATH, "whereAmI");
const realmId = moduleFunction<typeof math.realmId>(MATH, "realmId");

/** A promise the test settles by hand. */
function deferred<T = void>(): PromiseWithResolvers<T> {
  return Promise.withResolvers<T>();
}

/** A gate for `hold`: [released, running]. */
function gate(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(8));
}

/** Resolves once a `hold` call marked the gate as running. */
async function running(g: Int32Array): Promise<void> {
  const keepAlive = setInterval(() => {}, 1000);
  try {
    while (Atomics.load(g, 1) === 0) await Atomics.waitAsync(g, 1, 0, 1000).value;
  } finally {
    clearInterval(keepAlive);
  }
}

function release(g: Int32Array): void {
  Atomics.store(g, 0, 1);
  Atomics.notify(g, 0);
}

// ---- io flavour ------------------------------------------------------------

Deno.test("IoExecutor.map yields results in input order when later calls finish first", async () => {
  await using pool = new IoExecutor({ maxWorkers: 3 });
  const gates = [deferred(), deferred(), deferred()];
  const allStarted = deferred();
  let started = 0;
  const order: number[] = [];
  const results = Array.fromAsync(pool.map(async (i: number) => {
    if (++started === 3) allStarted.resolve();
    await gates[i].promise;
    order.push(i);
    return `result ${i}`;
  }, [0, 1, 2]));
  await allStarted.promise;
  gates[2].resolve();
  gates[1].resolve();
  gates[0].resolve();
  assert.deepEqual(await results, ["result 0", "result 1", "result 2"]);
  assert.deepEqual(order, [2, 1, 0]);
});

Deno.test("IoExecutor runs at most maxWorkers calls at once", async () => {
  await using pool = new IoExecutor({ maxWorkers: 2 });
  let active = 0;
  let most = 0;
  const futures = Array.from({ length: 6 }, () =>
    pool.submit(async () => {
      most = Math.max(most, ++active);
      await new Promise((resolve) => setTimeout(resolve, 5));
      active--;
    }));
  assert.equal(pool.pendingCount, 4);
  await Promise.all(futures);
  assert.equal(most, 2);
});

Deno.test("a failed call raises no unhandled rejection and throws where it is awaited", async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (event: PromiseRejectionEvent) => {
    unhandled.push(event.reason);
    event.preventDefault();
  };
  globalThis.addEventListener("unhandledrejection", onUnhandled);
  try {
    await using pool = new IoExecutor();
    const future = pool.submit(() => {
      throw new RangeError("bad input");
    });
    // Give the event loop full turns, in which an unhandled rejection would be reported.
    for (let i = 0; i < 3; i++) await new Promise((resolve) => setTimeout(resolve, 0));
    assert.deepEqual(unhandled, []);
    assert.equal(future.state, "rejected");
    await assert.rejects(future, { name: "RangeError", message: "bad input" });
  } finally {
    globalThis.removeEventListener("unhandledrejection", onUnhandled);
  }
});

Deno.test("cancelling a pending future removes it from the queue and it never runs", async () => {
  await using pool = new IoExecutor({ maxWorkers: 1 });
  const block = deferred();
  const first = pool.submit(() => block.promise);
  let ran = false;
  const second = pool.submit(() => {
    ran = true;
  });
  await Promise.resolve();
  assert.equal(first.state, "running");
  assert.equal(second.state, "pending");
  assert.equal(pool.pendingCount, 1);

  assert.equal(second.cancel(), true);
  assert.equal(second.state, "cancelled");
  assert.equal(second.done, true);
  assert.equal(pool.pendingCount, 0);
  assert.equal(first.cancel(), false, "a running call is not cancelled, as in Python");

  block.resolve();
  await first;
  await assert.rejects(second, CancelledError);
  assert.equal(ran, false);
});

Deno.test("aborting a submit signal drops a queued call and reaches a running one", async () => {
  await using pool = new IoExecutor({ maxWorkers: 1 });
  const controller = new AbortController();
  const seen = deferred<unknown>();
  const runningCall = pool.submit(
    (_: void, { signal }) =>
      new Promise((_, reject) => {
        signal.addEventListener("abort", () => {
          seen.resolve(signal.reason);
          reject(signal.reason);
        });
      }),
    undefined,
    { signal: controller.signal },
  );
  const queued = pool.submit(() => "never", undefined, { signal: controller.signal });
  await Promise.resolve();
  const reason = new Error("stop");
  controller.abort(reason);
  assert.equal(await seen.promise, reason);
  await assert.rejects(runningCall, (error) => error === reason);
  await assert.rejects(queued, (error) => error === reason);
  assert.equal(queued.state, "cancelled");
  assert.equal(runningCall.state, "rejected");
});

Deno.test("shutdown with cancelFutures drops pending work, lets running calls finish and refuses new work", async () => {
  const pool = new IoExecutor({ maxWorkers: 1 });
  const block = deferred<string>();
  const first = pool.submit(() => block.promise);
  const second = pool.submit(() => "never");
  await Promise.resolve();
  const stopped = pool.shutdown({ cancelFutures: true });
  assert.equal(second.state, "cancelled");
  assert.throws(
    () => pool.submit(() => 1),
    /Cannot submit to the io executor: it has been shut down/,
  );
  block.resolve("finished");
  await stopped;
  assert.equal(await first, "finished");
});

Deno.test("await using waits for the calls submitted in its block", async () => {
  let finished = false;
  {
    await using pool = new IoExecutor();
    pool.submit(async () => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      finished = true;
    });
  }
  assert.equal(finished, true);
});

Deno.test("map reads an async iterable lazily, never more than bufferSize chunks ahead", async () => {
  await using pool = new IoExecutor({ maxWorkers: 4 });
  let pulled = 0;
  async function* numbers() {
    for (let n = 0; n < 1000; n++) {
      pulled++;
      yield n;
    }
  }
  const results = pool.map((n: number) => n * 2, numbers(), { bufferSize: 3 });
  assert.equal(pulled, 0, "nothing starts before the loop asks");
  const seen: number[] = [];
  for await (const value of results) {
    seen.push(value);
    assert.ok(pulled <= seen.length + 3 + 1, `pulled ${pulled} after ${seen.length} results`);
    if (seen.length === 5) break;
  }
  assert.deepEqual(seen, [0, 2, 4, 6, 8]);
  assert.ok(pulled < 20);
});

Deno.test("map throws a call's error at its place, after the results before it", async () => {
  await using pool = new IoExecutor({ maxWorkers: 4 });
  const seen: number[] = [];
  await assert.rejects(async () => {
    for await (
      const value of pool.map((n: number) => {
        if (n === 3) throw new Error("three");
        return n;
      }, [1, 2, 3, 4])
    ) seen.push(value);
  }, { message: "three" });
  assert.deepEqual(seen, [1, 2]);
});

Deno.test("map throws the inputs' own error after the results before it", async () => {
  await using pool = new IoExecutor();
  async function* inputs() {
    yield 1;
    yield 2;
    throw new Error("source broke");
  }
  const seen: number[] = [];
  await assert.rejects(async () => {
    for await (const value of pool.map((n: number) => n, inputs())) seen.push(value);
  }, { message: "source broke" });
  assert.deepEqual(seen, [1, 2]);
});

Deno.test("leaving a map loop early cancels the calls it started and drops the queued ones", async () => {
  await using pool = new IoExecutor({ maxWorkers: 2 });
  const started: number[] = [];
  const aborted: number[] = [];
  const slow = (n: number, { signal }: { signal: AbortSignal }) => {
    started.push(n);
    if (n === 0) return n;
    return new Promise<number>((_, reject) => {
      signal.addEventListener("abort", () => {
        aborted.push(n);
        reject(signal.reason);
      });
    });
  };
  for await (const value of pool.map(slow, [0, 1, 2, 3, 4])) {
    assert.equal(value, 0);
    break;
  }
  // 0 finished at once, so 1 and 2 held the two slots; 3 and 4 waited.
  assert.deepEqual(started, [0, 1, 2]);
  assert.deepEqual(aborted, [1, 2]);
  assert.equal(pool.pendingCount, 0);
});

Deno.test("asCompleted yields futures as they finish and its signal ends the wait", async () => {
  await using pool = new IoExecutor();
  const gates = [deferred<string>(), deferred<string>(), deferred<string>()];
  const futures = gates.map((g) => pool.submit(() => g.promise));
  const order: string[] = [];
  const controller = new AbortController();
  const loop = (async () => {
    for await (const { future } of asCompleted(futures, { signal: controller.signal })) {
      order.push(await future);
    }
  })();
  gates[1].resolve("b");
  gates[2].resolve("c");
  await new Promise((resolve) => setTimeout(resolve, 0));
  controller.abort(new Error("enough"));
  await assert.rejects(loop, { message: "enough" });
  assert.deepEqual(order, ["b", "c"]);
  gates[0].resolve("a");
});

Deno.test("IoExecutor calls a module function on the main thread", async () => {
  await using pool = new IoExecutor();
  assert.equal(await pool.submit(square, 9), 81);
  assert.equal(await pool.submit(whereAmI), "");
});

// ---- cpu flavour -----------------------------------------------------------

Deno.test("CpuExecutor runs a module function in a worker and returns its result", async () => {
  await using pool = new CpuExecutor({ maxWorkers: 1 });
  assert.equal(await pool.submit(square, 12), 144);
  assert.match(await pool.submit(whereAmI), /^spool-executor-0$/);
});

Deno.test("CpuExecutor runs two calls on two workers at once", async () => {
  await using pool = new CpuExecutor({ maxWorkers: 2 });
  const [a, b] = [gate(), gate()];
  const first = pool.submit(hold, a);
  const second = pool.submit(hold, b);
  await running(a);
  await running(b); // both hold their worker: they run in parallel
  assert.equal(pool.activeCount, 2);
  release(a);
  release(b);
  assert.deepEqual(await Promise.all([first, second]), ["released", "released"]);
});

Deno.test("CpuExecutor.map sends chunks and yields results in input order", async () => {
  await using pool = new CpuExecutor({ maxWorkers: 2 });
  const inputs = Array.from({ length: 50 }, (_, i) => i);
  const results = await Array.fromAsync(pool.map(square, inputs, { chunkSize: 7 }));
  assert.deepEqual(results, inputs.map((n) => n * n));
});

Deno.test("CpuExecutor.map yields a chunk's results before the call that failed in it", async () => {
  await using pool = new CpuExecutor({ maxWorkers: 1 });
  const maybeFail = moduleFunction<(n: number) => number>(
    `data:application/javascript,${
      encodeURIComponent("export function f(n) { if (n === 2) throw new Error('two'); return n; }")
    }`,
    "f",
  );
  const seen: number[] = [];
  await assert.rejects(async () => {
    for await (const value of pool.map(maybeFail, [0, 1, 2, 3], { chunkSize: 4 })) seen.push(value);
  }, { message: "two" });
  assert.deepEqual(seen, [0, 1]);
});

Deno.test("a function's error crosses from the worker with its name and message", async () => {
  await using pool = new CpuExecutor({ maxWorkers: 1 });
  await assert.rejects(pool.submit(fail, "out of range"), {
    name: "RangeError",
    message: "out of range",
  });
});

Deno.test("an input that cannot be cloned into a worker fails its call with a TypeError", async () => {
  await using pool = new CpuExecutor({ maxWorkers: 1 });
  const call = pool.submit(square, (() => 1) as unknown as number);
  await assert.rejects(call, (error) => {
    assert.ok(error instanceof TypeError);
    assert.match(
      error.message,
      /^Cannot send the input of "square" to a worker: it is not structured-cloneable/,
    );
    return true;
  });
  assert.equal(await pool.submit(square, 6), 36);
});

Deno.test("a worker that dies is a BrokenWorkerError naming the cause, and the executor goes on", async () => {
  await using pool = new CpuExecutor({ maxWorkers: 1 });
  const broken = pool.submit(crash);
  await assert.rejects(broken, (error) => {
    assert.ok(error instanceof BrokenWorkerError);
    assert.match(
      error.message,
      /^Cannot finish "crash" from .*math\.ts: worker 0 stopped \(.*boom\)$/,
    );
    assert.equal(error.code, "BROKEN_WORKER");
    return true;
  });
  assert.equal(await pool.submit(square, 3), 9);
});

Deno.test("a module that cannot load fails every call into it with BrokenWorkerError", async () => {
  await using pool = new CpuExecutor({ maxWorkers: 2 });
  const unreachable = moduleFunction<() => number>(
    import.meta.resolve("./fixtures/executor/broken.ts"),
    "unreachable",
  );
  const calls = [pool.submit(unreachable), pool.submit(unreachable), pool.submit(unreachable)];
  for (const call of calls) {
    await assert.rejects(call, (error) => {
      assert.ok(error instanceof BrokenWorkerError);
      assert.match(
        error.message,
        /^Cannot start a worker for .*broken\.ts: .*this module cannot load/,
      );
      return true;
    });
  }
  assert.equal(await pool.submit(square, 2), 4);
});

Deno.test("a cpu executor refuses a plain function and names the way out", () => {
  const pool = new CpuExecutor({ maxWorkers: 1 });
  assert.throws(
    () => pool.submit((n: number) => n, 1),
    (error) =>
      error instanceof TypeError && /must be \{ module, export \}/.test(error.message) &&
      /moduleFunction/.test(error.message),
  );
  return pool.shutdown();
});

Deno.test("workers get exactly the declared permissions", async () => {
  Deno.env.set("SPOOL_EXECUTOR_TEST", "visible");
  {
    await using none = new CpuExecutor({ maxWorkers: 1 });
    await assert.rejects(none.submit(readEnv, "SPOOL_EXECUTOR_TEST"), /env/);
  }
  await using granted = new CpuExecutor({
    maxWorkers: 1,
    permissions: { env: ["SPOOL_EXECUTOR_TEST"] },
  });
  assert.equal(await granted.submit(readEnv, "SPOOL_EXECUTOR_TEST"), "visible");
});

Deno.test("aborting a running cpu call ends its worker, and the next call gets a new one", async () => {
  await using pool = new CpuExecutor({ maxWorkers: 1 });
  const g = gate();
  const controller = new AbortController();
  const stuck = pool.submit(hold, g, { signal: controller.signal });
  await running(g);
  const reason = new Error("took too long");
  controller.abort(reason);
  await assert.rejects(stuck, (error) => error === reason);
  assert.equal(stuck.state, "cancelled");
  assert.equal(await pool.submit(square, 5), 25);
});

Deno.test("cancelling a queued cpu call removes it before any worker sees it", async () => {
  await using pool = new CpuExecutor({ maxWorkers: 1 });
  const g = gate();
  const first = pool.submit(hold, g);
  const second = pool.submit(square, 4);
  assert.equal(pool.pendingCount, 1);
  assert.equal(second.cancel(), true);
  assert.equal(pool.pendingCount, 0);
  await running(g);
  release(g);
  assert.equal(await first, "released");
  await assert.rejects(second, CancelledError);
});

Deno.test("shutdown without wait returns at once and running calls still finish", async () => {
  const pool = new CpuExecutor({ maxWorkers: 1 });
  const g = gate();
  const call = pool.submit(hold, g);
  await running(g);
  await pool.shutdown({ wait: false });
  assert.equal(call.state, "running");
  assert.throws(() => pool.submit(square, 1), /shut down/);
  release(g);
  assert.equal(await call, "released");
});

Deno.test("shutdown's signal stops the wait and cancels calls still running", async () => {
  const pool = new CpuExecutor({ maxWorkers: 1 });
  const g = gate();
  const stuck = pool.submit(hold, g);
  const queued = pool.submit(square, 1);
  await running(g);
  const controller = new AbortController();
  const stopping = pool.shutdown({ signal: controller.signal });
  controller.abort(new Error("give up"));
  await assert.rejects(stopping, { message: "give up" });
  await assert.rejects(stuck, { message: "give up" });
  await assert.rejects(queued, { message: "give up" });
});

Deno.test("shutdown with an aborted signal ends every call at once, as Python's terminate_workers", async () => {
  const pool = new CpuExecutor({ maxWorkers: 1 });
  const g = gate();
  const stuck = pool.submit(hold, g);
  await running(g);
  const queued = pool.submit(square, 1);
  const reason = new Error("terminate");
  await assert.rejects(pool.shutdown({ signal: AbortSignal.abort(reason) }), reason);
  await assert.rejects(stuck, reason);
  await assert.rejects(queued, reason);
  assert.deepEqual([stuck.state, queued.state], ["cancelled", "cancelled"]);
  assert.equal(pool.activeCount + pool.pendingCount, 0);
});

Deno.test("the same code runs on the event loop or on workers by one word", async () => {
  for (const kind of ["io", "cpu"] as const) {
    await using pool = executor(kind, { maxWorkers: 2 });
    assert.equal(pool.kind, kind);
    assert.deepEqual(await Array.fromAsync(pool.map(square, [1, 2, 3])), [1, 4, 9]);
    const where = await pool.submit(whereAmI);
    assert.equal(where.startsWith("spool-executor-"), kind === "cpu");
  }
});

Deno.test("executors reject bad options the std way", () => {
  assert.throws(
    () => new IoExecutor({ maxWorkers: 0 }),
    new RangeError(
      "Cannot create io executor as 'maxWorkers' must be a positive integer: current value is 0",
    ),
  );
  assert.throws(
    () => new CpuExecutor({ maxWorkers: 1.5 }),
    /Cannot create cpu executor as 'maxWorkers' must be a positive integer: current value is 1.5/,
  );
  assert.throws(() => executor("gpu" as "io"), /'kind' must be "io" or "cpu"/);
  assert.throws(() => moduleFunction("./work.ts", "f"), /'module' must be an absolute URL/);
  const pool = new IoExecutor();
  assert.throws(
    () => pool.map(square, [1], { bufferSize: 0 }),
    /'bufferSize' must be a positive integer/,
  );
});

Deno.test("IoExecutor.map throws its signal's reason at once even when a call ignores the signal", async () => {
  await using pool = new IoExecutor();
  const gate = deferred<number>();
  const controller = new AbortController();
  const results: number[] = [];
  const loop = (async () => {
    for await (
      const value of pool.map((ms: number) => ms === 0 ? 0 : gate.promise, [0, 0, 1], {
        signal: controller.signal,
      })
    ) {
      results.push(value);
      if (results.length === 2) controller.abort(new Error("map timed out"));
    }
  })();
  // The third call never looks at its signal and is still running.
  await assert.rejects(loop, { message: "map timed out" });
  assert.deepEqual(results, [0, 0]);
  gate.resolve(1);
});

Deno.test("a map created before shutdown and read afterwards throws an error that says so", async () => {
  for (const kind of ["io", "cpu"] as const) {
    const pool = executor(kind, { maxWorkers: 1 });
    const results = pool.map(square, [1, 2, 3]);
    await pool.shutdown({ wait: false });
    await assert.rejects(Array.fromAsync(results), {
      message:
        `Cannot continue the map: the ${kind} executor was shut down before the map submitted its next input; read a map before shutting its executor down`,
    });
  }
});

Deno.test("a map read after shutdown yields what it had submitted, in order, then throws", async () => {
  for (const kind of ["io", "cpu"] as const) {
    const pool = executor(kind, { maxWorkers: 1 });
    const steps = pool.map(square, [1, 2, 3, 4, 5, 6], { bufferSize: 2 })[Symbol.asyncIterator]();
    const results = [(await steps.next()).value];
    await pool.shutdown({ wait: false });
    const rest = (async () => {
      for (let step = await steps.next(); !step.done; step = await steps.next()) {
        results.push(step.value);
      }
    })();
    await assert.rejects(rest, { message: /^Cannot continue the map/ }, kind);
    assert.ok(results.length >= 2 && results.length < 6, `${kind}: ${results}`);
    assert.deepEqual(results, [1, 4, 9, 16, 25].slice(0, results.length), kind);
  }
});

Deno.test("IoExecutor runs each queued call in the async context of the code that submitted it", async () => {
  const store = new AsyncLocalStorage<string>();
  await using pool = new IoExecutor({ maxWorkers: 2 });
  const futures = Array.from(
    { length: 100 },
    (_, i) =>
      store.run(`request ${i}`, () =>
        pool.submit(async () => {
          await new Promise((resolve) => setTimeout(resolve, 0));
          return store.getStore();
        })),
  );
  assert.deepEqual(
    await Promise.all(futures),
    Array.from({ length: 100 }, (_, i) => `request ${i}`),
  );
});

Deno.test("a script that never shuts its cpu or io executor down still exits after its last line", async () => {
  const script = new URL("./fixtures/executor/no_shutdown.ts", import.meta.url).pathname;
  const start = performance.now();
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", "--allow-read", "--unstable-worker-options", script],
    stdin: "null",
    stderr: "inherit",
    // Generous: the fixed idle timeout is 0.5 s; without it the script never ends.
    signal: AbortSignal.timeout(20_000),
  }).output();
  assert.equal(output.code, 0);
  assert.equal(new TextDecoder().decode(output.stdout).trim(), "[1,4,9,16]");
  assert.ok(performance.now() - start < 20_000);
});

Deno.test("a cpu worker runs its module's top level once, before its first call, as Python's initializer", async () => {
  const useResource = moduleFunction<typeof setup.useResource>(
    import.meta.resolve("./fixtures/executor/setup.ts"),
    "useResource",
  );
  await using pool = new CpuExecutor({ maxWorkers: 2 });
  const seen = await Promise.all(Array.from({ length: 8 }, () => pool.submit(useResource)));
  assert.ok(seen.every((s) => s.setupRuns === 1), "set-up ran once in each worker");
  const workers = new Map<string, number>();
  for (const { id, calls } of seen) workers.set(id, Math.max(workers.get(id) ?? 0, calls));
  assert.ok(workers.size >= 1 && workers.size <= 2, `${workers.size} workers`);
  assert.equal(
    [...workers.values()].reduce((a, b) => a + b, 0),
    8,
    "every call used the resource its worker set up",
  );
});

Deno.test("maxTasksPerWorker retires a worker after that many calls, as Python's max_tasks_per_child", async () => {
  await using pool = new CpuExecutor({ maxWorkers: 1, maxTasksPerWorker: 2 });
  const one = [];
  for (let i = 0; i < 5; i++) one.push(await pool.submit(realmId));
  assert.equal(new Set(one).size, 3, "five calls one at a time: three realms");
  assert.equal(one[0], one[1]);
  assert.equal(one[2], one[3]);
  assert.notEqual(one[1], one[2]);
  assert.notEqual(one[3], one[4]);
  // All at once, with calls sent ahead to the busy worker: none serves more than two.
  const realms = await Promise.all(Array.from({ length: 7 }, () => pool.submit(realmId)));
  const counts = Map.groupBy(realms, (id) => id);
  assert.ok([...counts.values()].every((calls) => calls.length <= 2), JSON.stringify(realms));
  assert.ok(counts.size >= 4);
  // A map chunk counts as one call.
  assert.deepEqual(await Array.fromAsync(pool.map(square, [1, 2, 3, 4, 5], { chunkSize: 2 })), [
    1,
    4,
    9,
    16,
    25,
  ]);
  assert.throws(
    () => new CpuExecutor({ maxTasksPerWorker: 0 }),
    /Cannot create cpu executor as 'maxTasksPerWorker' must be a positive integer: current value is 0/,
  );
});

Deno.test("a cpu executor's idle workers end after idleTimeout and the next call starts new ones", async () => {
  await using pool = new CpuExecutor({ maxWorkers: 1, idleTimeout: 0 });
  const first = await pool.submit(realmId);
  assert.equal(await pool.submit(realmId), first, "a busy-then-idle worker is reused at once");
  // Give the idle timer its turn.
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.notEqual(await pool.submit(realmId), first);
});

Deno.test("mapChunks yields each chunk's results as one array, in input order, in both flavours", async () => {
  for (const kind of ["io", "cpu"] as const) {
    await using pool = executor(kind, { maxWorkers: 2 });
    const chunks = await Array.fromAsync(pool.mapChunks(square, [1, 2, 3, 4, 5], { chunkSize: 2 }));
    assert.deepEqual(chunks, [[1, 4], [9, 16], [25]], kind);
  }
});

Deno.test("mapChunks yields the results before a failing call, then throws its error", async () => {
  await using pool = new CpuExecutor({ maxWorkers: 1 });
  const squareLater = moduleFunction<typeof math.squareLater>(MATH, "squareLater");
  const seen: number[][] = [];
  const error = await (async () => {
    for await (const chunk of pool.mapChunks(squareLater, [1, 2, 3, -4, 5], { chunkSize: 2 })) {
      seen.push(chunk);
    }
  })().then(() => undefined, (e: unknown) => e);
  assert.deepEqual(seen, [[1, 4], [9]]);
  assert.ok(error instanceof RangeError);
  assert.equal(error.message, "negative input: -4");
});

Deno.test("a worker awaits only the calls that return a promise, and a chunk may mix both", async () => {
  await using pool = new CpuExecutor({ maxWorkers: 1 });
  const module = `data:application/javascript,${
    encodeURIComponent("export const maybe = (n) => n % 2 ? Promise.resolve(n * 10) : n;")
  }`;
  const maybe = moduleFunction<(n: number) => number | Promise<number>>(module, "maybe");
  assert.deepEqual(await Array.fromAsync(pool.map(maybe, [1, 2, 3, 4], { chunkSize: 4 })), [
    10,
    2,
    30,
    4,
  ]);
});

Deno.test("a call waiting in a busy worker's inbox runs elsewhere when that worker is ended", async () => {
  await using pool = new CpuExecutor({ maxWorkers: 1 });
  const g = gate();
  const controller = new AbortController();
  const stuck = pool.submit(hold, g, { signal: controller.signal });
  await running(g);
  // Sent ahead to the busy worker, as Python sends one call ahead: it counts as running.
  const waiting = pool.submit(square, 7);
  assert.equal(waiting.state, "running");
  assert.equal(waiting.cancel(), false, "as Python, a call sent to a worker cannot be cancelled");
  controller.abort(new Error("took too long"));
  await assert.rejects(stuck, { message: "took too long" });
  assert.equal(await waiting, 49);
});

Deno.test("aborting a call waiting in a worker's inbox cancels it and leaves the running call alone", async () => {
  await using pool = new CpuExecutor({ maxWorkers: 1 });
  const g = gate();
  const first = pool.submit(hold, g);
  await running(g);
  const controller = new AbortController();
  const waiting = pool.submit(square, 3, { signal: controller.signal });
  assert.equal(waiting.state, "running", "sent ahead to the busy worker's inbox");
  controller.abort(new Error("not needed"));
  await assert.rejects(waiting, { message: "not needed" });
  assert.equal(waiting.state, "cancelled");
  release(g);
  assert.equal(await first, "released");
  assert.equal(await pool.submit(square, 4), 16);
});
