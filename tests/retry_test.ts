import assert from "node:assert/strict";
import { defineTasks, io, type Reporter, run, type TaskRetryEvent } from "../mod.ts";
import { backoffDelay, DEFAULT_BACKOFF, sleep } from "../lib/run/_retry.ts";
import { installFakeTime } from "./_fake_time.ts";

/** An io body that fails its first `failures` calls, recording when each call came. */
function flaky(failures: number, calls: number[]) {
  return () => {
    calls.push(performance.now());
    if (calls.length <= failures) throw new Error(`attempt ${calls.length} failed`);
    return `passed on attempt ${calls.length}`;
  };
}

Deno.test("backoffDelay grows by the factor from the first delay and stops at maxDelay", () => {
  const backoff = { delay: 100, factor: 3, maxDelay: 2000 };
  assert.deepEqual([1, 2, 3, 4, 5].map((n) => backoffDelay(backoff, n)), [
    100,
    300,
    900,
    2000,
    2000,
  ]);
  assert.deepEqual(
    [1, 2, 3].map((n) => backoffDelay(DEFAULT_BACKOFF, n)),
    [1000, 2000, 4000],
    "the default waits 1 s, then doubles",
  );
});

Deno.test("A retried task waits delay * factor^n between attempts, each attempt starting on time", async () => {
  using clock = installFakeTime();
  const calls: number[] = [];
  const tasks = defineTasks({
    flaky: io({
      trusted: true,
      retries: 4,
      backoff: { delay: 1000, factor: 3, maxDelay: 5000 },
      run: flaky(4, calls),
    }),
  });
  const retries: TaskRetryEvent[] = [];
  const done = run(tasks, { reporter: { taskRetry: (event) => retries.push(event) } });

  // Waits of 1000, 3000, 5000 (capped) and 5000 ms put the attempts at
  // 0, 1000, 4000, 9000 and 14000 ms. Just before each, nothing has started.
  for (const [index, at] of [0, 1000, 4000, 9000, 14000].entries()) {
    if (at > 0) {
      await clock.tickAsync(at - 1 - clock.now);
      assert.equal(calls.length, index, `attempt ${index + 1} must not start before ${at} ms`);
      await clock.tickAsync(1);
    } else {
      await clock.tickAsync(0);
    }
    assert.equal(calls.length, index + 1, `attempt ${index + 1} starts at ${at} ms`);
  }
  const report = await done;

  const [task] = report.tasks;
  assert.equal(task.status, "ok");
  assert.equal(task.result, "passed on attempt 5");
  assert.equal(task.attemptCount, 5);
  assert.deepEqual(task.attempts!.map((a) => a.startMs), [0, 1000, 4000, 9000, 14000]);
  assert.deepEqual(
    task.attempts!.map((a) => a.error?.message),
    ["attempt 1 failed", "attempt 2 failed", "attempt 3 failed", "attempt 4 failed", undefined],
    "every failed attempt keeps its error; the one that passed has none",
  );
  assert.equal(task.startMs, 0, "the task starts with its first attempt");
  assert.equal(task.endMs, 14000, "and ends with its last");
  assert.deepEqual(
    retries.map(({ attempt, maxAttempts, delayMs }) => [attempt, maxAttempts, delayMs]),
    [[2, 5, 1000], [3, 5, 3000], [4, 5, 5000], [5, 5, 5000]],
  );
  assert.equal(report.ok, true);
});

Deno.test("A task that fails every attempt fails with its last error and lists every attempt", async () => {
  using clock = installFakeTime();
  const calls: number[] = [];
  const tasks = defineTasks({
    broken: io({
      trusted: true,
      retries: 2,
      backoff: { delay: 50, factor: 1 },
      run: flaky(Infinity, calls),
    }),
    after: io({ trusted: true, deps: ["broken"], run: () => "never" }),
  });
  const done = run(tasks);
  await clock.runAllAsync();
  const report = await done;
  const [broken, after] = report.tasks;
  assert.equal(broken.status, "failed");
  assert.equal(broken.error?.message, "attempt 3 failed");
  assert.equal(broken.attemptCount, 3);
  assert.deepEqual(broken.attempts!.map((a) => a.startMs), [0, 50, 100]);
  assert.equal(after.status, "skipped");
  assert.equal(after.reason, 'dependency "broken" failed');
  assert.equal(report.ok, false);
});

Deno.test("Retries are opt-in: a task without them is tried once and reports no attempts", async () => {
  const calls: number[] = [];
  const report = await run(defineTasks({ once: io({ trusted: true, run: flaky(1, calls) }) }));
  assert.equal(calls.length, 1);
  assert.equal(report.tasks[0].status, "failed");
  assert.equal(report.tasks[0].attempts, undefined);
  assert.equal(report.tasks[0].attemptCount, undefined);
});

