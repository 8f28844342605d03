import assert from "node:assert/strict";
import { asCompleted, CancelledError, type Future, IoExecutor, wait } from "../mod.ts";

function deferred<T = void>(): PromiseWithResolvers<T> {
  return Promise.withResolvers<T>();
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("asCompleted yields futures already done before it looks at an aborted signal", async () => {
  await using pool = new IoExecutor();
  const done = pool.submit(() => "done");
  await done;
  const gate = deferred<string>();
  const pending = pool.submit(() => gate.promise);
  const iterator = asCompleted([pending, done], { signal: AbortSignal.abort(new Error("late")) });
  const first = await iterator.next();
  assert.equal(first.done, false);
  assert.equal(first.value?.future, done);
  assert.equal(first.value?.index, 1);
  await assert.rejects(iterator.next(), { message: "late" });
  gate.resolve("");
});

Deno.test("a slow asCompleted consumer still gets every future that finished before the timeout", async () => {
  await using pool = new IoExecutor();
  const gates = [deferred<number>(), deferred<number>(), deferred<number>()];
  const futures = gates.map((g) => pool.submit(() => g.promise));
  const controller = new AbortController();
  const seen: number[] = [];
  const iterator = asCompleted(futures, { signal: controller.signal });
  gates[2].resolve(2);
  gates[0].resolve(0);
  await Promise.all([futures[0], futures[2]]);
  controller.abort(new Error("timeout"));
  // The consumer only now gets to read: both finished futures come out.
  for (let i = 0; i < 2; i++) seen.push(await (await iterator.next()).value!.future);
  assert.deepEqual(seen.sort(), [0, 2]);
  await assert.rejects(iterator.next(), { message: "timeout" });
  gates[1].resolve(1);
});

Deno.test("two concurrent next() calls on asCompleted each get their own future", async () => {
  await using pool = new IoExecutor();
  const gates = [deferred<string>(), deferred<string>()];
  const futures = gates.map((g) => pool.submit(() => g.promise));
  const iterator = asCompleted(futures);
  const a = iterator.next();
  const b = iterator.next();
  const c = iterator.next();
  gates[1].resolve("second");
  await futures[1];
  gates[0].resolve("first");
  const steps = await Promise.all([a, b]);
  assert.deepEqual(steps.map((s) => s.value?.index), [1, 0]);
  assert.deepEqual(await c, { value: undefined, done: true });
});

Deno.test("asCompleted takes futures of different result types and steps are futures", async () => {
  await using pool = new IoExecutor();
  const futures = [pool.submit(() => 1), pool.submit(() => "x")];
  const values: (number | string)[] = [];
  for await (const { future } of asCompleted(futures)) {
    // Typed as the future: `state` and `result` exist (deno check fails otherwise).
    assert.equal(future.state === "fulfilled" || future.state === "rejected", true);
    values.push(await future.result());
  }
  assert.deepEqual(values.sort(), [1, "x"]);
  const typed: Future<unknown>[] = futures;
  assert.equal(typed.length, 2);
  // The issue's own line: an inline list of futures of two result types
  // (deno check failed here while Future<T> was invariant).
  const inline = asCompleted([pool.submit(() => 1), pool.submit(() => "x")]);
  const results = await Array.fromAsync(inline, ({ future }) => future.result());
  assert.deepEqual(results.sort(), [1, "x"]);
  const { done } = await wait([pool.submit(() => 1), pool.submit(() => "x")]);
  assert.equal(done.size, 2);
  const wider: Future<number | string> = pool.submit(() => 1);
  assert.equal(await wider, 1);
});

Deno.test("wait returns at the first completed future with the others not done", async () => {
  await using pool = new IoExecutor();
  const gates = [deferred(), deferred()];
  const [slow, fast] = gates.map((g) => pool.submit(() => g.promise));
  const waiting = wait([slow, fast], { returnWhen: "firstCompleted" });
  gates[1].resolve();
  const { done, notDone } = await waiting;
  assert.deepEqual([...done], [fast]);
  assert.deepEqual([...notDone], [slow]);
  gates[0].resolve();
});

Deno.test("wait with firstException returns at the first failure, and at the end when none fails", async () => {
  await using pool = new IoExecutor();
  const gates = [deferred(), deferred(), deferred()];
  const [a, b, c] = gates.map((g) => pool.submit(() => g.promise));
  const waiting = wait([a, b, c], { returnWhen: "firstException" });
  gates[0].resolve();
  await a;
  gates[1].reject(new Error("boom"));
  const { done, notDone } = await waiting;
  assert.deepEqual([...done], [a, b]);
  assert.deepEqual([...notDone], [c]);
  gates[2].resolve();
  const all = await wait([a, c], { returnWhen: "firstException" });
  assert.equal(all.done.size, 2);
  assert.equal(all.notDone.size, 0);
});

Deno.test("wait with firstException does not take a cancelled future for a failure", async () => {
  await using pool = new IoExecutor({ maxWorkers: 1 });
  const gate = deferred();
  const running = pool.submit(() => gate.promise);
  const queued = pool.submit(() => 1);
  const waiting = wait([running, queued], { returnWhen: "firstException" });
  assert.equal(queued.cancel(), true);
  gate.resolve();
  const { done, notDone } = await waiting;
  assert.deepEqual([...done], [running, queued], "it waited for the running call too");
  assert.equal(notDone.size, 0);
});

Deno.test("wait returns the sets as they stand when its signal aborts, as Python's timeout", async () => {
  await using pool = new IoExecutor();
  const gate = deferred();
  const held = pool.submit(() => gate.promise);
  const quick = pool.submit(() => 1);
  await quick;
  const { done, notDone } = await wait([held, quick], { signal: AbortSignal.timeout(20) });
  assert.deepEqual([...done], [quick]);
  assert.deepEqual([...notDone], [held]);
  gate.resolve();
});

Deno.test("wait rejects an unknown returnWhen the std way", () => {
  assert.throws(
    // deno-lint-ignore no-explicit-any
    () => wait([], { returnWhen: "FIRST_COMPLETED" as any }),
    {
      name: "TypeError",
      message:
        'Cannot wait for futures as \'returnWhen\' must be "firstCompleted", "firstException" or "allCompleted": current value is "FIRST_COMPLETED"',
    },
  );
});

Deno.test("future.result takes a signal that stops the wait, not the call", async () => {
  await using pool = new IoExecutor();
  const gate = deferred<string>();
  const future = pool.submit(() => gate.promise);
  await assert.rejects(future.result({ signal: AbortSignal.timeout(10) }), {
    name: "TimeoutError",
  });
  assert.equal(future.state, "running");
  gate.resolve("finished");
  assert.equal(await future.result(), "finished");
});

Deno.test("future.exception returns the error, undefined on success, and throws when cancelled", async () => {
  await using pool = new IoExecutor({ maxWorkers: 1 });
  const gate = deferred();
  const failing = pool.submit(async () => {
    await gate.promise;
    throw new RangeError("bad");
  });
  const queued = pool.submit(() => 1);
  const fine = pool.submit(() => 2);
  queued.cancel();
  gate.resolve();
  assert.ok(await failing.exception() instanceof RangeError);
  assert.equal(await fine.exception(), undefined);
  await assert.rejects(queued.exception(), CancelledError);
});

Deno.test("addDoneCallback runs as the future settles, and at once when it is already done", async () => {
  await using pool = new IoExecutor();
  const gate = deferred<number>();
  const future = pool.submit(() => gate.promise);
  const calls: string[] = [];
  future.addDoneCallback((f) => calls.push(`first ${f.state}`));
  future.addDoneCallback(() => calls.push("second"));
  assert.equal(calls.join(", "), "");
  gate.resolve(1);
  await future;
  assert.equal(calls.join(", "), "first fulfilled, second");
  future.addDoneCallback(() => calls.push("late"));
  assert.equal(calls.join(", "), "first fulfilled, second, late");
  await tick();
});

Deno.test("a done callback that throws is reported as an uncaught error, and the others still run", async () => {
  await using pool = new IoExecutor();
  // Unhandled, a reported error ends the process as an event listener's would;
  // a program that wants Python's "log and go on" handles the "error" event.
  const reported: unknown[] = [];
  const onError = (event: ErrorEvent) => {
    event.preventDefault();
    reported.push(event.error);
  };
  globalThis.addEventListener("error", onError);
  try {
    const future = pool.submit(() => 1);
    const calls: string[] = [];
    future.addDoneCallback(() => {
      throw new Error("callback broke");
    });
    future.addDoneCallback(() => calls.push("second"));
    assert.equal(await future, 1);
    assert.deepEqual(calls, ["second"]);
    assert.equal(reported.length, 1);
    assert.equal((reported[0] as Error).message, "callback broke");
  } finally {
    globalThis.removeEventListener("error", onError);
  }
});
