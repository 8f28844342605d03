import assert from "node:assert/strict";
import { loadTaskFile, run, type TaskReport, WorkerPool } from "../mod.ts";
import { runCli } from "../lib/cli/cli.ts";
import { ABORT_GRACE_MS } from "../lib/run/_deadline.ts";
import { captureSink, fixture, tempDir, uncached } from "./_helpers.ts";

function byName(tasks: TaskReport[]): Record<string, TaskReport> {
  return Object.fromEntries(tasks.map((task) => [task.name, task]));
}

async function load(name: string) {
  return await loadTaskFile(fixture(`failure/${name}`));
}

Deno.test("Fail-fast: a failure aborts running io tasks, terminates running cpu workers and skips the rest", async () => {
  const { tasks, url } = await load("fail_fast.ts");
  const { seen, spinning } = await import(url);
  using pool = new WorkerPool(url, { size: 2 });
  const t0 = performance.now();
  const report = await run(tasks, {
    cpuLane: pool,
    reporter: { taskStart: (event) => event.name === "spinning" && spinning.resolve() },
  });
  const wall = performance.now() - t0;
  const t = byName(report.tasks);

  assert.equal(t.bad.status, "failed");
  assert.equal(t.bad.error?.message, "bad thing happened");
  assert.equal(t.slowIo.status, "cancelled", "a running io task is cancelled, not failed");
  assert.equal(t.slowIo.reason, 'stopped because task "bad" failed');
  assert.equal(seen.slowAborted, true, "its signal was aborted");
  assert.equal(t.spinning.status, "cancelled");
  assert.equal(t.spinning.reason, 'stopped because task "bad" failed');
  assert.equal(pool.liveCount, 0, "the spinning worker was terminated, and no work remains");
  assert.equal(t.child.status, "skipped");
  assert.equal(t.child.reason, 'dependency "bad" failed', "a dependant names the failed task");
  for (const name of ["afterSpin", "afterSlow"]) {
    assert.equal(t[name].status, "skipped", name);
    assert.equal(t[name].reason, 'stopped because task "bad" failed', name);
  }
  assert.equal(report.ok, false);
  assert.equal(report.cancelled, undefined, "a failure is not a cancellation");
  assert.ok(wall < 10_000, `the run ended once the failure stopped it (${wall} ms)`);
});

Deno.test("Keep-going: a failure stops only what is downstream of it", async () => {
  const { tasks, url } = await load("crashing.ts");
  using pool = new WorkerPool(url, { size: 1 });
  const report = await run(tasks, {
    cpuLane: pool,
    keepGoing: true,
    targets: ["afterClose", "fine"],
  });
  const t = byName(report.tasks);
  assert.equal(t.closes.status, "failed");
  assert.equal(t.afterClose.status, "skipped");
  assert.equal(t.afterClose.reason, 'dependency "closes" failed');
  assert.equal(t.fine.status, "ok");
  assert.deepEqual(report.results, { fine: "fine" });
});

Deno.test("A dying worker fails only its task with a clear error, and the pool replaces it", async () => {
  const { tasks, url } = await load("crashing.ts");
  using pool = new WorkerPool(url, { size: 2 });
  const report = await run(tasks, { cpuLane: pool, keepGoing: true });
  const t = byName(report.tasks);

  // An error outside the body fails its task; the worker lives on.
  const faults: Record<string, string> = {
    throwsOutside: "Error: thrown from a timer",
    rejectsOutside: "Error: nobody caught this",
  };
  for (const [name, message] of Object.entries(faults)) {
    assert.equal(t[name].status, "failed", name);
    assert.equal(
      t[name].error?.message,
      `Task "${name}" raised an error outside its body (in a callback or a promise nobody awaited): ${message}`,
    );
  }
  // A task cannot end the worker it shares: closing or exiting throws in it.
  const refused: Record<string, RegExp> = {
    closes: /^The task called self\.close\(\): a task cannot close its worker/,
    exits: /^The task called Deno\.exit\(3\): a task cannot end its sandbox/,
  };
  for (const [name, message] of Object.entries(refused)) {
    assert.equal(t[name].status, "failed", name);
    assert.match(t[name].error!.message, message, name);
  }
  assert.match(
    t.throwsOutside.error!.stack!,
    /crashing\.ts/,
    "the crash's stack points at the task file",
  );
  assert.equal(t.unclonable.status, "failed");
  assert.match(
    t.unclonable.error!.message,
    /Cannot return the result of cpu task "unclonable": it is not structured-cloneable/,
  );
  assert.equal(t.fine.status, "ok");
  assert.equal(t.fineToo.status, "ok");
  assert.equal(t.afterClose.status, "skipped");
  assert.equal(pool.liveCount, pool.size, "every dead worker was replaced");
});

