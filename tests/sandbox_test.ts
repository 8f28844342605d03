import assert from "node:assert/strict";
import { defineTasks, io, run } from "../mod.ts";
import { grantFlags, permissionKey } from "../lib/declare/permissions.ts";
import { fixture, fixtureUrl, spool, tempDir } from "./_helpers.ts";
import type { RunReport, TaskReport } from "../lib/report/report.ts";

const SECRET = "the secret a cpu task may read only when it declares it";

function byName(report: RunReport): Record<string, TaskReport> {
  return Object.fromEntries(report.tasks.map((task) => [task.name, task]));
}

async function runJson(file: string, args: string[] = []) {
  const { code, stdout, stderr } = await spool([
    "run",
    "--file",
    file,
    "--keep-going",
    "--report",
    "json",
    ...args,
  ]);
  const report = JSON.parse(stdout) as RunReport;
  return { code, stderr, report, t: byName(report) };
}

Deno.test("A task cannot read an undeclared file by importing it as text or JSON", async () => {
  const { code, t, stderr } = await runJson(fixture("sandbox/escapes.ts"), [
    "textImport",
    "jsonImport",
    "fine",
  ]);
  assert.equal(code, 1, stderr);
  for (const name of ["textImport", "jsonImport"]) {
    assert.equal(t[name].status, "failed", name);
    assert.match(t[name].error!.message, /Requires read access to ".*(secret\.txt|data\.json)"/);
    // The fix it names is the task's declaration, not a flag for the process.
    assert.match(
      t[name].error!.message,
      new RegExp(
        `^Task "${name}" needs read access to ".*", which it did not declare: add permissions: \\{ read: \\[`,
      ),
    );
    assert.doesNotMatch(JSON.stringify(t[name]), /the secret|json-secret/);
  }
  assert.equal(t.fine.status, "ok");
  assert.doesNotMatch(stderr, new RegExp(SECRET));
});

Deno.test("A sharded task's items function and final fold run in its sandbox, not in the runner", async () => {
  const { t } = await runJson(fixture("sandbox/escapes.ts"), ["shardItems", "shardFold"]);
  for (const name of ["shardItems", "shardFold"]) {
    assert.equal(t[name].status, "failed", name);
    assert.match(t[name].error!.message, /Requires read access/, name);
  }
});

Deno.test("A cpu task that returns a class instance gets a note: its dependants see a plain object", async () => {
  const { t, stderr } = await runJson(fixture("sandbox/escapes.ts"), ["classResult"]);
  assert.equal(t.classResult.status, "ok");
  assert.deepEqual(t.classResult.result, { x: 3, y: 4 });
  assert.match(
    stderr,
    /classResult \| note: task "classResult" returned a Point instance; its dependants get a plain object/,
  );
});

Deno.test("A task file that fails to load in its sandbox fails its task with the load error and the rule", async () => {
  const { t, code } = await runJson(fixture("sandbox/work_at_import.ts"));
  assert.equal(code, 1);
  assert.equal(t.parse.status, "failed");
  assert.equal(t.parse.error?.name, "WorkerCrashError");
  const message = t.parse.error!.message;
  assert.match(
    message,
    /^Worker \d could not start for cpu task "parse": .*Requires read access to ".*data\.json"/,
  );
  assert.match(
    message,
    /every sandbox imports the task file again, with only its task's permissions/,
  );
});

Deno.test("A task that signals its own process fails alone, and the run goes on to its report", async () => {
  const { code, t, report, stderr } = await runJson(fixture("sandbox/escapes.ts"), [
    "killSelf",
    "fakeCtrlC",
    "fine",
  ]);
  assert.equal(code, 1, "a failed run, not a killed (137) or interrupted (130) one");
  assert.equal(report.cancelled, undefined, "a task's SIGINT is not the user's Ctrl-C");
  // Deno.kill of its own process is refused without the run permission...
  assert.equal(t.killSelf.status, "failed");
  assert.equal(t.killSelf.error?.name, "NotCapable");
  assert.match(
    t.killSelf.error!.message,
    /^Requires run access to signal the process that hosts the task/,
  );
  // ...and a signal sent another way ends only the process that hosts the task.
  assert.equal(t.fakeCtrlC.status, "failed");
  assert.equal(t.fakeCtrlC.error?.name, "WorkerCrashError");
  assert.match(t.fakeCtrlC.error!.message, /killed by SIGINT$/);
  assert.equal(t.fine.status, "ok");
  assert.match(stderr, /3 tasks: 1 ok, 2 failed/);
});

Deno.test("A trusted io task that replaces Worker and Deno.Command cannot widen a later sandbox", async () => {
  const { t } = await runJson(fixture("sandbox/escapes.ts"), ["afterUnsandbox"]);
  assert.equal(t.unsandbox.status, "ok");
  assert.equal(t.afterUnsandbox.status, "failed");
  assert.match(t.afterUnsandbox.error!.message, /Requires read access/);
});