Deno.test("A timed-out attempt is retried, and the timeout is in that attempt's report", async () => {
  using clock = installFakeTime();
  let calls = 0;
  const tasks = defineTasks({
    slowOnce: io({
      trusted: true,
      timeout: 100,
      retries: 1,
      backoff: { delay: 1000 },
      run: ({ signal }) => {
        if (++calls > 1) return "fast the second time";
        return new Promise((_, reject) => {
          signal.addEventListener("abort", () => reject(signal.reason), { once: true });
        });
      },
    }),
  });
  const done = run(tasks);
  await clock.runAllAsync();
  const [task] = (await done).tasks;
  assert.equal(task.status, "ok");
  assert.equal(task.attemptCount, 2);
  assert.equal(task.attempts![0].error?.name, "TimeoutError");
  assert.equal(task.attempts![0].error?.message, 'Task "slowOnce" timed out after 100 ms');
  assert.equal(task.attempts![0].endMs, 100);
  assert.equal(task.attempts![1].startMs, 1100, "the retry waits its backoff after the timeout");
});

Deno.test("A task waiting to retry gives up when another task fails fast, failing with its last error", async () => {
  using clock = installFakeTime();
  const calls: number[] = [];
  const tasks = defineTasks({
    flaky: io({ trusted: true, retries: 5, backoff: { delay: 1000 }, run: flaky(Infinity, calls) }),
    fatal: io({
      trusted: true,
      run: () => new Promise((_, reject) => setTimeout(() => reject(new Error("fatal")), 10)),
    }),
  });
  const done = run(tasks);
  await clock.runAllAsync();
  const report = await done;
  const flakyReport = report.tasks.find((t) => t.name === "flaky")!;
  assert.equal(calls.length, 1, "no retry starts once the run has stopped");
  assert.equal(flakyReport.status, "failed");
  assert.equal(flakyReport.error?.message, "attempt 1 failed");
  assert.equal(flakyReport.attemptCount, 1);
  assert.equal(clock.now, 10, "the run ends when the failure stops it, not after the backoff");
});

Deno.test("A cancelled run never retries: the running attempt is cancelled, not failed", async () => {
  using clock = installFakeTime();
  const controller = new AbortController();
  let calls = 0;
  const tasks = defineTasks({
    waits: io({
      trusted: true,
      retries: 3,
      run: ({ signal }) => {
        calls++;
        return new Promise((_, reject) => {
          signal.addEventListener("abort", () => reject(signal.reason), { once: true });
        });
      },
    }),
  });
  const done = run(tasks, { signal: controller.signal });
  await clock.tickAsync(5);
  controller.abort(new Error("stop now"));
  await clock.runAllAsync();
  const report = await done;
  assert.equal(calls, 1);
  assert.equal(report.tasks[0].status, "cancelled");
  assert.equal(report.tasks[0].reason, "run cancelled: stop now");
  assert.equal(report.cancelled, "stop now");
});

Deno.test("The plain reporter shows each retry and the attempt count of a task that passed", async () => {
  using clock = installFakeTime();
  const { plainReporter } = await import("../lib/report/plain.ts");
  let text = "";
  const reporter: Reporter = plainReporter({ write: (chunk) => text += chunk });
  const calls: number[] = [];
  const tasks = defineTasks({
    flaky: io({ trusted: true, retries: 2, backoff: { delay: 250 }, run: flaky(2, calls) }),
  });
  const done = run(tasks, { reporter });
  await clock.runAllAsync();
  await done;
  assert.match(text, /^retry flaky \(attempt 2 of 3 in 250 ms\): attempt 1 failed$/m);
  assert.match(text, /^retry flaky \(attempt 3 of 3 in 500 ms\): attempt 2 failed$/m);
  assert.match(text, /^ok {4}flaky \(io\) 750 ms after 3 attempts$/m);
});

Deno.test("A retry wait longer than a timer can hold (2^31 ms) really waits that long", async () => {
  using clock = installFakeTime();
  const delay = backoffDelay({ delay: 2 ** 31 + 5000, factor: 2, maxDelay: 2 ** 32 }, 1);
  assert.equal(delay, 2 ** 31 + 5000);
  let woke = false;
  const done = sleep(delay, new AbortController().signal).then(() => woke = true);
  // A single setTimeout of this length fires after about 1 ms.
  await clock.tickAsync(1000);
  assert.equal(woke, false, "still waiting after 1 s");
  await clock.tickAsync(delay - 1001);
  assert.equal(woke, false, "still waiting 1 ms before the end");
  await clock.tickAsync(1);
  await done;
  assert.equal(woke, true, "done after the whole delay");
});

Deno.test("A long retry wait ends at once when the run stops", async () => {
  using clock = installFakeTime();
  const controller = new AbortController();
  const done = sleep(2 ** 31 + 5000, controller.signal);
  await clock.tickAsync(2 ** 31);
  controller.abort(new Error("run stopped"));
  await assert.rejects(done, /run stopped/);
});
