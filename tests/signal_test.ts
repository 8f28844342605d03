import assert from "node:assert/strict";
import {
  type Background,
  background,
  CLI,
  fixture,
  lastLine,
  SUMMARY,
  tempDir,
} from "./_helpers.ts";

const TASKS = fixture("failure/signal_tasks.ts");

/** spool in the background, logging to `log`; disposing kills it (SIGKILL). */
function start(args: string[], log: string, script = CLI): Background {
  return background(args, { env: { SPOOL_TEST_LOG: log }, script, stopSignal: "SIGKILL" });
}

/** Waits until `check` holds, polling; fails after `ms`. */
async function until(what: string, check: () => boolean | Promise<boolean>, ms = 30_000) {
  const deadline = Date.now() + ms;
  while (!await check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function logLines(log: string): Promise<string[]> {
  try {
    return (await Deno.readTextFile(log)).split("\n").filter((line) => line !== "");
  } catch {
    return [];
  }
}

/** Whether a process exists (and is not a zombie waiting to be reaped). */
async function alive(pid: number): Promise<boolean> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

async function childPid(log: string): Promise<number> {
  const line = (await logLines(log)).find((l) => l.startsWith("child-pid "))!;
  return Number(line.slice("child-pid ".length));
}

async function stopsCleanly(signal: "SIGINT" | "SIGTERM", code: number, reason: string) {
  await using dir = await tempDir();
  const log = `${dir.path}/log`;
  const reportFile = `${dir.path}/report.json`;
  await using spool = start(
    ["run", "-f", TASKS, "quick", "child", "afterSpin", "--report-file", reportFile],
    log,
  );
  await until("the child process and the cpu task to start, and quick to end", async () => {
    const lines = await logLines(log);
    return lines.some((l) => l.startsWith("child-pid ")) && lines.includes("spin-started") &&
      spool.stderr.includes("ok    quick");
  });
  const sleepPid = await childPid(log);
  assert.ok(await alive(sleepPid), "the task's child process runs");

  Deno.kill(spool.pid, signal);
  const status = await spool.status;

  assert.equal(status.code, code, spool.stderr);
  assert.match(spool.stderr, new RegExp(`Cancelled: ${reason.replace(/[()]/g, "\\$&")}`));
  assert.match(lastLine(spool.stderr), SUMMARY, "the summary is printed");
  await until("the child process to be gone", async () => !await alive(sleepPid), 5_000);
  assert.equal(await alive(spool.pid), false);

  const report = JSON.parse(await Deno.readTextFile(reportFile));
  assert.equal(report.cancelled, reason);
  const statuses = Object.fromEntries(
    report.tasks.map((t: { name: string; status: string }) => [t.name, t.status]),
  );
  assert.deepEqual(statuses, {
    quick: "ok",
    child: "cancelled",
    spin: "cancelled",
    afterSpin: "skipped",
  });
  assert.equal(report.tasks[0].result, "done early", "a finished task keeps its result");
}

Deno.test("SIGINT cancels the run: the summary is printed, exit 130, no child process outlives spool", async () => {
  await stopsCleanly("SIGINT", 130, "interrupted (SIGINT)");
});

Deno.test("SIGTERM cancels the run like SIGINT, with exit 143", async () => {
  await stopsCleanly("SIGTERM", 143, "terminated (SIGTERM)");
});

Deno.test("A second SIGINT exits at once, still writing the report of what had finished", async () => {
  await using dir = await tempDir();
  const log = `${dir.path}/log`;
  const reportFile = `${dir.path}/report.json`;
  // "stubborn" ignores its signal: after the first SIGINT the run would wait
  // out its grace period before ending.
  await using spool = start(
    ["run", "-f", TASKS, "quick", "stubborn", "--report-file", reportFile],
    log,
  );
  await until(
    "the stubborn task to start, and quick to end",
    async () =>
      (await logLines(log)).includes("stubborn-started") && spool.stderr.includes("ok    quick"),
  );

  Deno.kill(spool.pid, "SIGINT");
  await until("the first SIGINT to be handled", () => spool.stderr.includes("Interrupted:"));
  Deno.kill(spool.pid, "SIGINT");
  const status = await spool.status;

  assert.equal(status.code, 130);
  assert.match(spool.stderr, /Interrupted again: exiting at once/);
  assert.doesNotMatch(spool.stderr, /Cancelled:/, "it did not wait for the run to end");
  const report = JSON.parse(await Deno.readTextFile(reportFile));
  assert.equal(report.cancelled, "interrupted (SIGINT), then exited at once");
  const [quick, stubborn] = report.tasks;
  assert.deepEqual([quick.status, quick.result], ["ok", "done early"]);
  assert.equal(stubborn.status, "cancelled");
  assert.equal(stubborn.reason, "interrupted (SIGINT), then exited at once");
});

Deno.test("A second SIGINT exits at once, still writing the --trace file of what had finished", async () => {
  await using dir = await tempDir();
  const log = `${dir.path}/log`;
  const traceFile = `${dir.path}/trace.json`;
  await using spool = start(["run", "-f", TASKS, "quick", "stubborn", "--trace", traceFile], log);
  await until(
    "the stubborn task to start, and quick to end",
    async () =>
      (await logLines(log)).includes("stubborn-started") && spool.stderr.includes("ok    quick"),
  );

  Deno.kill(spool.pid, "SIGINT");
  await until("the first SIGINT to be handled", () => spool.stderr.includes("Interrupted:"));
  Deno.kill(spool.pid, "SIGINT");
  const status = await spool.status;

  assert.equal(status.code, 130);
  assert.match(spool.stderr, /Interrupted again: exiting at once/);
  const trace = JSON.parse(await Deno.readTextFile(traceFile)) as {
    traceEvents: { name: string; ph: string }[];
  };
  const slices = trace.traceEvents.filter((event) => event.ph === "X").map((event) => event.name);
  assert.ok(slices.includes("stubborn"), `the cancelled task is in the trace: ${slices}`);
});

Deno.test("A task file that runs itself exits after SIGINT, though a task ignores its signal", async () => {
  await using dir = await tempDir();
  const log = `${dir.path}/log`;
  await using spool = start(["run", "quick", "stubborn"], log, TASKS);
  await until(
    "the stubborn task to start, and quick to end",
    async () =>
      (await logLines(log)).includes("stubborn-started") && spool.stderr.includes("ok    quick"),
  );
  Deno.kill(spool.pid, "SIGINT");
  let exited = false;
  spool.status.then(() => exited = true);
  // Without the exit, the never-ending body would keep the process alive.
  await until("the process to exit", () => exited, 20_000);
  assert.equal((await spool.status).code, 130);
  assert.match(lastLine(spool.stderr), SUMMARY);
});