Deno.test("A trusted io task cannot widen a later task's sandbox by changing its declaration", async () => {
  // A trusted task runs on the runner's thread with the task set in reach:
  // setting a later task's permissions or `trusted` after the grant check
  // gave that task read access it never declared.
  const { t } = await runJson(fixture("sandbox/widen_later.ts"), ["victim"]);
  assert.equal(t.widen.result, "permissions: TypeError; trusted: TypeError");
  assert.equal(t.victim.status, "failed");
  assert.match(t.victim.error!.message, /Requires read access/);
});

Deno.test("A task cannot reach its worker's channel: a later task's deps and result stay its own", async () => {
  const module = fixtureUrl("sandbox/realm.ts");
  const { default: tasks } = await import(module);
  // One worker, so the victim and the spy run in the realm the attacker patched.
  const warm = byName(await run(tasks, { workers: 1, module }));
  assert.equal(warm.patchRealm.result, "patched");
  assert.equal(
    warm.victim.result,
    "victim saw the-deps-of-a-later-task",
    "its result was not rewritten",
  );
  assert.match(String(warm.spy.result), /^saw \d+ messages, none of them the victim's$/);

  // Retiring each worker after one task gives every task a fresh realm.
  const fresh = byName(await run(tasks, { workers: 1, module, maxTasksPerWorker: 1 }));
  assert.equal(fresh.spy.result, "fresh realm");
});

Deno.test("A task module a sandbox cannot import (a doc test's, an eval's) is refused before anything runs", async () => {
  const tasks = defineTasks({ t: io({ run: () => 1 }) });
  await assert.rejects(run(tasks, { module: "file:///project/mod.ts#12-20.ts" }), {
    name: "TypeError",
    message:
      'Cannot run io task "t" in a sandbox as its module "file:///project/mod.ts#12-20.ts" is not a file a sandbox can import: define the tasks in a module file, or mark the io task trusted: true',
  });
});

Deno.test("spool run --max-tasks-per-worker 1 gives every cpu task a fresh realm; --isolation picks the sandbox", async () => {
  const fresh = await runJson(fixture("sandbox/realm.ts"), [
    "--workers",
    "1",
    "--max-tasks-per-worker",
    "1",
    "spy",
  ]);
  assert.equal(fresh.t.spy.result, "fresh realm");
  const warm = await runJson(fixture("sandbox/realm.ts"), ["--workers", "1", "spy"]);
  assert.notEqual(warm.t.spy.result, "fresh realm");
  // In-process workers cannot contain a signal to their own process; the guard still refuses it.
  const inProcess = await runJson(fixture("sandbox/escapes.ts"), [
    "--isolation",
    "worker",
    "killSelf",
    "fine",
  ]);
  assert.equal(inProcess.t.fine.status, "ok");
  assert.equal(inProcess.t.killSelf.status, "failed");
  assert.equal(inProcess.t.killSelf.error?.name, "NotCapable");
});

Deno.test("Two different permission sets never share a worker, whatever their scopes contain", () => {
  assert.notEqual(permissionKey({ read: ["/a", "/b"] }), permissionKey({ read: ["/a;b"] }));
  assert.notEqual(
    permissionKey({ read: ["x;write=./f"] }),
    permissionKey({ read: ["x"], write: ["./f"] }),
  );
  assert.notEqual(permissionKey({ env: ["A", "B"] }), permissionKey({ env: ["A,B"] }));
  assert.equal(permissionKey({ read: ["/b", "/a"] }), permissionKey({ read: ["/a", "/b"] }));
  // A path with a comma cannot be a flag value: it is refused when declared.
  assert.throws(
    () => defineTasks({ t: io({ permissions: { read: ["/a,/b"] }, run: () => 1 }) }),
    /Task "t" has invalid permission 'read': "\/a,\/b" contains a comma/,
  );
  assert.deepEqual(grantFlags({ read: ["x;write=./f"] }), ["--allow-read=x;write=./f"]);
});

Deno.test("A scope that looks like another permission grants nothing more", async () => {
  await using dir = await tempDir();
  const target = `${dir.path}/f`;
  const file = await dir.write(
    "tasks.ts",
    `import { cpu, defineTasks } from ${JSON.stringify(new URL("../mod.ts", import.meta.url).href)};
export default defineTasks({
  sneaky: cpu({
    permissions: { read: [${JSON.stringify(`${dir.path}/x;write=${target}`)}] },
    run: () => Deno.writeTextFileSync(${JSON.stringify(target)}, "written"),
  }),
});
`,
  );
  const { t } = await runJson(file);
  assert.equal(t.sneaky.status, "failed");
  assert.match(t.sneaky.error!.message, /Requires write access/);
  await assert.rejects(Deno.stat(target), Deno.errors.NotFound);
});

Deno.test("An io task runs in a sandbox holding exactly what it declared, for each permission kind", async () => {
  const module = fixtureUrl("sandbox/io_kinds.ts");
  const { default: tasks } = await import(module);
  const report = await run(tasks, { module, keepGoing: true });
  const t = byName(report);
  for (const task of report.tasks) {
    assert.equal(task.status, "ok", `${task.name}: ${task.error?.message}`);
  }
  for (const kind of ["net", "read", "write", "env", "run", "sys", "ffi"]) {
    assert.deepEqual(t[kind].result, { declared: "granted", other: "denied" }, kind);
  }
  assert.deepEqual(t.nothing.result, Array(7).fill("denied"), "a task that declares nothing");
  assert.equal(t.trustedTask.result, "granted", "a trusted task holds what the process holds");
  assert.equal(t.trustedTask.trusted, true, "the report marks a trusted task");
  assert.equal(t.nothing.trusted, undefined);
});

Deno.test("spool list marks a trusted io task, which runs outside any sandbox", async () => {
  const { code, stdout, stderr } = await spool(["list", "-f", fixture("sandbox/io_kinds.ts")]);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /^trustedTask +io \(trusted\) +- /m);
  assert.match(stdout, /^nothing +io +- /m);
});

