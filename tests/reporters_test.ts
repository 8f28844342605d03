import assert from "node:assert/strict";
import { buildReport, type RunReport, type TaskReport } from "../lib/report/report.ts";
import { combineReporters, type Reporter, type RunPlan } from "../lib/report/reporter.ts";
import { summaryBlock } from "../lib/report/_summary.ts";
import { palette } from "../lib/report/_ansi.ts";
import { plainReporter } from "../lib/report/plain.ts";
import { captureSink, deno, fixture, spool } from "./_helpers.ts";
import { assertSnapshot, normalize } from "./_snapshot.ts";

const ESC = "\x1b";

/**
 * Run output made stable: `normalize`, and the speedup, whose wording
 * depends on timing (a figure, or why there is none), becomes `<speedup>`.
 */
function summaryNormalized(text: string): string {
  return normalize(text).replace(
    /, (?:speedup <x>|no speedup figure)(?: \(idle \d+% of the wall: [\w -]+\))?$/m,
    ", <speedup>",
  );
}

const DEPS: Record<string, string[]> = {
  fetch: [],
  side: [],
  parse: ["fetch"],
  upload: ["parse"],
  notify: ["upload"],
};

function task(
  name: string,
  kind: "io" | "cpu",
  startMs: number,
  endMs: number,
  extra: Partial<TaskReport> = {},
): TaskReport {
  return { name, kind, status: "ok", startMs, endMs, durationMs: endMs - startMs, ...extra };
}

/** A run with every kind of ending: what plainReporter sees, event by event. */
function scriptedRun(): { plan: RunPlan; report: RunReport; replay(reporter: Reporter): void } {
  const fetch = task("fetch", "io", 0, 1000);
  const side = task("side", "io", 0, 200);
  const parse = task("parse", "cpu", 1000, 1500, { worker: 0 });
  const upload = task("upload", "io", 1530, 1540, {
    status: "failed",
    error: {
      name: "TypeError",
      message: "upload refused",
      stack: "TypeError: upload refused\n    at upload (file:///tasks.ts:3:9)",
    },
  });
  const notify: TaskReport = {
    name: "notify",
    kind: "io",
    status: "skipped",
    startMs: null,
    endMs: null,
    durationMs: 0,
    reason: 'dependency "upload" failed',
  };
  const tasks = [fetch, side, parse, upload, notify];
  const plan: RunPlan = {
    tasks: tasks.map((t, i) => ({
      name: t.name,
      kind: t.kind,
      deps: DEPS[t.name],
      permissions: {},
      step: [1, 1, 2, 3, 4][i],
    })),
    workers: 2,
    concurrency: 64,
  };
  const report = buildReport(tasks, {
    wallMs: 1560,
    workers: 2,
    concurrency: 64,
    deps: new Map(Object.entries(DEPS)),
  });
  return {
    plan,
    report,
    replay(reporter) {
      reporter.runStart?.(plan);
      reporter.taskStart?.({ name: "fetch", kind: "io", startMs: 0 });
      reporter.taskStart?.({ name: "side", kind: "io", startMs: 0 });
      reporter.taskOutput?.({ name: "fetch", stream: "stdout", text: "downloading 3 files" });
      reporter.taskEnd?.(side);
      reporter.taskEnd?.(fetch);
      reporter.taskStart?.({ name: "parse", kind: "cpu", startMs: 1000, worker: 0 });
      reporter.taskOutput?.({ name: "parse", stream: "stderr", text: "warning: 2 rows skipped" });
      reporter.taskEnd?.(parse);
      reporter.taskStart?.({ name: "upload", kind: "io", startMs: 1530 });
      reporter.taskOutput?.({ name: "upload", stream: "stdout", text: "connecting" });
      reporter.taskEnd?.(upload);
      reporter.taskEnd?.(notify);
      reporter.runEnd?.(report);
    },
  };
}

Deno.test("plainReporter prints a line per start, end and output line, then the summary", async () => {
  const out = captureSink();
  scriptedRun().replay(plainReporter(out));
  await assertSnapshot("plain_reporter", out.text);
});

Deno.test("plainReporter in quiet mode prints only failures, with their output, and the summary", async () => {
  const out = captureSink();
  scriptedRun().replay(plainReporter(out, { quiet: true }));
  await assertSnapshot("plain_reporter_quiet", out.text);
  assert.doesNotMatch(out.text, /downloading 3 files/, "a passing task's output stays hidden");
  assert.match(out.text, /connecting/, "the failed task's output is shown with its error");
});

Deno.test("plainReporter writes escape codes only when colour is on", () => {
  const plain = captureSink();
  const colored = captureSink();
  scriptedRun().replay(plainReporter(plain));
  scriptedRun().replay(plainReporter(colored, { color: true }));
  assert.ok(!plain.text.includes(ESC), "no escape codes");
  assert.ok(colored.text.includes(`${ESC}[31m`), "red for the failure");
});

Deno.test("the summary lists the five slowest tasks, slowest first", () => {
  const tasks = Array.from({ length: 8 }, (_, i) => task(`t${i}`, "io", 0, (i + 1) * 10));
  const report = buildReport(tasks, { wallMs: 80, workers: 0, concurrency: 64 });
  const lines = summaryBlock(report, palette(false));
  const start = lines.indexOf("Slowest tasks:");
  assert.deepEqual(
    lines.slice(start + 1, start + 7).map((line) => line.trim().split(/\s+/)[0]),
    ["t7", "t6", "t5", "t4", "t3", ""],
  );
});

