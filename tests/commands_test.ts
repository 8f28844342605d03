import assert from "node:assert/strict";
import { CLI, deno, fixture, spool, tempDir } from "./_helpers.ts";

const BASIC = fixture("commands/basic.ts");
/** What a run of command tasks needs: every program (see shellGrants), loopback for sandboxes. */
const GRANTS = ["--allow-read", "--allow-env", "--allow-net=127.0.0.1", "--allow-run"];

interface JsonTask {
  name: string;
  status: string;
  result?: unknown;
  error?: { message: string };
  reason?: string;
}

function tasks(stdout: string): Record<string, JsonTask> {
  const report = JSON.parse(stdout) as { tasks: JsonTask[] };
  return Object.fromEntries(report.tasks.map((t) => [t.name, t]));
}

Deno.test("sh streams a command's output as the task's lines and returns its trimmed stdout", async () => {
  const { code, stdout, stderr } = await spool(
    ["run", "-f", BASIC, "--report", "json"],
    GRANTS,
  );
  assert.equal(code, 0, stderr);
  const byName = tasks(stdout);
  assert.equal(byName.hello.result, "hello\nworld");
  assert.equal(byName.upper.result, "HELLO\nWORLD", "a dependant gets the command's stdout");
  assert.equal(byName.where.result, fixture("commands"), "runs in the task file's folder");
  assert.equal(byName.listed.result, "a.txt\nb.txt", "cwd is relative to the task file");
  // Each line once, whole, with the task's prefix; stderr lines too.
  assert.match(stderr, /^hello \| hello$/m);
  assert.match(stderr, /^hello \| world$/m);
  assert.match(stderr, /^hello \| to stderr$/m);
});

Deno.test("sh fails a task on a non-zero exit with the exit code and the end of stderr", async () => {
  const { code, stdout, stderr } = await spool(
    ["run", "-f", fixture("commands/failing.ts"), "--report", "json"],
    GRANTS,
  );
  assert.equal(code, 1, stderr);
  const { fails } = tasks(stdout);
  assert.equal(fails.status, "failed");
  assert.match(JSON.stringify(fails), /exited with code 3/);
  assert.match(JSON.stringify(fails), /boom: disk full/);
  assert.match(stderr, /Command "echo starting.*" exited with code 3, last lines of stderr:/);
});

Deno.test("sh and $ stopped by fail-fast end the command's whole process tree, background jobs of a nested sh included", async () => {
  await using dir = await tempDir();
  const pids = `${dir.path}/pids`;
  const { code, stdout, stderr } = await spool(
    ["run", "-f", fixture("commands/orphans.ts"), "--report", "json"],
    GRANTS,
    { env: { PIDS: pids } },
  );
  assert.equal(code, 1, stderr);
  const { tree, dollar, watcher } = tasks(stdout);
  assert.equal(watcher.status, "failed");
  assert.equal(tree.status, "cancelled");
  assert.equal(dollar.status, "cancelled");
  const started = (await Deno.readTextFile(pids)).trim().split("\n").map(Number);
  assert.equal(started.length, 4, "the background sleeps of sh() and of $ started");
  const alive = await stillRunning(started);
  assert.deepEqual(alive, [], `processes left behind: ${alive.join(", ")}`);
});

Deno.test("SIGTERM to spool ends a running command's whole process tree before spool exits 143", async () => {
  await using dir = await tempDir();
  const pids = `${dir.path}/pids`;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      ...GRANTS,
      CLI,
      "run",
      "-f",
      fixture("commands/sigterm.ts"),
      "--no-cache",
    ],
    env: { NO_COLOR: "1", PIDS: pids },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  // Both sleeps run once their pids are written; bounded, in case they never start.
  const deadline = Date.now() + 60_000;
  let started: number[] = [];
  while (started.length < 2 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    started = (await Deno.readTextFile(pids).catch(() => "")).trim().split("\n")
      .filter((line) => line !== "").map(Number);
  }
  assert.equal(started.length, 2, "both background sleeps started");
  child.kill("SIGTERM");
  for (;;) {
    const { value, done } = await stderr.read();
    if (done) break;
    text += value;
  }
  const status = await child.status;
  assert.equal(status.code, 143, text);
  const alive = await stillRunning(started);
  assert.deepEqual(alive, [], `processes left behind: ${alive.join(", ")}`);
});