Deno.test("Sandboxed io tasks overlap, across permission sets, under one concurrency limit", async () => {
  const module = fixtureUrl("sandbox/io_kinds.ts");
  const { overlap } = await import(module);
  const report = await run(overlap, { module, concurrency: 6 });
  assert.equal(report.ok, true);
  // Every wait had started before any ended: all six ran at once, in three hosts.
  const latestStart = Math.max(...report.tasks.map((task) => task.startMs!));
  const firstEnd = Math.min(...report.tasks.map((task) => task.endMs!));
  assert.ok(latestStart < firstEnd, `${latestStart} < ${firstEnd}`);

  const limited = await run(overlap, { module, concurrency: 2 });
  const spans = limited.tasks.map((task) => [task.startMs!, task.endMs!]);
  // A task's end is recorded a moment after its slot went to the next one:
  // count as running at once only spans that overlap by more than 50 ms.
  const atOnce = Math.max(
    ...spans.map(([start]) => spans.filter(([s, e]) => s <= start && start < e - 50).length),
  );
  assert.ok(atOnce <= 2, `at most 2 at once under concurrency 2, saw ${atOnce}`);
});

Deno.test("Deps and results that cannot cross into a sandbox fail the task with their type named", async () => {
  const module = fixtureUrl("sandbox/io_kinds.ts");
  const { crossing } = await import(module);
  const t = byName(await run(crossing, { module, keepGoing: true }));
  assert.equal(t.returnsFunction.status, "failed");
  assert.match(
    t.returnsFunction.error!.message,
    /^Cannot return the result of io task "returnsFunction": it is not structured-cloneable/,
  );
  assert.equal(t.getsFunction.status, "failed");
  assert.match(
    t.getsFunction.error!.message,
    /^Cannot send the dependencies of io task "getsFunction" to a worker: they are not structured-cloneable/,
  );
});

/** Runs a command on a pseudo-terminal (util-linux `script`), where Deno may prompt. */
async function onTerminal(command: string): Promise<string> {
  const { stdout } = await new Deno.Command("script", {
    args: ["-qec", command, "/dev/null"],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
    signal: AbortSignal.timeout(30_000),
  }).output();
  return new TextDecoder().decode(stdout);
}

const hasScript = await new Deno.Command("script", {
  args: ["--version"],
  stdout: "null",
  stderr: "null",
})
  .output().then((o) => o.success, () => false);

Deno.test({
  name: "No task can open a permission prompt, even when the process could prompt",
  ignore: !hasScript,
  async fn() {
    const script = fixture("sandbox/prompt_script.ts");
    // On a terminal, with -A and no --no-prompt: the sandbox process never asks.
    const sandboxed = await onTerminal(`${Deno.execPath()} run -A ${script} process`);
    assert.match(sandboxed, /RESULT failed NotCapable/);
    assert.doesNotMatch(sandboxed, /Allow\?|requests env access/);
    // An in-process worker could: spool refuses to start one and names the flag.
    const inProcess = await onTerminal(`${Deno.execPath()} run -A ${script} worker`);
    assert.match(inProcess, /REFUSED UsageError: .*run again with --no-prompt/);
    const withFlag = await onTerminal(`${Deno.execPath()} run -A --no-prompt ${script} worker`);
    assert.match(withFlag, /RESULT failed NotCapable/);
  },
});

