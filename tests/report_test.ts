import assert from "node:assert/strict";
import { formatMs, reportToJson, type RunReport, summaryLine, type TaskReport } from "../mod.ts";
import { buildReport, roundMs } from "../lib/report/report.ts";

function task(name: string, status: TaskReport["status"], durationMs: number): TaskReport {
  const started = status === "skipped" ? null : 10;
  return {
    name,
    kind: "io",
    status,
    startMs: started,
    endMs: started === null ? null : started + durationMs,
    durationMs: status === "skipped" ? 0 : durationMs,
    ...(status === "ok" ? { result: `${name} result` } : {}),
  };
}

Deno.test("buildReport sums task time and divides it by wall time", () => {
  const report = buildReport(
    [task("a", "ok", 300), task("b", "ok", 300), task("c", "ok", 400)],
    { wallMs: 400, workers: 2, concurrency: 8 },
  );
  assert.equal(report.ok, true);
  assert.equal(report.wallMs, 400);
  assert.equal(report.busyMs, 1000);
  assert.equal(report.speedup, 2.5);
  assert.equal(report.workers, 2);
  assert.equal(report.concurrency, 8);
  assert.deepEqual(report.results, { a: "a result", b: "b result", c: "c result" });
  assert.equal("cancelled" in report, false);
});

Deno.test("buildReport is not ok when a task failed or was skipped, or the run was cancelled", () => {
  const failed = buildReport([task("a", "ok", 1), task("b", "failed", 2)], {
    wallMs: 3,
    workers: 0,
    concurrency: 1,
  });
  assert.equal(failed.ok, false);
  assert.deepEqual(failed.results, { a: "a result" });
  const skipped = buildReport([task("a", "skipped", 0)], { wallMs: 1, workers: 0, concurrency: 1 });
  assert.equal(skipped.ok, false);
  const cancelled = buildReport([task("a", "ok", 1)], {
    wallMs: 1,
    workers: 0,
    concurrency: 1,
    cancelled: "interrupted (SIGINT)",
  });
  assert.equal(cancelled.ok, false);
  assert.equal(cancelled.cancelled, "interrupted (SIGINT)");
});

Deno.test("buildReport gives a speedup of 0 for a run that took no time", () => {
  assert.equal(buildReport([], { wallMs: 0, workers: 0, concurrency: 1 }).speedup, 0);
});

Deno.test("reportToJson prints every report field and each task once, with its result", () => {
  const report = buildReport(
    [{ ...task("a", "ok", 5), kind: "cpu", worker: 1 }, task("b", "failed", 1)],
    { wallMs: 5, workers: 2, concurrency: 4 },
  );
  report.tasks[1].error = { name: "Error", message: "nope", stack: "Error: nope\n    at x" };
  const json = JSON.parse(reportToJson(report));
  for (const field of ["ok", "wallMs", "busyMs", "speedup", "workers", "concurrency", "tasks"]) {
    assert.ok(field in json, field);
  }
  assert.equal("results" in json, false, "results would repeat each task's result");
  assert.deepEqual(json.tasks[0], {
    name: "a",
    kind: "cpu",
    status: "ok",
    startMs: 10,
    endMs: 15,
    durationMs: 5,
    worker: 1,
    result: "a result",
  });
  assert.deepEqual(json.tasks[1].error, {
    name: "Error",
    message: "nope",
    stack: "Error: nope\n    at x",
  });
});

Deno.test("reportToJson turns results JSON cannot hold into strings, arrays and objects", () => {
  const report: RunReport = buildReport(
    [{
      ...task("a", "ok", 1),
      result: {
        big: 12345678901234567890n,
        bytes: new Uint8Array([1, 2]),
        bigs: new BigInt64Array([3n]),
        map: new Map([["k", 1]]),
        set: new Set(["x"]),
      },
    }],
    { wallMs: 1, workers: 0, concurrency: 1 },
  );
  assert.deepEqual(JSON.parse(reportToJson(report)).tasks[0].result, {
    big: "12345678901234567890",
    bytes: [1, 2],
    bigs: ["3"],
    map: { k: 1 },
    set: ["x"],
  });
});

