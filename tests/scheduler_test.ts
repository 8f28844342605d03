import assert from "node:assert/strict";
import {
  type CpuLane,
  defineTasks,
  io,
  type Reporter,
  run,
  type TaskDefinition,
  type TaskReport,
  UsageError,
} from "../mod.ts";
import cpuTasks from "./fixtures/cpu_tasks.ts";
import { sleep } from "../lib/run/_retry.ts";

function byName(tasks: TaskReport[]): Record<string, TaskReport> {
  return Object.fromEntries(tasks.map((task) => [task.name, task]));
}

Deno.test("run() runs each selected task once, dependencies first, and nothing else", async () => {
  const calls: string[] = [];
  const task = (name: string, deps: string[] = []) =>
    io({
      trusted: true,
      deps,
      async run({ deps }) {
        calls.push(`start ${name}`);
        await Promise.resolve();
        calls.push(`end ${name}`);
        return [name, ...Object.keys(deps)].join("+");
      },
    });
  const set = defineTasks({
    top: task("top", ["d", "e"]),
    d: task("d", ["b", "c"]),
    b: task("b", ["a"]),
    c: task("c", ["a"]),
    a: task("a"),
    e: task("e"),
    unrelated: task("unrelated"),
  });
  const report = await run(set, { targets: ["d", "b"] });
  assert.equal(report.ok, true);
  assert.deepEqual(report.tasks.map((t) => t.name), ["a", "b", "c", "d"]);
  assert.deepEqual(report.results, { a: "a", b: "b+a", c: "c+a", d: "d+b+c" });
  for (const name of ["a", "b", "c", "d"]) {
    assert.equal(calls.filter((c) => c === `start ${name}`).length, 1, `${name} ran once`);
  }
  assert.ok(!calls.some((c) => c.includes("unrelated") || c.includes("top") || c.endsWith(" e")));
  const at = (event: string) => calls.indexOf(event);
  for (const [dep, task] of [["a", "b"], ["a", "c"], ["b", "d"], ["c", "d"]]) {
    assert.ok(at(`end ${dep}`) < at(`start ${task}`), `${dep} ends before ${task} starts`);
  }
});

Deno.test("run() runs every task when no target is given", async () => {
  const set = defineTasks({
    a: io({ trusted: true, run: () => 1 }),
    b: io({ trusted: true, deps: ["a"], run: () => 2 }),
  });
  const report = await run(set);
  assert.deepEqual(report.results, { a: 1, b: 2 });
});

Deno.test("run() overlaps independent io tasks: each waits until the other has started", async () => {
  const started = { left: Promise.withResolvers<void>(), right: Promise.withResolvers<void>() };
  const timers = new AbortController();
  const meet = (me: "left" | "right", other: "left" | "right") =>
    io({
      trusted: true,
      async run() {
        started[me].resolve();
        // Without overlap the other task never starts; give up after 5 s.
        const outcome = await Promise.race([
          started[other].promise.then(() => "met"),
          sleep(5_000, timers.signal).then(() => "timed out", () => "cancelled"),
        ]);
        if (outcome !== "met") throw new Error(`"${other}" did not start while "${me}" ran`);
        return me;
      },
    });
  const set = defineTasks({ left: meet("left", "right"), right: meet("right", "left") });
  const report = await run(set);
  timers.abort();
  assert.equal(report.ok, true, JSON.stringify(report.tasks));
});

Deno.test("run() overlaps io: six io tasks of 300 ms each finish well under 6 x 300 ms", async () => {
  const wait = io({ trusted: true, run: ({ signal }) => sleep(300, signal) });
  const set = defineTasks({ w1: wait, w2: wait, w3: wait, w4: wait, w5: wait, w6: wait });
  const t0 = performance.now();
  const report = await run(set);
  const elapsed = performance.now() - t0;
  assert.equal(report.ok, true);
  assert.ok(elapsed < 1200, `took ${elapsed} ms; serial would take 1800 ms`);
  assert.ok(report.wallMs < 1200, `wallMs ${report.wallMs}`);
  assert.ok(report.busyMs >= 6 * 290, `busyMs ${report.busyMs}`);
  assert.ok(report.speedup > 1.5, `speedup ${report.speedup}`);
});