Deno.test("A sandbox host fires its tasks' timers while more of its tasks keep arriving", async () => {
  // Each task measured, on its host's clock, when its body started and how
  // late its 20 ms timer fired; each body works 30 µs first, so the host
  // needs at least 180 ms to start all 6,000. The timers due well before the
  // last body started must fire meanwhile (all of them did, 3 to 16 ms late,
  // in five runs): none did, 170 ms late, while the host took every message
  // as it came, since Deno's runtime looks at its timers only when it parks.
  const module = fixtureUrl("sandbox/timers_while_busy.ts");
  const { default: tasks, COUNT, WAIT_MS } = await import(module);
  const report = await run(tasks, { module, concurrency: COUNT });
  assert.equal(report.ok, true);
  const measured = report.tasks.map((task) => task.result as [number, number]);
  const lastStart = Math.max(...measured.map(([start]) => start));
  const dueEarly = measured.filter(([start]) => start + WAIT_MS < lastStart - 60);
  assert.ok(
    dueEarly.length >= COUNT / 4,
    `${dueEarly.length} timers due 60 ms before the last start`,
  );
  const firedEarly = dueEarly.filter(([start, late]) => start + WAIT_MS + late < lastStart);
  assert.ok(
    firedEarly.length >= 0.5 * dueEarly.length,
    `${firedEarly.length} of the ${dueEarly.length} timers due 60 ms before the last task started fired before it (median lateness ${
      Math.round(dueEarly.map(([, late]) => late).sort((a, b) => a - b)[dueEarly.length >> 1])
    } ms)`,
  );
});

Deno.test("Sandboxed io tasks report their bodies' own time, not their wait in the host behind others", async () => {
  // The pool sends io tasks ahead, and 6,000 of them wait in their host for
  // their turn: a task's time is its body's, from its start to its timer's
  // callback on the host's clock. They reported 3x that, the host's backlog
  // and the trip back counted in.
  const module = fixtureUrl("sandbox/timers_while_busy.ts");
  const { default: tasks, COUNT, WAIT_MS } = await import(module);
  const report = await run(tasks, { module, concurrency: COUNT });
  assert.equal(report.ok, true);
  let reportedMs = 0;
  let bodyMs = 0;
  for (const task of report.tasks) {
    const [, late] = task.result as [number, number];
    const body = WAIT_MS + late;
    // Reported times are rounded to the microsecond.
    assert.ok(task.durationMs >= body - 0.002, `"${task.name}": ${task.durationMs} < ${body}`);
    reportedMs += task.durationMs;
    bodyMs += body;
  }
  assert.ok(
    reportedMs < 1.1 * bodyMs,
    `${COUNT} io tasks reported ${Math.round(reportedMs)} ms of task time for ${
      Math.round(bodyMs)
    } ms their bodies measured (${(reportedMs / bodyMs).toFixed(2)}x)`,
  );
});

Deno.test("A task file that imports spool from another copy still runs in the runner's sandboxes", async () => {
  // A global `spool` and a task file importing another version, say: the
  // host reads the runner's worker side, not the task file's spool. It could
  // read only lib/pool/ of it beside the task file's graph, and every
  // sandboxed io task failed with "Requires read access to .../lib/commands/task_shell.ts".
  await using dir = await tempDir();
  const repo = new URL("..", import.meta.url);
  await new Deno.Command("cp", {
    args: ["-r", new URL("lib", repo).pathname, new URL("declare.ts", repo).pathname, dir.path],
  }).output();
  const file = `${dir.path}/tasks.ts`;
  await Deno.writeTextFile(
    file,
    `import { cpu, defineTasks, io } from "./declare.ts";
export default defineTasks({ a: io({ run: () => 1 }), b: cpu({ deps: ["a"], run: ({ deps }) => (deps.a as number) + 1 }) });\n`,
  );
  const module = new URL(`file://${file}`).href;
  const report = await run((await import(module)).default, { module });
  assert.deepEqual(
    report.tasks.map((task) => [task.name, task.status, task.result ?? task.error?.message]),
    [["a", "ok", 1], ["b", "ok", 2]],
  );
});

Deno.test("A host started before deno info answered runs a task file with its own imports, and one that has none", async () => {
  // The first host of a task file in a process starts on what it surely
  // reads (spool's code and the task file) while `deno info` looks at the
  // file's imports; it is kept only if they need nothing more. A task file
  // with a helper of its own needs more: that host is ended, and one granted
  // the helper runs the task.
  await using dir = await tempDir();
  const declare = JSON.stringify(new URL("../declare.ts", import.meta.url).href);
  await dir.write("helper.ts", "export const answer = 42;\n");
  const withHelper = await dir.write(
    "with_helper.ts",
    `import { defineTasks, io } from ${declare};\nimport { answer } from "./helper.ts";\n` +
      `export default defineTasks({ t: io({ run: () => answer }) });\n`,
  );
  const alone = await dir.write(
    "alone.ts",
    `import { defineTasks, io } from ${declare};\n` +
      `export default defineTasks({ t: io({ run: () => Deno.permissions.querySync({ name: "read", path: ${
        JSON.stringify(dir.path)
      } }).state }) });\n`,
  );
  for (const [file, expected] of [[withHelper, 42], [alone, "prompt"]] as const) {
    const module = new URL(`file://${file}`).href;
    const { default: tasks } = await import(module);
    const report = await run(tasks, { module });
    assert.equal(report.ok, true, JSON.stringify(report.tasks[0].error));
    // The task's own grants are still exactly what it declared: none.
    assert.equal(report.tasks[0].result, expected);
  }
});