Deno.test("formatMs reads as ms, s, then minutes", () => {
  assert.equal(formatMs(0), "0 ms");
  assert.equal(formatMs(849.6), "850 ms");
  assert.equal(formatMs(1000), "1.00 s");
  assert.equal(formatMs(2314), "2.31 s");
  assert.equal(formatMs(64_000), "1 m 04 s");
});

Deno.test("summaryLine shows counts, wall time, task time and speedup", () => {
  const report = buildReport(
    [
      task("a", "ok", 2000),
      task("b", "ok", 2000),
      task("c", "failed", 120),
      task("d", "skipped", 0),
    ],
    { wallMs: 2050, workers: 2, concurrency: 4 },
  );
  assert.equal(
    summaryLine(report),
    "4 tasks: 2 ok, 1 failed, 1 skipped in 2.05 s wall, 4.12 s of task time, speedup 2.01x",
  );
});

function span(name: string, kind: "io" | "cpu", startMs: number, endMs: number): TaskReport {
  return { name, kind, status: "ok", startMs, endMs, durationMs: endMs - startMs };
}

Deno.test("buildReport never gives an io lane of concurrency 1 a speedup above 1x", () => {
  // Each task's end is recorded just after the next one started, as when
  // the lane hands its slot on before the finished task's bookkeeping.
  const tasks = Array.from({ length: 100 }, (_, i) => span(`t${i}`, "io", i * 10, i * 10 + 11));
  const report = buildReport(tasks, { wallMs: 1001, workers: 0, concurrency: 1 });
  assert.equal(report.busyMs, 1100, "task time is still the sum of durations");
  assert.ok(report.speedup <= 1, `speedup ${report.speedup}`);
  assert.ok(report.speedup > 0.99, `speedup ${report.speedup}`);
});

Deno.test("buildReport never gives a speedup above what the io slots and workers allow", () => {
  const io = Array.from({ length: 50 }, (_, i) => span(`io${i}`, "io", 0, 100));
  const cpu = Array.from({ length: 10 }, (_, i) => span(`cpu${i}`, "cpu", 0, 100));
  const report = buildReport([...io, ...cpu], { wallMs: 100, workers: 2, concurrency: 4 });
  assert.equal(report.busyMs, 6000);
  assert.equal(report.speedup, 6, "4 io slots and 2 workers");
});

Deno.test("buildReport leaves the waits between a task's attempts out of the speedup", () => {
  const retried: TaskReport = {
    ...span("flaky", "io", 0, 1000),
    attempts: [{ startMs: 0, endMs: 100, durationMs: 100 }, {
      startMs: 900,
      endMs: 1000,
      durationMs: 100,
    }],
    attemptCount: 2,
  };
  const report = buildReport([retried, span("other", "io", 0, 1000)], {
    wallMs: 1000,
    workers: 0,
    concurrency: 8,
  });
  assert.equal(report.speedup, 1.2);
});

Deno.test("summaryLine explains a speedup below 1x by where the wall time went", () => {
  const slowStart = buildReport([span("a", "io", 300, 1000)], {
    wallMs: 1000,
    workers: 0,
    concurrency: 1,
  });
  assert.equal(
    summaryLine(slowStart),
    "1 task: 1 ok in 1.00 s wall, 700 ms of task time, speedup 0.70x (idle 30% of the wall: start-up)",
  );
  const gaps = buildReport([span("a", "io", 0, 400), span("b", "io", 700, 1000)], {
    wallMs: 1000,
    workers: 0,
    concurrency: 1,
  });
  assert.match(summaryLine(gaps), /speedup 0\.70x \(idle 30% of the wall: waits between tasks\)$/);
});

Deno.test("summaryLine gives no speedup figure when tasks ran for under half the wall", () => {
  const trivial = buildReport([span("a", "io", 380, 385), span("b", "cpu", 390, 401)], {
    wallMs: 410,
    workers: 1,
    concurrency: 64,
  });
  assert.equal(
    summaryLine(trivial),
    "2 tasks: 2 ok in 410 ms wall, 16 ms of task time, no speedup figure (idle 96% of the wall: start-up)",
  );
  assert.doesNotMatch(summaryLine(trivial), /0\.\d+x/);
});

Deno.test("roundMs keeps three decimals", () => {
  assert.equal(roundMs(1.23456), 1.235);
  assert.equal(roundMs(2), 2);
});