Deno.test("An io task's signal aborts at its deadline and it fails with a TimeoutError naming the limit", async () => {
  const { tasks, url } = await load("timeouts.ts");
  const { seen } = await import(url);
  const report = await run(tasks, { targets: ["honours"] });
  const [task] = report.tasks;
  assert.equal(task.status, "failed");
  assert.equal(task.error?.name, "TimeoutError");
  assert.equal(task.error?.message, 'Task "honours" timed out after 150 ms');
  assert.deepEqual(seen.honours, { aborted: true, reason: "TimeoutError" });
  assert.ok(task.durationMs >= 149, `${task.durationMs} ms`);
});

Deno.test("An io task that ignores its signal still ends: spool stops waiting after the grace period", async () => {
  const { tasks } = await load("timeouts.ts");
  const report = await run(tasks, { targets: ["ignores"] });
  const [task] = report.tasks;
  assert.equal(task.status, "failed");
  assert.equal(task.error?.message, 'Task "ignores" timed out after 150 ms');
  assert.ok(
    task.durationMs >= 150 + ABORT_GRACE_MS - 1,
    `it had its grace period (${task.durationMs} ms)`,
  );
});

Deno.test("A cpu task stuck in a loop is terminated at its deadline and its worker replaced", async () => {
  const { tasks, url } = await load("timeouts.ts");
  using pool = new WorkerPool(url, { size: 1 });
  const report = await run(tasks, {
    cpuLane: pool,
    keepGoing: true,
    targets: ["afterSpin", "fineCpu"],
  });
  const t = byName(report.tasks);
  assert.equal(t.spins.status, "failed");
  assert.equal(t.spins.error?.name, "TimeoutError");
  assert.equal(t.spins.error?.message, 'Task "spins" timed out after 300 ms');
  assert.equal(t.afterSpin.status, "skipped");
  assert.equal(t.fineCpu.status, "ok", "the one-worker pool still ran the next task");
  assert.equal(pool.liveCount, 1, "the pool kept its size");
});

Deno.test("The run's timeout applies to tasks that set none; Infinity opts a task out", async () => {
  const { tasks } = await load("timeouts.ts");
  const report = await run(tasks, { targets: ["usesDefault", "optsOut"], timeout: 200 });
  const t = byName(report.tasks);
  assert.equal(t.usesDefault.status, "failed");
  assert.equal(t.usesDefault.error?.message, 'Task "usesDefault" timed out after 200 ms');
  assert.equal(t.optsOut.status, "ok");
  assert.equal(t.optsOut.result, "took its time");
});

Deno.test("run() rejects a timeout that is not a number of ms above 0", async () => {
  const { tasks } = await load("timeouts.ts");
  for (const timeout of [0, -5, Number.NaN]) {
    await assert.rejects(run(tasks, { timeout }), {
      name: "RangeError",
      message:
        `Cannot run as 'timeout' must be a number of ms above 0: current value is ${timeout}`,
    });
  }
});

Deno.test("spool run --timeout limits every task that sets none and names the limit", async () => {
  const stderr = captureSink();
  const code = await runCli(
    uncached(["run", "-f", fixture("failure/timeouts.ts"), "--timeout", "0.2s", "usesDefault"]),
    { stderr, stdout: captureSink(), handleSignals: false },
  );
  assert.equal(code, 1);
  assert.match(stderr.text, /Task "usesDefault" timed out after 200 ms/);
});