Deno.test({
  name:
    "A host started before a slow deno info answered loads meanwhile, runs no task before the answer, and one whose load failed for want of a grant is replaced without a word",
  // A POSIX shell script stands in for `deno` on PATH.
  ignore: Deno.build.os === "windows",
}, async () => {
  // The runner may run only `deno` from PATH, which is this script: it
  // answers `deno info` 1.5 s late and notes when. A host started before
  // that loads the task file at once; one that lacks a grant for the
  // helper fails to load, and that failure must not reach the run.
  await using dir = await tempDir();
  const bin = `${dir.path}/bin`;
  await Deno.mkdir(bin);
  const answered = `${dir.path}/answered`;
  await Deno.writeTextFile(
    `${bin}/deno`,
    `#!/bin/sh\nif [ "$1" = info ]; then\n  sleep 1.5\n  "${Deno.execPath()}" "$@"\n  status=$?\n` +
      `  date +%s%3N > "${answered}"\n  exit $status\nfi\nexec "${Deno.execPath()}" "$@"\n`,
  );
  await Deno.chmod(`${bin}/deno`, 0o755);
  const declare = JSON.stringify(new URL("../declare.ts", import.meta.url).href);
  const mod = JSON.stringify(new URL("../mod.ts", import.meta.url).href);
  await dir.write("helper.ts", "export const answer = 42;\n");
  const files = {
    withHelper: await dir.write(
      "with_helper.ts",
      `import { defineTasks, io } from ${declare};\nimport { answer } from "./helper.ts";\n` +
        `export default defineTasks({ t: io({ run: () => [answer, Date.now()] }) });\n`,
    ),
    alone: await dir.write(
      "alone.ts",
      `import { defineTasks, io } from ${declare};\n` +
        `export default defineTasks({ t: io({ run: () => ["alone", Date.now()] }) });\n`,
    ),
  };
  const script = await dir.write(
    "script.ts",
    `import { run } from ${mod};\nconst module = new URL(Deno.args[0], import.meta.url).href;\n` +
      `const report = await run((await import(module)).default, { module });\n` +
      `console.log(JSON.stringify(report.tasks.map((t) => [t.status, t.result ?? t.error?.message])));\n`,
  );
  for (const [file, expected] of [[files.withHelper, 42], [files.alone, "alone"]] as const) {
    await Deno.remove(answered).catch(() => {});
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-prompt",
        `--allow-read=${dir.path},${new URL("..", import.meta.url).pathname}`,
        "--allow-net=127.0.0.1",
        "--allow-run=deno",
        script,
        file,
      ],
      env: { PATH: `${bin}:${Deno.env.get("PATH")}` },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(stderr);
    assert.equal(code, 0, err);
    assert.doesNotMatch(err, /failed to load|Requires read access/);
    const [[status, result]] = JSON.parse(new TextDecoder().decode(stdout));
    assert.equal(status, "ok", String(result));
    assert.equal(result[0], expected);
    // The task ran only once deno info had answered.
    const answer = Number(await Deno.readTextFile(answered));
    assert.ok(
      result[1] >= answer,
      `the task ran ${answer - result[1]} ms before deno info answered`,
    );
  }
});

/** The command lines of this process's sandbox hosts whose read grant names `path`. */
async function hostCommandLines(path: string): Promise<string[]> {
  const lines: string[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const line = (await Deno.readTextFile(`/proc/${entry.name}/cmdline`)).split("\0");
      const status = await Deno.readTextFile(`/proc/${entry.name}/status`);
      if (Number(/PPid:\s+(\d+)/.exec(status)?.[1]) !== Deno.pid) continue;
      // A host ended unstarted (started before deno info answered) may linger as a zombie.
      if (/State:\s+Z/.test(status)) continue;
      if (line.some((arg) => arg.includes("_host_main.ts")) && line.join(" ").includes(path)) {
        lines.push(line.join(" "));
      }
    } catch {
      // Gone meanwhile.
    }
  }
  return lines;
}

