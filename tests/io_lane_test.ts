import assert from "node:assert/strict";
import { AsyncLocalStorage } from "node:async_hooks";
import { createClock } from "./_fake_time.ts";
import { IoLane } from "../mod.ts";

/** A function for the lane that waits until released, recording its start. */
function gated(starts: number[], id: number) {
  const gate = Promise.withResolvers<number>();
  const fn = () => {
    starts.push(id);
    return gate.promise;
  };
  return { fn, release: () => gate.resolve(id) };
}

/** Lets every pending promise reaction run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

Deno.test("IoLane never runs more than its limit at once and uses every slot", async () => {
  const clock = createClock(0);
  const lane = new IoLane(4);
  let active = 0;
  let peak = 0;
  const durations = [100, 30, 250, 70, 10, 180, 90, 40, 120, 60, 200, 20, 150, 80, 50, 110];
  const done = Promise.all(durations.map((ms) =>
    lane.run(async () => {
      active++;
      peak = Math.max(peak, active);
      assert.ok(active <= 4, `${active} running with a limit of 4`);
      assert.ok(lane.activeCount <= 4);
      await new Promise((resolve) => clock.setTimeout(resolve, ms));
      active--;
      return ms;
    })
  ));
  assert.equal(lane.activeCount, 4);
  assert.equal(lane.pendingCount, durations.length - 4);
  await clock.runAllAsync();
  assert.deepEqual(await done, durations);
  assert.equal(peak, 4);
  assert.equal(lane.activeCount, 0);
  assert.equal(lane.pendingCount, 0);
});

Deno.test("IoLane runs up to its limit side by side: 20 x 100 ms under a limit of 4 take 500 ms", async () => {
  const clock = createClock(0);
  const lane = new IoLane(4);
  const ends: number[] = [];
  const done = Promise.all(Array.from({ length: 20 }, () =>
    lane.run(async () => {
      await new Promise((resolve) => clock.setTimeout(resolve, 100));
      ends.push(clock.now);
    })));
  await clock.runAllAsync();
  await done;
  assert.equal(clock.now, 500);
  assert.deepEqual(ends, [
    100,
    100,
    100,
    100,
    200,
    200,
    200,
    200,
    300,
    300,
    300,
    300,
    400,
    400,
    400,
    400,
    500,
    500,
    500,
    500,
  ]);
});

Deno.test("IoLane starts queued functions in the order they were queued", async () => {
  const lane = new IoLane(2);
  const starts: number[] = [];
  const jobs = Array.from({ length: 6 }, (_, id) => gated(starts, id));
  const done = Promise.all(jobs.map((job) => lane.run(job.fn)));
  assert.deepEqual(starts, [0, 1]);
  // Finish in reverse order: the queue still starts 2, 3, 4, 5 in turn.
  jobs[1].release();
  await settle();
  assert.deepEqual(starts, [0, 1, 2]);
  jobs[2].release();
  await settle();
  jobs[0].release();
  await settle();
  assert.deepEqual(starts, [0, 1, 2, 3, 4]);
  for (const job of jobs) job.release();
  assert.deepEqual(await done, [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(starts, [0, 1, 2, 3, 4, 5]);
});

Deno.test("IoLane removes an aborted queued function: it is never called and rejects with the reason", async () => {
  const lane = new IoLane(1);
  const starts: number[] = [];
  const jobs = Array.from({ length: 5 }, (_, id) => gated(starts, id));
  const controllers = jobs.map(() => new AbortController());
  const results = jobs.map((job, i) => lane.run(job.fn, { signal: controllers[i].signal }));
  assert.equal(lane.pendingCount, 4);

  // Abort the middle, the tail and the head of the queue.
  const reasons = [2, 4, 1].map((i) => {
    const reason = new Error(`abort ${i}`);
    controllers[i].abort(reason);
    return [i, reason] as const;
  });
  assert.equal(lane.pendingCount, 1);
  for (const [i, reason] of reasons) await assert.rejects(results[i], (e) => e === reason);

  jobs[0].release();
  await settle();
  jobs[3].release();
  assert.equal(await results[0], 0);
  assert.equal(await results[3], 3);
  assert.deepEqual(starts, [0, 3], "aborted functions were never called");
  assert.equal(lane.pendingCount, 0);
  assert.equal(lane.activeCount, 0);
});

Deno.test("IoLane rejects an already aborted signal without calling the function", async () => {
  const lane = new IoLane(1);
  let called = false;
  const reason = new DOMException("gone", "AbortError");
  await assert.rejects(
    lane.run(() => called = true, { signal: AbortSignal.abort(reason) }),
    (e) => e === reason,
  );
  assert.equal(called, false);
  assert.equal(lane.activeCount, 0);
});

Deno.test("IoLane hands a running function its signal and lets it decide", async () => {
  const lane = new IoLane(1);
  const controller = new AbortController();
  const seen = Promise.withResolvers<AbortSignal>();
  const result = lane.run((signal) => {
    seen.resolve(signal);
    return new Promise((_, reject) =>
      signal.addEventListener("abort", () => reject(signal.reason))
    );
  }, { signal: controller.signal });
  const signal = await seen.promise;
  assert.equal(signal, controller.signal);
  controller.abort(new Error("stop"));
  await assert.rejects(result, /stop/);
  assert.equal(lane.activeCount, 0);
});

Deno.test("IoLane frees the slot when a function throws or returns a plain value", async () => {
  const lane = new IoLane(1);
  const failing = lane.run(() => {
    throw new TypeError("sync failure");
  });
  const next = lane.run(() => "plain");
  await assert.rejects(failing, TypeError);
  assert.equal(await next, "plain");
  assert.equal(lane.activeCount, 0);
});

Deno.test("IoLane drains 100 000 queued functions", async () => {
  const lane = new IoLane(3);
  let count = 0;
  const all = Array.from({ length: 100_000 }, () => lane.run(() => ++count));
  assert.equal(lane.pendingCount, 100_000 - 3);
  await Promise.all(all);
  assert.equal(count, 100_000);
});

Deno.test("IoLane rejects a concurrency that is not a positive integer", () => {
  for (const value of [0, -1, 1.5, Number.NaN, -Infinity]) {
    assert.throws(() => new IoLane(value), {
      name: "RangeError",
      message:
        `Cannot create io lane as 'concurrency' must be a positive integer: current value is ${value}`,
    });
  }
  assert.equal(new IoLane(Infinity).concurrency, Infinity);
  assert.equal(new IoLane(3).concurrency, 3);
});

Deno.test("IoLane runs each queued function in the async context of its caller", async () => {
  const store = new AsyncLocalStorage<number>();
  const lane = new IoLane(2);
  const seen = await Promise.all(
    Array.from({ length: 100 }, (_, i) =>
      store.run(i, () =>
        lane.run(async () => {
          const before = store.getStore();
          await new Promise((resolve) => setTimeout(resolve, 0));
          return [before, store.getStore()];
        }))),
  );
  assert.deepEqual(seen, Array.from({ length: 100 }, (_, i) => [i, i]));
});
