import assert from "node:assert/strict";
import { buildReport, type TaskReport } from "../lib/report/report.ts";
import { type ChromeTrace, chromeTrace, type TraceEvent } from "../lib/report/trace.ts";
import { fixture, spool, tempDir } from "./_helpers.ts";

/** The names the trace gives its tracks, by "pid:tid". */
function trackNames(trace: ChromeTrace): Map<string, string> {
  return new Map(
    trace.traceEvents
      .filter((event) => event.ph === "M" && event.name === "thread_name")
      .map((event) => [`${event.pid}:${event.tid}`, event.args!.name as string]),
  );
}

function slices(trace: ChromeTrace): TraceEvent[] {
  return trace.traceEvents.filter((event) => event.ph === "X");
}

/** Checks what Perfetto and chrome://tracing need of a JSON trace. */
function assertWellFormed(trace: ChromeTrace): void {
  assert.ok(Array.isArray(trace.traceEvents), "traceEvents is an array");
  const names = trackNames(trace);
  for (const event of trace.traceEvents) {
    assert.ok(event.ph === "X" || event.ph === "M", `known phase: ${JSON.stringify(event)}`);
    assert.ok(Number.isInteger(event.pid) && Number.isInteger(event.tid), "integer pid and tid");
    assert.equal(typeof event.name, "string");
    assert.ok(Number.isInteger(event.ts) && event.ts >= 0, "ts in whole µs");
    if (event.ph === "X") {
      assert.ok(Number.isInteger(event.dur) && event.dur! >= 0, "dur in whole µs");
      assert.ok(names.has(`${event.pid}:${event.tid}`), `a named track for ${event.name}`);
    }
  }
  // Slices on one track must not overlap, or the viewers draw them wrongly nested.
  const byTrack = Map.groupBy(slices(trace), (event) => `${event.pid}:${event.tid}`);
  for (const [track, events] of byTrack) {
    const sorted = events.toSorted((a, b) => a.ts - b.ts);
    for (let i = 1; i < sorted.length; i++) {
      const previous = sorted[i - 1];
      assert.ok(
        sorted[i].ts >= previous.ts + previous.dur!,
        `${sorted[i].name} overlaps ${previous.name} on track ${names.get(track)}`,
      );
    }
  }
}

function task(name: string, kind: "io" | "cpu", startMs: number, endMs: number, worker?: number) {
  const report: TaskReport = {
    name,
    kind,
    status: "ok",
    startMs,
    endMs,
    durationMs: endMs - startMs,
  };
  if (worker !== undefined) report.worker = worker;
  return report;
}

Deno.test("chromeTrace puts each io task on its own track and each worker on one", () => {
  const tasks = [
    task("a", "io", 0, 100),
    task("b", "io", 10, 110),
    task("x", "cpu", 100, 150, 0),
    task("y", "cpu", 150, 200, 0),
    task("z", "cpu", 100, 180, 1),
    {
      name: "never",
      kind: "io" as const,
      status: "skipped" as const,
      startMs: null,
      endMs: null,
      durationMs: 0,
      reason: "stopped",
    },
  ];
  const deps = new Map([["a", []], ["b", []], ["x", ["a"]], ["y", ["x"]], ["z", ["b"]], [
    "never",
    ["y"],
  ]]);
  const trace = chromeTrace(
    buildReport(tasks, { wallMs: 200, workers: 3, concurrency: 64, deps }),
  );
  assertWellFormed(trace);
  const names = trackNames(trace);
  const trackOf = (name: string) =>
    slices(trace)
      .filter((event) => event.name === name && event.cat !== "run")
      .map((event) => names.get(`${event.pid}:${event.tid}`));
  assert.deepEqual(trackOf("a"), ["critical path", "a"]);
  assert.deepEqual(trackOf("b"), ["b"]);
  assert.deepEqual(trackOf("x"), ["critical path", "worker 0"]);
  assert.deepEqual(trackOf("z"), ["worker 1"]);
  assert.deepEqual(trackOf("never"), [], "a skipped task has no slice");
  assert.ok([...names.values()].includes("worker 2"), "an idle worker still has its track");
  const x = slices(trace).find((event) => event.name === "x" && event.cat === "cpu")!;
  assert.equal(x.ts, 100_000);
  assert.equal(x.dur, 50_000);
  assert.deepEqual(x.args, { status: "ok", durationMs: 50, worker: 0 });
});

Deno.test("spool run --trace writes a trace that shows io overlap and worker occupancy", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/trace.json`;
  const { code, stderr } = await spool(
    ["run", "-f", fixture("overlap.ts"), "-w", "2", "--trace", path],
    ["-A"],
  );
  assert.equal(code, 0, stderr);
  assert.match(stderr, /Trace written to .*trace\.json: open it in https:\/\/ui\.perfetto\.dev/);
  const trace: ChromeTrace = JSON.parse(await Deno.readTextFile(path));
  assertWellFormed(trace);
  assert.equal(trace.displayTimeUnit, "ms");
  const names = trackNames(trace);
  const tasksOn = (pattern: RegExp) =>
    slices(trace).filter((event) =>
      event.cat !== "run" && pattern.test(names.get(`${event.pid}:${event.tid}`)!)
    );
  const waits = tasksOn(/^wait:/);
  assert.equal(waits.length, 3);
  assert.equal(new Set(waits.map((event) => event.tid)).size, 3, "one track per io task");
  // Overlap: every wait started before any of them ended.
  const firstEnd = Math.min(...waits.map((event) => event.ts + event.dur!));
  assert.ok(waits.every((event) => event.ts < firstEnd), "the io tasks overlap in time");
  const spins = tasksOn(/^worker \d$/);
  assert.deepEqual(
    spins.map((event) => names.get(`${event.pid}:${event.tid}`)).sort(),
    ["worker 0", "worker 1"],
    "the two cpu tasks ran on two workers",
  );
  const run = slices(trace).find((event) => event.cat === "run" && event.tid === 1)!;
  assert.ok(slices(trace).every((event) => event.ts + event.dur! <= run.ts + run.dur! + 1));
});

Deno.test("spool run --trace without write access stops before anything runs", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/trace.json`;
  const { code, stderr } = await spool(
    ["run", "-f", fixture("overlap.ts"), "--trace", path],
    ["--allow-read", "--allow-env"],
  );
  assert.equal(code, 2, stderr);
  assert.match(stderr, /Cannot write the trace to ".*trace\.json": run again with --allow-write=/);
  assert.doesNotMatch(stderr, /^start /m, "nothing ran");
});