Deno.test({
  name:
    "A host loads dynamic imports lazily (spool's command line, which main() imports, stays unloaded) unless the task file's own code imports dynamically",
  // The hosts' command lines are read from /proc.
  ignore: Deno.build.os !== "linux",
}, async () => {
  // Deno loads every literal dynamic import's graph with the module that
  // holds it; loaded lazily, an import is checked against the importing
  // task's permissions instead. So a task file whose code imports its own
  // modules dynamically gets eager hosts, and its tasks load them as before.
  await using dir = await tempDir();
  const declare = JSON.stringify(new URL("../declare.ts", import.meta.url).href);
  await dir.write("helper.ts", "export const answer = 42;\n");
  const body = "await new Promise((resolve) => setTimeout(resolve, 300))";
  const plain = await dir.write(
    "plain.ts",
    `import { defineTasks, io, main } from ${declare};\n` +
      `export default defineTasks({ t: io({ run: async () => { ${body}; return typeof main; } }) });\n`,
  );
  const lazy = await dir.write(
    "lazy.ts",
    `import { defineTasks, io } from ${declare};\n` +
      `export default defineTasks({ t: io({ run: async () => { ${body}; return (await import("./helper.ts")).answer; } }) });\n`,
  );
  for (const [file, expected, flagged] of [[plain, "function", true], [lazy, 42, false]] as const) {
    const module = new URL(`file://${file}`).href;
    const { default: tasks } = await import(module);
    // Looked at once the task runs: the host that has it is the one that runs it.
    let seen: Promise<string[]> = Promise.resolve([]);
    const report = await run(tasks, {
      module,
      reporter: { taskStart: () => void (seen = hostCommandLines(file)) },
    });
    const lines = await seen;
    assert.equal(report.ok, true, JSON.stringify(report.tasks[0].error));
    assert.equal(report.tasks[0].result, expected);
    assert.ok(lines.length > 0, `no host of ${file} seen`);
    assert.equal(
      lines.every((line) => line.includes("--unstable-lazy-dynamic-imports")),
      flagged,
      lines.join("\n"),
    );
  }
});

Deno.test("A sandboxed task with no deps and no run arguments gets an empty deps object and args array of its own, as a trusted one does", async () => {
  // Its run message leaves both out (10,000 io tasks would carry an empty
  // object and array through every hop); the worker makes them on first use.
  await using dir = await tempDir();
  const declare = JSON.stringify(new URL("../declare.ts", import.meta.url).href);
  const body = "({ deps, args }) => { const seen = { deps: { ...deps }, args: [...args] }; " +
    "(deps as Record<string, unknown>).mine = 1; return seen; }";
  const file = await dir.write(
    "tasks.ts",
    `import { cpu, defineTasks, io } from ${declare};\n` +
      `export default defineTasks({\n` +
      `  a: io({ run: ${body} }),\n` +
      `  b: io({ deps: ["a"], run: ${body} }),\n` +
      `  c: cpu({ run: ${body} }),\n` +
      `  t: io({ trusted: true, run: ${body} }),\n` +
      `});\n`,
  );
  const module = new URL(`file://${file}`).href;
  const { default: tasks } = await import(module);
  for (const args of [[], ["x", "y"]]) {
    const report = await run(tasks, { module, args });
    assert.equal(
      report.ok,
      true,
      JSON.stringify(report.tasks.find((task) => task.status !== "ok")),
    );
    const result = (name: string) => report.tasks.find((task) => task.name === name)!.result;
    for (const name of ["a", "c", "t"]) assert.deepEqual(result(name), { deps: {}, args });
    assert.deepEqual(result("b"), { deps: { a: { deps: {}, args } }, args });
  }
});

Deno.test("A task that patches built-ins cannot read a later task's deps or rewrite its result in a shared host", async () => {
  // Fails on main as of 2026-11-29 (051a0fb): escape 5 through built-ins.
  // The attacker, the victims and the reporter share one io host (no
  // permissions declared): see the fixture for what it patches.
  const module = fixtureUrl("sandbox/patched_builtins.ts");
  const { default: tasks } = await import(module);
  // One cpu worker, so that the cpu victims share the cpu attacker's realm.
  const t = byName(await run(tasks, { module, keepGoing: true, workers: 1 }));
  for (const attacker of ["attack", "cpuAttack"]) {
    assert.match(String(t[attacker].result), /^patched; refused: \d+$/, attacker);
  }
  assert.equal(t.victim.result, "victim-result", "its deps and result are its own");
  assert.equal(t.victimAsync.result, "victim-async");
  assert.equal(t.victimAlone.result, "victim-result", "no deps forged into it");
  assert.equal(t.victimSwapped.result, "victim-result", "no task put in its place");
  assert.deepEqual(t.victimArray.result, ["victim-array"]);
  assert.equal(t.cpuVictim.result, "victim-result");
  assert.deepEqual(t.cpuVictimArray.result, ["victim-array"]);
  assert.deepEqual(t.victimShardSet.result, ["mapped"], "its map is its own");
  assert.deepEqual(t.victimShardGenerator.result, ["mapped"]);
  // Its error crosses whole: class, message, own properties.
  assert.equal(t.victimThrows.status, "failed");
  assert.match(t.victimThrows.error!.message, /the-secret-error/);
  assert.equal(t.victimThrows.error!.name, "RangeError");
  assert.equal(t.report.result, "saw the secret 0 times");
  assert.equal(t.cpuReport.result, "saw the secret 0 times");
});

