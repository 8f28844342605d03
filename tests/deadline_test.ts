import assert from "node:assert/strict";
import { Deadline } from "../lib/run/_deadline.ts";

/** Counts the listeners added to `signal` from now on: `.count`. */
function countListeners(signal: AbortSignal): { count: number } {
  const counter = { count: 0 };
  const add = signal.addEventListener.bind(signal);
  signal.addEventListener = ((...args: Parameters<typeof add>) => {
    counter.count++;
    return add(...args);
  }) as typeof add;
  return counter;
}

Deno.test("Deadline follows the run's signal with one listener however many attempts share it", () => {
  const run = new AbortController();
  const listeners = countListeners(run.signal);

  const deadlines = Array.from(
    { length: 1000 },
    () => new Deadline(run.signal, undefined, () => 0),
  );
  // Without a limit, a deadline makes its signal when asked for it.
  assert.equal(listeners.count, 0);
  for (const deadline of deadlines) assert.equal(deadline.signal.aborted, false);
  const released = deadlines.pop()!;
  released[Symbol.dispose]();
  assert.equal(listeners.count, 1);

  const reason = new Error("run stopped");
  run.abort(reason);
  for (const deadline of deadlines) assert.equal(deadline.signal.reason, reason);
  assert.equal(released.signal.aborted, false, "a disposed attempt no longer follows the run");
  for (const deadline of deadlines) deadline[Symbol.dispose]();
});

Deno.test("Deadline on an already aborted run starts aborted with the run's reason", () => {
  const run = new AbortController();
  run.abort("stopped");
  using deadline = new Deadline(run.signal, 1000, () => "timeout");
  assert.equal(deadline.signal.reason, "stopped");
  assert.equal(deadline.timedOut, false);
});

Deno.test("Deadline without a limit settles its body, and stops waiting for it a grace after the run stops", async () => {
  const run = new AbortController();
  using passes = new Deadline(run.signal, undefined, () => 0);
  assert.equal(await passes.settle(Promise.resolve("done"), 0), "done");

  const deadlines = Array.from({ length: 100 }, () => new Deadline(run.signal, undefined, () => 0));
  const never = new Promise<never>(() => {});
  const settled = deadlines.map((deadline) => deadline.settle(never, 0));
  const reason = new Error("run stopped");
  run.abort(reason);
  for (const outcome of await Promise.allSettled(settled)) {
    assert.deepEqual(outcome, { status: "rejected", reason });
  }
  for (const deadline of deadlines) {
    assert.equal(deadline.aborted, true);
    assert.equal(deadline.timedOut, false);
    assert.equal(deadline.signal.reason, reason);
    deadline[Symbol.dispose]();
  }
});

Deno.test("Deadline with a limit rejects its body's wait with the timeout error once armed", async () => {
  const run = new AbortController();
  const timeout = new Error("timed out");
  using deadline = new Deadline(run.signal, 1, () => timeout);
  const settled = deadline.settle(new Promise<never>(() => {}), 0);
  deadline.arm();
  await assert.rejects(settled, (error) => error === timeout);
  assert.equal(deadline.timedOut, true);
  assert.equal(deadline.reason, timeout);
  assert.equal(deadline.signal.reason, timeout);
});

Deno.test("Deadline.onAbort calls back at the timeout or the run's stop without making a signal", async () => {
  const run = new AbortController();
  const listeners = countListeners(run.signal);

  // The run stops: every callback still registered is called once, in order.
  const calls: string[] = [];
  const stopped = new Deadline(run.signal, undefined, () => "timeout");
  stopped.onAbort(() => calls.push("first"));
  const removed = () => calls.push("removed");
  stopped.onAbort(removed);
  stopped.onAbort(() => calls.push("second"));
  stopped.offAbort(removed);
  const disposed = new Deadline(run.signal, undefined, () => "timeout");
  disposed.onAbort(() => calls.push("disposed"));
  disposed[Symbol.dispose]();
  assert.equal(listeners.count, 1, "one listener on the run's signal, none per callback");
  run.abort(new Error("stop"));
  assert.deepEqual(calls, ["first", "second"]);
  assert.equal(stopped.aborted, true);
  assert.equal((stopped.reason as Error).message, "stop");
  // Registered after the abort: never called, as an AbortSignal's listener.
  stopped.onAbort(() => calls.push("late"));
  assert.deepEqual(calls, ["first", "second"]);
  stopped[Symbol.dispose]();

  // The deadline passes: the callback is called with the timeout as reason.
  const other = new AbortController();
  using timed = new Deadline(other.signal, 10, () => new Error("timed out"));
  const { promise, resolve } = Promise.withResolvers<unknown>();
  timed.onAbort(() => resolve(timed.reason));
  timed.arm();
  assert.equal(((await promise) as Error).message, "timed out");
  assert.equal(timed.timedOut, true);
});