Deno.test("the summary shows the critical path with the wait before each step", () => {
  const { report } = scriptedRun();
  assert.deepEqual(report.criticalPath, ["fetch", "parse", "upload"]);
  const text = summaryBlock(report, palette(false)).join("\n");
  assert.match(text, /Critical path: 1\.54 s of 1\.56 s wall, 3 tasks/);
  // A sandboxed io task may wait for its host to start, a trusted one only for a slot.
  assert.match(text, /-> upload +io +10 ms +waited 30 ms for a slot or its sandbox host/);
  const trusted = buildReport(
    report.tasks.map((t) => t.name === "upload" ? { ...t, trusted: true as const } : t),
    { wallMs: 1560, workers: 2, concurrency: 64, deps: new Map(Object.entries(DEPS)) },
  );
  assert.match(
    summaryBlock(trusted, palette(false)).join("\n"),
    /-> upload +io +10 ms +waited 30 ms for a slot$/m,
  );
});

Deno.test("the summary shortens a long critical path to its ends", () => {
  const tasks = Array.from({ length: 30 }, (_, i) => task(`step${i}`, "io", i * 10, i * 10 + 10));
  const deps = new Map(tasks.map((t, i) => [t.name, i === 0 ? [] : [`step${i - 1}`]]));
  const report = buildReport(tasks, { wallMs: 300, workers: 0, concurrency: 64, deps });
  const text = summaryBlock(report, palette(false)).join("\n");
  assert.match(text, /Critical path: 300 ms of 300 ms wall, 30 tasks/);
  assert.match(text, /\.\.\. 20 more/);
  assert.match(text, /step0 /);
  assert.match(text, /step29 /);
  assert.doesNotMatch(text, /step15 /);
});

Deno.test("combineReporters passes each event to every reporter, even after one throws", () => {
  const seen: string[] = [];
  const combined = combineReporters(
    {
      taskStart() {
        throw new Error("broken reporter");
      },
    },
    undefined,
    { taskStart: (event) => seen.push(`start ${event.name}`) },
    { taskEnd: (report) => seen.push(`end ${report.name}`) },
  );
  combined.taskStart?.({ name: "a", kind: "io", startMs: 0 });
  combined.taskEnd?.(task("a", "io", 0, 1));
  assert.deepEqual(seen, ["start a", "end a"]);
  assert.equal(combined.taskOutput, undefined, "no reporter shows output: capture stays off");
  assert.equal(typeof combineReporters({ taskOutput() {} }).taskOutput, "function");
});

Deno.test("spool run prints plain logs with task output prefixed by the task name", async () => {
  const { code, stderr } = await spool(
    ["run", "-f", fixture("output.ts"), "-w", "1", "prepare", "crunch", "finish"],
    ["-A"],
    { env: { CI: "true" } },
  );
  assert.equal(code, 0, stderr);
  assert.ok(!stderr.includes(ESC), "no escape codes in plain logs");
  await assertSnapshot("cli_plain_ok", summaryNormalized(stderr));
});

Deno.test("spool run prints each failure with its error and output, and the summary", async () => {
  const { code, stderr } = await spool(["run", "-f", fixture("output.ts"), "-w", "1"]);
  assert.equal(code, 1, stderr);
  await assertSnapshot("cli_plain_failed", summaryNormalized(stderr));
});

Deno.test("spool run --quiet prints only the failure and the summary", async () => {
  const { code, stderr } = await spool(["run", "-q", "-f", fixture("output.ts"), "-w", "1"]);
  assert.equal(code, 1, stderr);
  await assertSnapshot("cli_plain_quiet", summaryNormalized(stderr));
  assert.doesNotMatch(stderr, /^start /m);
  assert.doesNotMatch(stderr, /preparing inputs/, "a task that did not fail keeps its output");
});

Deno.test("plainReporter writes the lines of one macrotask in one write, unchanged", async () => {
  const writes: string[] = [];
  const reporter = plainReporter({ write: (text) => writes.push(text) });
  for (let i = 0; i < 1000; i++) reporter.taskStart?.({ name: `t${i}`, kind: "io", startMs: 0 });
  assert.equal(writes.length, 0, "nothing written while the macrotask runs");
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(writes.length, 1, "one write for the batch");
  assert.equal(
    writes[0],
    Array.from({ length: 1000 }, (_, i) => `start t${i} (io)\n`).join(""),
  );
  reporter.taskStart?.({ name: "late", kind: "io", startMs: 0 });
  reporter.flush();
  assert.deepEqual(writes.slice(1), ["start late (io)\n"], "flush() writes what is waiting");
});

Deno.test("plainReporter writes at once when 64 KiB of lines are waiting", () => {
  const writes: string[] = [];
  using reporter = plainReporter({ write: (text) => writes.push(text) });
  const text = "x".repeat(1000);
  for (let i = 0; i < 70; i++) reporter.taskOutput?.({ name: "big", stream: "stdout", text });
  assert.equal(writes.length, 1, "written without waiting for the macrotask to end");
  assert.ok(writes[0].length >= 64 * 1024, `${writes[0].length} characters`);
});

Deno.test("plainReporter's lines are not lost when the process exits before they are written", async () => {
  const script = `
    import { plainReporter } from "${new URL("../lib/report/plain.ts", import.meta.url).href}";
    const encoder = new TextEncoder();
    const reporter = plainReporter({ write: (text) => Deno.stderr.writeSync(encoder.encode(text)) });
    reporter.taskStart({ name: "doomed", kind: "io", startMs: 0 });
    Deno.exit(3);
  `;
  const { code, stderr } = await deno(["eval", script]);
  assert.equal(code, 3);
  assert.equal(stderr, "start doomed (io)\n");
});