Deno.test("spool run --timeout rejects a value that is not a duration", async () => {
  for (const value of ["0", "-1s", "soon", "5 minutes"]) {
    const stderr = captureSink();
    const code = await runCli(
      uncached(["run", "-f", fixture("failure/timeouts.ts"), "--timeout", value]),
      {
        stderr,
        stdout: captureSink(),
        handleSignals: false,
      },
    );
    assert.equal(code, 2, value);
    assert.match(stderr.text, /'--timeout' must be a duration above 0 such as 500ms, 30s or 2m/);
  }
});

Deno.test("--report-file writes the report when a task fails, keeping every finished task's result", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/report.json`;
  const code = await runCli(
    uncached(["run", "-f", fixture("failing.ts"), "--keep-going", "--report-file", path]),
    { stderr: captureSink(), stdout: captureSink(), handleSignals: false },
  );
  assert.equal(code, 1);
  const report = JSON.parse(await Deno.readTextFile(path));
  const t = byName(report.tasks);
  assert.equal(report.ok, false);
  assert.equal(t.bad.status, "failed");
  assert.equal(t.after.status, "skipped");
  assert.deepEqual([t.fine.status, t.fine.result], ["ok", "fine"]);
  assert.deepEqual([t.later.status, t.later.result], ["ok", "later"]);
});

Deno.test("--report-file replaces a report whole, through a temporary file and a rename", async () => {
  await using dir = await tempDir();
  const path = await dir.write("report.json", "an older report");
  const renames: string[] = [];
  const rename = Deno.rename;
  Deno.rename = (from, to) => {
    renames.push(`${from} -> ${to}`);
    return rename(from, to);
  };
  try {
    const code = await runCli(
      uncached(["run", "-f", fixture("failing.ts"), "fine", "--report-file", path]),
      { stderr: captureSink(), stdout: captureSink(), handleSignals: false },
    );
    assert.equal(code, 0);
  } finally {
    Deno.rename = rename;
  }
  assert.equal(renames.length, 1);
  assert.match(renames[0], /\/\.report\.json\.\d+-\w+\.tmp -> .*\/report\.json$/);
  assert.equal(JSON.parse(await Deno.readTextFile(path)).ok, true);
  const left = [];
  for await (const entry of Deno.readDir(dir.path)) left.push(entry.name);
  assert.deepEqual(left, ["report.json"], "no temporary file is left behind");
});

Deno.test("--report-file is written when the run is cancelled, with finished tasks kept", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/report.json`;
  const controller = new AbortController();
  const stderr = captureSink();
  const running = runCli(uncached(["run", "-f", fixture("long.ts"), "--report-file", path]), {
    stderr,
    stdout: captureSink(),
    signal: controller.signal,
    handleSignals: false,
  });
  // Cancel once the long task has started.
  while (!/start long/.test(stderr.text)) await new Promise((r) => setTimeout(r, 10));
  controller.abort(new Error("cancelled by the test"));
  assert.equal(await running, 130);
  const report = JSON.parse(await Deno.readTextFile(path));
  assert.equal(report.cancelled, "cancelled by the test");
  const t = byName(report.tasks);
  assert.equal(t.long.status, "cancelled");
  assert.equal(t.after.status, "skipped");
});

Deno.test("--report-file into a missing directory is a usage error before anything runs", async () => {
  const stderr = captureSink();
  const code = await runCli(
    uncached([
      "run",
      "-f",
      fixture("failing.ts"),
      "--report-file",
      "/nonexistent-spool-dir/report.json",
    ]),
    { stderr, stdout: captureSink(), handleSignals: false },
  );
  assert.equal(code, 2);
  assert.equal(
    stderr.text,
    'error: Cannot write the report to "/nonexistent-spool-dir/report.json" as its directory "/nonexistent-spool-dir" does not exist: create it first\n',
  );
});

Deno.test("A cpu task runs the default set's body when another exported set has a task of that name", async () => {
  const { tasks, url } = await load("two_sets.ts");
  const report = await run(tasks, { module: url, workers: 1 });
  assert.equal(report.results.build, "from the default set");
});