Deno.test("run() hands results along: io -> cpu as a clone, cpu -> io as returned", async () => {
  const report = await run(cpuTasks, { targets: ["collect"], workers: 1 });
  assert.equal(report.ok, true, JSON.stringify(report.tasks));
  assert.deepEqual(report.tasks.map((t) => t.name), ["source", "double", "collect"]);
  const collected = report.results.collect as {
    source: { list: number[]; tag: string };
    double: { doubled: number[]; name: string; inWorker: boolean };
  };
  assert.deepEqual(collected.double, {
    doubled: [2, 4, 6],
    name: "spool-worker-0",
    inWorker: true,
  });
  // The worker changed its copy of "source"; the main side's did not change.
  assert.deepEqual(collected.source, { list: [1, 2, 3], tag: "original" });
  assert.equal(collected.source, report.results.source, "io dependants get the value itself");
  assert.equal(
    (globalThis as Record<string, unknown>).spoolFixtureBodyRan,
    undefined,
    "no cpu body ran on the main thread",
  );
});

Deno.test("run() puts concurrent cpu tasks on more than one worker", async () => {
  // meet1 and meet2 each wait (on shared memory) for the other to arrive.
  const met = await run(cpuTasks, { targets: ["meet1", "meet2"], workers: 2 });
  const tasks = byName(met.tasks);
  assert.equal(met.ok, true, JSON.stringify(met.tasks));
  assert.deepEqual(met.results.meet1, {
    name: `spool-worker-${tasks.meet1.worker}`,
    inWorker: true,
    met: true,
  });
  assert.deepEqual(met.results.meet2, {
    name: `spool-worker-${tasks.meet2.worker}`,
    inWorker: true,
    met: true,
  });
  assert.deepEqual([tasks.meet1.worker, tasks.meet2.worker].sort(), [0, 1]);

  const four = await run(cpuTasks, { targets: ["w1", "w2", "w3", "w4"], workers: 2 });
  const workers = new Set(four.tasks.map((t) => t.worker));
  assert.deepEqual([...workers].sort(), [0, 1]);
  for (const task of four.tasks) {
    assert.equal((four.results[task.name] as { name: string }).name, `spool-worker-${task.worker}`);
  }
});

Deno.test("run() fails fast: dependants and tasks not yet started are skipped, naming the failure", async () => {
  const called: string[] = [];
  let slowSignal: AbortSignal | undefined;
  const set = defineTasks({
    slow: io({
      trusted: true,
      async run({ signal }) {
        slowSignal = signal;
        // Passes after 5 s unless the failure of "bad" stops it first.
        await sleep(5_000, signal);
        return "not stopped";
      },
    }),
    bad: io({
      trusted: true,
      async run() {
        await Promise.resolve();
        throw new Error("bad thing happened");
      },
    }),
    child: io({ trusted: true, deps: ["bad"], run: () => called.push("child") }),
    grandchild: io({ trusted: true, deps: ["child"], run: () => called.push("grandchild") }),
    afterSlow: io({ trusted: true, deps: ["slow"], run: () => called.push("afterSlow") }),
  });
  const report = await run(set);
  const tasks = byName(report.tasks);
  assert.equal(report.ok, false);
  assert.equal(tasks.bad.status, "failed");
  assert.equal(tasks.bad.error?.message, "bad thing happened");
  assert.match(tasks.bad.error?.stack ?? "", /scheduler_test\.ts/);
  for (const name of ["child", "grandchild", "afterSlow"]) {
    assert.equal(tasks[name].status, "skipped", name);
    assert.match(tasks[name].reason!, /"bad" failed/, name);
    assert.equal(tasks[name].startMs, null);
  }
  assert.deepEqual(called, []);
  assert.equal(slowSignal?.aborted, true, "the running task was told to stop");
  assert.notEqual(tasks.slow.status, "ok");
  assert.deepEqual(Object.keys(report.results), []);
});