Deno.test("sh at its timeout ends the command's whole process tree, and retries apply as to any task", async () => {
  await using dir = await tempDir();
  const pids = `${dir.path}/pids`;
  const { code, stdout, stderr } = await spool(
    ["run", "-f", fixture("commands/slow.ts"), "--report", "json"],
    GRANTS,
    { env: { PIDS: pids } },
  );
  assert.equal(code, 1, stderr);
  const report = JSON.parse(stdout) as { tasks: (JsonTask & { attemptCount?: number })[] };
  const slow = report.tasks[0];
  assert.equal(slow.status, "failed");
  assert.equal(slow.attemptCount, 2);
  assert.match(JSON.stringify(slow), /timed out after 3000 ms/);
  const started = (await Deno.readTextFile(pids)).trim().split("\n").map(Number);
  assert.ok(started.length >= 2, `the background sleeps started: ${started.join(", ")}`);
  const alive = await stillRunning(started);
  assert.deepEqual(alive, [], `processes left behind: ${alive.join(", ")}`);
});

/**
 * The processes still running after a bounded wait: a signalled process may
 * take the kernel a moment to tear down.
 */
async function stillRunning(pids: number[]): Promise<number[]> {
  const deadline = Date.now() + 10_000;
  let alive = pids.filter(isRunning);
  while (alive.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    alive = alive.filter(isRunning);
  }
  return alive;
}

/** Whether a process exists and is not a zombie waiting to be reaped. */
function isRunning(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

Deno.test("sh derives its run permission from the command: --dry-run shows it, a run without it exits 2 naming the flag", async () => {
  const grants = ["--allow-read", "--allow-env", "--allow-net=127.0.0.1", "--allow-run=deno"];
  const plan = await spool(["run", "-f", BASIC, "--dry-run"], grants);
  assert.equal(plan.code, 0, plan.stderr);
  const text = plan.stdout + plan.stderr;
  assert.match(text, /io \(sh\)\s+listed\s+--allow-run=ls,sort/);
  const run = await spool(["run", "-f", BASIC], grants);
  assert.equal(run.code, 2, run.stderr);
  assert.match(run.stderr, /--allow-run=ls,sort/);
  assert.match(
    run.stderr,
    /--allow-run\b(?!=)/,
    "and the runner's own grant to stop process groups",
  );
  assert.doesNotMatch(run.stderr, /^hello \| hello$/m, "nothing ran");
});

Deno.test("sh refuses a background job '&' when the task file loads, pointing to sh -c", async () => {
  const { code, stderr } = await spool(["run", "-f", fixture("commands/background.ts")], GRANTS);
  assert.equal(code, 2, stderr);
  assert.match(stderr, /does not run jobs in the background with '&'/);
  assert.match(stderr, /sh -c/);
});

Deno.test("$ in an io task runs a command bound to the task: captured, printed, from its folder, checked against its run permission", async () => {
  const { code, stdout, stderr } = await spool(
    ["run", "-f", fixture("commands/dollar.ts"), "--keep-going", "--report", "json"],
    GRANTS,
    { env: { SPOOL_SECRET: "hunter2" } },
  );
  assert.equal(code, 1, stderr);
  const byName = tasks(stdout);
  assert.equal(byName.captured.result, "a.txt\nb.txt", "text() is stdout, trimmed");
  assert.equal(byName.printed.result, 0);
  assert.equal(byName.envHidden.result, "v=", "an undeclared variable is not expanded");
  assert.equal(byName.envInherited.result, "v=", "nor inherited by a program");
  assert.equal(byName.envDeclared.result, "v=hunter2", "a declared one is");
  assert.match(
    stderr,
    /^printed \| a\.txt$/m,
    "awaited without a reader, stdout is the task's output",
  );
  assert.doesNotMatch(stderr, /^captured \| a\.txt$/m, "text() keeps stdout for the body");
  assert.deepEqual(byName.lines.result, ["a.txt", "b.txt"], "a trusted task's $ too");
  assert.equal(byName.failing.status, "failed");
  assert.match(JSON.stringify(byName.failing), /exited with code 4/);
  assert.match(JSON.stringify(byName.failing), /bad input/);
  assert.equal(byName.lenient.result, 5, "noThrow() resolves with the exit code");
  assert.equal(byName.denied.status, "failed");
  assert.match(JSON.stringify(byName.denied), /needs run access to \\"ls\\"/);
});

Deno.test("spool run --deno-json runs deno.jsonc's tasks as deno task does: same output, dependencies first, from the config's folder", async () => {
  const project = fixture("commands/project");
  const env = { NAME: "spool" };
  const ours = await spool(["run", "--deno-json", "all", "--report", "json"], GRANTS, {
    cwd: project,
    env,
  });
  assert.equal(ours.code, 0, ours.stderr);
  const byName = tasks(ours.stdout);
  assert.deepEqual(Object.keys(byName).sort(), ["all", "both", "greet", "where"]);
  for (const name of ["where", "greet", "both"]) {
    const theirs = await deno(["task", "--quiet", name], { cwd: project, env });
    // deno task runs the dependencies too: their output comes first.
    assert.equal(theirs.code, 0, theirs.stderr);
    assert.equal(
      theirs.stdout.trim().split("\n").at(-1),
      byName[name].result,
      `task "${name}" prints what deno task prints`,
    );
  }
  const list = await spool(["list", "--deno-json"], GRANTS, { cwd: project });
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /greet\s+io \(sh\)\s+-\s+--allow-run=\S*\s+Say hello|greet.*Say hello/);
});