Deno.test("A task cannot reach later tasks' results, errors, faults or items through Deno's internals, error hooks, events or built-in prototypes", async () => {
  const outcome = async (name: string) => {
    const module = fixtureUrl(`sandbox/${name}`);
    const { default: tasks } = await import(module);
    return byName(await run(tasks, { module, keepGoing: true, workers: 1 }));
  };
  // Promise hooks through Deno[Deno.internal].core: gone from sandboxes.
  const async = await outcome("realm_async_hooks.ts");
  assert.equal(async.vAsync.result, "async the-secret");
  assert.deepEqual(async.vAsyncObject.result, { v: "obj the-secret" });
  assert.equal(async.report.result, "", "the attacker saw nothing");

  // A fault's event and a job's cancellation go through spool alone.
  const fault = await outcome("realm_fault_hooks.ts");
  assert.match(fault.vUnhandled.error!.message, /unhandled the-secret/);
  assert.equal(fault.vSignal.result, "victim finished", "not aborted by the attacker");
  assert.equal(fault.vCancelled.error!.name, "TimeoutError");
  assert.equal(fault.report.result, "");

  // Errors thrown and returned: their stack, cause, class and description are their own.
  const errors = await outcome("realm_error_hooks.ts");
  for (const [name, message] of [["vThrows", "thrown"], ["cpuThrows", "cpu thrown"]]) {
    const error = errors[name].error!;
    assert.equal(error.message, `${message} the-secret`);
    assert.doesNotMatch(String(error.stack), /FORGED/);
    assert.equal((error as { cause?: unknown }).cause, undefined, name);
  }
  assert.equal(
    errors.vThrowsObject.error!.message,
    "A non-error value was thrown: [object Object]",
  );
  assert.ok(errors.vReturnsRangeError.result instanceof RangeError);
  assert.ok(errors.cpuReturnsTypeError.result instanceof TypeError);
  assert.notEqual(String(errors.vReturnsNumberObject.result), "pwned-by-then");
  for (const report of ["report", "cpuReport", "reportAll"]) {
    assert.equal(errors[report].result, "", report);
  }

  // A sharded task's items (a hole, a built-in iterator), and errors as V8 clones them.
  const shard = await outcome("realm_shard_hooks.ts");
  assert.deepEqual(shard.vHoley.result, [
    "mapped(first)",
    "mapped(undefined)",
    "mapped(the-secret)",
  ]);
  assert.deepEqual(shard.vIterator.result, ["mapped(the-secret)", "mapped(the-secret-b)"]);
  assert.equal(shard.vThrows.error!.name, "RangeError");
  assert.equal((shard.vErrorResult.result as { e: Error }).e.name, "Error");
  assert.equal(shard.cpuReport.result, "");
});