Deno.test("run() with keepGoing runs every task not downstream of a failure", async () => {
  const set = defineTasks({
    bad: io({
      trusted: true,
      async run() {
        await Promise.resolve();
        throw new Error("bad thing happened");
      },
    }),
    child: io({ trusted: true, deps: ["bad"], run: () => "never" }),
    grandchild: io({ trusted: true, deps: ["child"], run: () => "never" }),
    slowFine: io({ trusted: true, run: ({ signal }) => sleep(50, signal).then(() => "fine") }),
    later: io({ trusted: true, deps: ["slowFine"], run: ({ deps }) => `${deps.slowFine} later` }),
  });
  const report = await run(set, { keepGoing: true });
  const tasks = byName(report.tasks);
  assert.equal(report.ok, false);
  assert.equal(tasks.bad.status, "failed");
  assert.equal(tasks.child.reason, 'dependency "bad" failed');
  assert.equal(tasks.grandchild.reason, 'dependency "child" was skipped because "bad" failed');
  assert.equal(tasks.slowFine.status, "ok");
  assert.equal(tasks.later.status, "ok");
  assert.deepEqual(report.results, { slowFine: "fine", later: "fine later" });
});

Deno.test("run() report carries the run's figures and every task's timing", async () => {
  const report = await run(cpuTasks, { targets: ["collect"], workers: 2, concurrency: 5 });
  assert.equal(report.ok, true);
  assert.equal(report.workers, 2);
  assert.equal(report.concurrency, 5);
  assert.equal(report.cancelled, undefined);
  assert.ok(report.wallMs > 0);
  const sum = report.tasks.reduce((total, task) => total + task.durationMs, 0);
  assert.ok(Math.abs(report.busyMs - sum) < 0.01, `busyMs ${report.busyMs} vs ${sum}`);
  assert.ok(
    Math.abs(report.speedup - report.busyMs / report.wallMs) < 0.01,
    `speedup ${report.speedup} vs ${report.busyMs / report.wallMs}`,
  );
  for (const task of report.tasks) {
    assert.equal(task.status, "ok");
    assert.equal(typeof task.startMs, "number");
    assert.ok(task.startMs! >= 0 && task.endMs! >= task.startMs!, JSON.stringify(task));
    assert.ok(task.endMs! <= report.wallMs + 0.01, JSON.stringify(task));
    assert.ok(Math.abs(task.durationMs - (task.endMs! - task.startMs!)) < 0.01);
  }
  const tasks = byName(report.tasks);
  assert.deepEqual(
    report.tasks.map(({ name, kind }) => [name, kind]),
    [["source", "io"], ["double", "cpu"], ["collect", "io"]],
  );
  assert.ok(tasks.double.worker === 0 || tasks.double.worker === 1);
  assert.equal("worker" in tasks.source, false);
  assert.ok(tasks.source.endMs! <= tasks.double.startMs!);
  assert.ok(tasks.double.endMs! <= tasks.collect.startMs!);

  const ioOnly = await run(defineTasks({ a: io({ trusted: true, run: () => 1 }) }), { workers: 3 });
  assert.equal(ioOnly.workers, 0, "no worker pool without cpu tasks");
});

Deno.test("run() emits reporter events in order and returns the report it ends with", async () => {
  const events: string[] = [];
  let ended: unknown;
  const reporter: Reporter = {
    runStart: (plan) =>
      events.push(`runStart ${plan.tasks.map((t) => t.name).join(",")} ${plan.concurrency}`),
    taskStart: (event) => events.push(`taskStart ${event.name} ${event.kind}`),
    taskEnd: (task) => events.push(`taskEnd ${task.name} ${task.status}`),
    runEnd: (report) => {
      events.push("runEnd");
      ended = report;
    },
  };
  const set = defineTasks({
    a: io({ trusted: true, run: () => 1 }),
    b: io({ trusted: true, deps: ["a"], run: () => 2 }),
    c: io({ trusted: true, deps: ["a"], run: () => 3 }),
  });
  const report = await run(set, { reporter, concurrency: 7 });
  assert.equal(ended, report);
  assert.equal(events[0], "runStart a,b,c 7");
  assert.equal(events.at(-1), "runEnd");
  assert.equal(events.length, 8);
  const at = (event: string) => events.indexOf(event);
  for (const name of ["a", "b", "c"]) {
    assert.ok(at(`taskStart ${name} io`) > 0);
    assert.ok(at(`taskStart ${name} io`) < at(`taskEnd ${name} ok`));
  }
  assert.ok(at("taskEnd a ok") < at("taskStart b io"));
  assert.ok(at("taskEnd a ok") < at("taskStart c io"));
});