Deno.test("service starts before its dependants, is ready on its port or output line, stays up while they run, and is stopped after", async () => {
  const port = await freePort();
  const { code, stdout, stderr } = await spool(
    ["run", "-f", fixture("commands/services.ts"), "--report", "json"],
    GRANTS,
    { env: { SPOOL_TEST_PORT: String(port) } },
  );
  assert.equal(code, 0, stderr);
  const byName = tasks(stdout);
  assert.deepEqual(byName.api.result, {
    command: `deno run --allow-net=127.0.0.1 server.ts ${port}`,
    port,
  });
  assert.equal(byName.health.result, "ok");
  const pid = byName.pid.result as number;
  assert.ok(pid > 0, "the second dependant reached the service after the first one ended");
  assert.match(stderr, /^logged \| listening on 0$/m, "a service's output is its task's output");
  assert.equal((byName.after.result as { command: string }).command.includes("server.ts 0"), true);
  // Stopped when the run ended, before spool exited: the server process is gone.
  assert.deepEqual(
    await stillRunning([pid]),
    [],
    `the service's server (pid ${pid}) was left running`,
  );
});

Deno.test("service that exits fails: before it is ready, itself; after, its running dependants; both with its output tail", async () => {
  const { code, stdout, stderr } = await spool(
    ["run", "-f", fixture("commands/crashing.ts"), "--keep-going", "--report", "json"],
    GRANTS,
  );
  assert.equal(code, 1, stderr);
  const { never, dies, waits } = tasks(stdout);
  assert.equal(never.status, "failed");
  assert.match(JSON.stringify(never), /exited with code 7.*oops: no config/);
  assert.equal(dies.status, "ok");
  assert.equal(waits.status, "failed");
  assert.match(JSON.stringify(waits), /exited with code 9.*dying: out of memory/);
});

/** A loopback port nothing listens on now. */
async function freePort(): Promise<number> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  await Promise.resolve();
  return port;
}