Deno.test("A task cannot stall a shared worker, nor reach later tasks' items, results, signals, commands, marks or console through what spool reads as jobs run", async () => {
  const outcome = async (name: string) => {
    const module = fixtureUrl(`sandbox/${name}`);
    const { default: tasks } = await import(module);
    // A timeout bounds the run on the code before, where some of these hang.
    return byName(await run(tasks, { module, keepGoing: true, workers: 1, timeout: 8_000 }));
  };
  // A typed array chunk's length, read through a getter the attacker replaced.
  const typed = await outcome("realm_typed_length.ts");
  assert.deepEqual(typed.victim.result, ["m(42)", "m(7)", "m(1234)"]);
  assert.equal(typed.report.result, "");
  // `then` on classes Deno defines lazily (Buffer, DOMPoint): not followed.
  const lazy = await outcome("realm_lazy_global_then.ts");
  assert.ok(lazy.vBuffer.result instanceof Uint8Array);
  assert.notEqual(lazy.vPoint.result, "pwned-DOMPoint");
  assert.notEqual(lazy.vRect.result, "pwned-chain", "a then put over its class's prototype");
  assert.equal(lazy.report.result, "");
  // An unclonable result: its error is its own, and the messages behind it still go out.
  const clone = await outcome("realm_clone_error.ts");
  assert.match(
    clone.vUnclonable.error!.message,
    /not structured-cloneable \(.*could not be cloned/,
  );
  assert.equal(clone.v1.result, "v1 ok");
  assert.equal(clone.v2.result, "v2 ok");
  assert.equal(clone.report.result, "");
  // A replaced EventTarget.prototype.dispatchEvent does not stop the host's messages.
  const flush = await outcome("realm_flush_port.ts");
  assert.equal(flush.v1.result, "v1 ok");
  assert.equal(flush.v2.result, "v2 ok");
  // A replaced global Promise does not stall the host's inbox.
  const park = await outcome("realm_park_promise.ts");
  assert.ok(Object.values(park).every((task) => task.status === "ok"), "every task ran");
  // `$`'s promise and a failed command's error are spool's.
  const shell = await outcome("realm_shell_globals.ts");
  assert.equal(shell.vStdout.result, "the-secret");
  assert.match(String(shell.vExecError.result), /^caught: Failed to spawn/);
  assert.equal(shell.report.result, "");
  // Each body's signal is its own.
  const signal = await outcome("realm_shared_signal.ts");
  assert.equal(signal.victim.result, "done the-secret");
  assert.equal(signal.report.result, "");
  // Shard items of a built-in iterable class are refused, not iterated through the realm.
  const iterables = await outcome("realm_builtin_iterables.ts");
  for (const name of ["vSegments", "vParams"]) {
    assert.match(
      iterables[name].error!.message,
      new RegExp(`Cannot shard cpu task "${name}" as its items are a built-in iterable`),
    );
  }
  // transfer()'s marks cannot be swapped, nor its set's methods used to see the buffer.
  const marks = await outcome("realm_transfer_marks.ts");
  assert.equal(marks.report.result, "bytes the-secret / ");
  // A victim's console call is formatted with the Console taken before any body ran.
  const output = await outcome("realm_console_capture.ts");
  assert.equal(output.victim.result, "logged");
  assert.equal(output.report.result, "");
});

Deno.test("A task can neither post on its worker's channel nor dispatch messages the worker would take as the pool's", async () => {
  const outcome = async (name: string) => {
    const module = fixtureUrl(`sandbox/${name}`);
    const { default: tasks } = await import(module);
    return byName(await run(tasks, { module, keepGoing: true, workers: 1, timeout: 8_000 }));
  };
  // A result posted under every job id of the worker.
  const post = await outcome("realm_post.ts");
  assert.match(post.attack.error!.message, /A task cannot post to its worker's channel/);
  assert.equal(post.victim.result, "victim ok");
  // A "run" dispatched under a later job's id.
  const forged = await outcome("realm_forged_message.ts");
  assert.match(forged.attack.error!.message, /cannot dispatch a "message" event/);
  assert.equal(forged.victim.result, "victim ok");
  // A command's answer, a cancel, and a run forged by a cpu body's timer.
  const exec = await outcome("realm_forged_exec.ts");
  assert.deepEqual(exec.victim.result, { stdout: "", code: 0 });
  assert.equal(exec.cvictim.result, "cvictim ok");
});

Deno.test("A cpu task's leftover async code is its own, and a body that leaves its worker busy is not reported done", async () => {
  const outcome = async (name: string, timeout: number) => {
    const module = fixtureUrl(`sandbox/${name}`);
    const { default: tasks } = await import(module);
    const lines: string[] = [];
    const reporter = {
      taskOutput(event: { name: string; text: string }) {
        lines.push(`${event.name}: ${event.text}`);
      },
    };
    const report = await run(tasks, { module, keepGoing: true, workers: 1, timeout, reporter });
    return { t: byName(report), lines };
  };
  for (const name of ["realm_async_owner.ts", "realm_late_owner.ts"]) {
    const { t, lines } = await outcome(name, 8_000);
    assert.equal(t.victim.status, "ok", name);
    assert.equal(t.victim.result, "victim ok", name);
    assert.match(
      t.attack.error!.message,
      /It returned, then its code raised an error outside its body: FORGED fault/,
    );
    assert.ok(lines.includes("attack: FORGED line from attack"), `${name}: ${lines.join(" | ")}`);
    assert.ok(!lines.some((line) => line.startsWith("victim:")), name);
  }
  // Its result would have gone out inside the flood; now it times out, and the next task never starts.
  const { t } = await outcome("realm_flood.ts", 1_500);
  assert.equal(t.attack.error!.name, "TimeoutError");
  assert.equal(t.victim.status, "skipped");
});

Deno.test("A task that imports spool's worker side by URL gets neither the channel nor a second serve()", async () => {
  // Loaded already in every sandbox, those modules need no read permission
  // to import again; their exports must not hand the channel over.
  const module = fixtureUrl("sandbox/import_worker_side.ts");
  const { default: tasks } = await import(module);
  for (const isolation of ["process", "worker"] as const) {
    const t = byName(await run(tasks, { module, isolation }));
    for (const name of ["ioAttempt", "cpuAttempt"]) {
      assert.equal(t[name].status, "ok", `${name} ${isolation}`);
      assert.deepEqual(t[name].result, [
        "guard exports: takeGuard",
        "takeGuard: The worker's channel belongs to spool: it was taken when the worker started",
        "serve: This worker already serves its module",
      ], `${name} ${isolation}`);
    }
    assert.equal(t.later.result, "still served", isolation);
  }
});