Deno.test("run() goes on when the reporter throws", async () => {
  const broken: Reporter = {
    runStart() {
      throw new Error("runStart");
    },
    taskStart() {
      throw new Error("taskStart");
    },
    taskEnd() {
      throw new Error("taskEnd");
    },
    runEnd() {
      throw new Error("runEnd");
    },
  };
  const set = defineTasks({
    a: io({ trusted: true, run: () => 1 }),
    b: io({ trusted: true, deps: ["a"], run: () => 2 }),
  });
  const report = await run(set, { reporter: broken });
  assert.equal(report.ok, true);
  assert.deepEqual(report.results, { a: 1, b: 2 });
});

Deno.test("run() handles a 10 000-task chain, passing and failing, without deep recursion", async () => {
  const size = 10_000;
  const tasks: Record<string, TaskDefinition<unknown, never>> = {
    t0: io({ trusted: true, run: () => 0 }),
  };
  for (let i = 1; i < size; i++) {
    tasks[`t${i}`] = io({
      trusted: true,
      deps: [`t${i - 1}`],
      run: ({ deps }) => (deps[`t${i - 1}`] as number) + 1,
    });
  }
  const report = await run(defineTasks(tasks));
  assert.equal(report.ok, true);
  assert.equal(report.results[`t${size - 1}`], size - 1);

  tasks.t0 = io({
    trusted: true,
    run() {
      throw new Error("first link broke");
    },
  });
  const failed = await run(defineTasks(tasks), { keepGoing: true });
  assert.equal(failed.tasks.filter((t) => t.status === "skipped").length, size - 1);
  assert.equal(
    failed.tasks.at(-1)!.reason,
    `dependency "t${size - 2}" was skipped because "t0" failed`,
  );
});

Deno.test("run() rejects bad options before any task runs", async () => {
  let ran = false;
  let started = false;
  const set = defineTasks({ a: io({ trusted: true, run: () => ran = true }) });
  const reporter: Reporter = { runStart: () => started = true };
  for (const workers of [0, -1, 1.5, Number.NaN]) {
    await assert.rejects(run(set, { workers, reporter }), {
      name: "RangeError",
      message: `Cannot run as 'workers' must be a positive integer: current value is ${workers}`,
    });
  }
  for (const concurrency of [0, -2, 0.5]) {
    await assert.rejects(run(set, { concurrency, reporter }), RangeError);
  }
  await assert.rejects(run(set, { targets: ["b"], reporter }), (error) => {
    assert.ok(error instanceof UsageError);
    assert.match(error.message, /Unknown task "b"/);
    return true;
  });
  assert.equal(ran, false);
  assert.equal(started, false);
});

Deno.test("run() sends cpu tasks to the cpuLane it is given, with deps and permissions", async () => {
  const sent: unknown[] = [];
  let closed = false;
  const lane: CpuLane = {
    size: 3,
    run(task, deps, options) {
      sent.push({ task, deps, permissions: options.permissions });
      options.onStart?.(2);
      return Promise.resolve({ value: `${task} remote`, worker: 2 });
    },
    close() {
      closed = true;
    },
  };
  const report = await run(cpuTasks, { targets: ["double"], cpuLane: lane });
  assert.equal(report.ok, true);
  assert.equal(report.workers, 3);
  assert.deepEqual(sent, [{
    task: "double",
    deps: { source: { list: [1, 2, 3], tag: "original" } },
    permissions: {},
  }]);
  assert.equal(report.results.double, "double remote");
  assert.equal(byName(report.tasks).double.worker, 2);
  assert.equal(closed, false, "run() leaves a lane it did not create open");
});
