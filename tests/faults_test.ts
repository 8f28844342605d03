import assert from "node:assert/strict";
import { fixture, spool, tempDir } from "./_helpers.ts";
import type { RunReport, TaskReport } from "../lib/report/report.ts";

const FAULTS = fixture("sandbox/faults.ts");

function byName(report: RunReport): Record<string, TaskReport> {
  return Object.fromEntries(report.tasks.map((task) => [task.name, task]));
}

Deno.test("No task can take the run down: each fault fails its own task, and the summary and report are written", async () => {
  await using dir = await tempDir();
  const reportFile = `${dir.path}/report.json`;
  const { code, stdout, stderr } = await spool([
    "run",
    "--file",
    FAULTS,
    "--keep-going",
    "--report",
    "json",
    "--report-file",
    reportFile,
  ]);
  assert.equal(code, 1, `a failed run exits 1, whatever a task did:\n${stderr}`);
  const report = JSON.parse(stdout) as RunReport;
  assert.deepEqual(
    JSON.parse(await Deno.readTextFile(reportFile)).tasks.length,
    report.tasks.length,
  );
  const t = byName(report);

  assert.equal(t.fine.status, "ok");
  assert.equal(t.keepsRunAlive.status, "ok");

  assert.equal(t.outOfMemory.status, "failed");
  assert.match(t.outOfMemory.error!.message, /ran out of memory \(heap limit 64 MiB\)/);

  assert.equal(t.unhandledRejection.status, "failed");
  assert.match(t.unhandledRejection.error!.message, /outside its body.*Error: nobody awaits me$/);

  assert.equal(
    t.lateTimer.status,
    "failed",
    "a timer that throws after its task returned fails that task",
  );
  assert.match(t.lateTimer.error!.message, /thrown by a timer after the task returned$/);

  for (const name of ["throwsNullProto", "throwsProxy", "throwsBadToString"]) {
    assert.equal(t[name].status, "failed", name);
    assert.equal(typeof t[name].error!.message, "string", name);
  }

  for (const name of ["cyclicResult", "throwingToJson"]) {
    assert.equal(t[name].status, "failed", name);
    assert.match(
      t[name].error!.message,
      /returned a result that cannot be written to the report/,
      `${name}: ${t[name].error!.message}`,
    );
  }

  assert.equal(t.exitsZero.status, "failed");
  assert.match(t.exitsZero.error!.message, /The task called Deno\.exit\(0\)/);
  assert.equal(t.exitsZeroTrusted.status, "failed");
  assert.match(t.exitsZeroTrusted.error!.message, /tasks cannot end the run/);
  assert.equal(t.processExitsZeroTrusted.status, "failed", "node:process's exit is refused too");
  assert.match(t.processExitsZeroTrusted.error!.message, /tasks cannot end the run/);

  assert.equal(t.cpuTimerLeftBehind.status, "failed", "the timer's own task fails");
  assert.match(t.cpuTimerLeftBehind.error!.message, /cpu timer after its task$/);

  // Output after a task returned is still that task's, on stderr: stdout holds only the JSON.
  assert.equal(t.printsLater.status, "ok");
  assert.match(stderr, /printsLater \| printed after the task returned/);
  assert.doesNotMatch(stdout, /printed after/);

  // The summary is there, and no runtime stack trace or crash report reached the user.
  assert.match(stderr, /\d+ tasks: \d+ ok, \d+ failed/);
  assert.doesNotMatch(stderr, /Fatal JavaScript out of memory|C stack trace|error: Uncaught/);
});

Deno.test("A task's leftover timer fails that task, not the next one on its worker", async () => {
  const { stdout } = await spool([
    "run",
    "--file",
    FAULTS,
    "--keep-going",
    "--workers",
    "1",
    "--report",
    "json",
    "nextOnThatWorker",
  ]);
  const t = byName(JSON.parse(stdout));
  assert.equal(t.cpuTimerLeftBehind.status, "failed");
  assert.equal(t.nextOnThatWorker.status, "ok");
  assert.equal(t.nextOnThatWorker.result, "next is fine");
});

Deno.test("Without --keep-going, a task that runs out of memory stops the run with a summary", async () => {
  await using dir = await tempDir();
  const reportFile = `${dir.path}/report.json`;
  const { code, stderr } = await spool([
    "run",
    "--file",
    FAULTS,
    "--report-file",
    reportFile,
    "outOfMemory",
    "fine",
  ]);
  assert.equal(code, 1, stderr);
  const t = byName(JSON.parse(await Deno.readTextFile(reportFile)));
  assert.equal(t.outOfMemory.status, "failed");
  assert.match(stderr, /FAIL +outOfMemory/);
  assert.match(stderr, /\d+ tasks?: /);
});

Deno.test("An io task whose host dies is retried in a new host, and the run ends", async () => {
  const { code, stdout } = await spool([
    "run",
    "--file",
    FAULTS,
    "--report",
    "json",
    "killsItsHost",
  ]);
  assert.equal(code, 1);
  const [task] = JSON.parse(stdout).tasks as TaskReport[];
  assert.equal(task.status, "failed");
  assert.equal(task.attemptCount, 2, "the retry ran in a new host");
  assert.match(task.error!.message, /killed by SIGKILL$/);
});
