/**
 * A worker pool passed to `run()` stays warm from one run to the next, and
 * `spool run --watch` keeps one for its re-runs.
 *
 * @module
 */

import assert from "node:assert/strict";
import { run, WorkerPool } from "../mod.ts";
import { background, fixtureUrl, ROOT, tempDir } from "./_helpers.ts";

const tasks = (await import(fixtureUrl("warm_pool.ts"))).default;

Deno.test("A pool passed to run() serves run after run from the same sandboxes, and stays open", async () => {
  using pool = new WorkerPool(tasks.module, { size: 1 });
  const first = await run(tasks, { pool });
  const second = await run(tasks, { pool });
  assert.equal(first.ok, true);
  assert.equal(second.ok, true);
  // Sandboxed, so in a host process of its own, and the same host both times.
  assert.notEqual(first.results.ioPid, Deno.pid);
  assert.notEqual(first.results.cpuPid, Deno.pid);
  assert.equal(second.results.ioPid, first.results.ioPid);
  assert.equal(second.results.cpuPid, first.results.cpuPid);
  assert.equal(pool.closed, false);
  assert.equal(pool.liveCount, 1);
});

Deno.test("Without a pool, each run() starts its own sandboxes and closes them", async () => {
  const first = await run(tasks);
  const second = await run(tasks);
  assert.notEqual(second.results.ioPid, first.results.ioPid);
});

Deno.test("run() refuses a pool of another module, a closed pool, and options that disagree with the pool's", async () => {
  using other = new WorkerPool(fixtureUrl("smoke.ts"), { size: 1 });
  await assert.rejects(
    run(tasks, { pool: other }),
    (error: Error) =>
      error instanceof TypeError &&
      /Cannot run with the given pool as it serves the task module ".*smoke\.ts", not ".*warm_pool\.ts"/
        .test(error.message),
  );
  const closed = new WorkerPool(tasks.module, { size: 1 });
  closed.close();
  await assert.rejects(
    run(tasks, { pool: closed }),
    /Cannot run with the given pool as it is closed/,
  );
  using pool = new WorkerPool(tasks.module, { size: 1, isolation: "process" });
  await assert.rejects(
    run(tasks, { pool, workers: 2 }),
    /Cannot run as 'workers' is 2 but the given pool's is 1: leave 'workers' out/,
  );
  await assert.rejects(
    run(tasks, { pool, isolation: "worker" }),
    /Cannot run as 'isolation' is worker but the given pool's is process/,
  );
  // Options that agree are fine, and nothing was started by the refusals.
  assert.equal(pool.liveCount, 0);
  const report = await run(tasks, { pool, workers: 1, isolation: "process" });
  assert.equal(report.ok, true);
});

Deno.test({
  name: "spool run --watch runs again in the sandboxes of its first run",
  ignore: Deno.build.os === "windows",
  async fn() {
    await using dir = await tempDir();
    await Deno.mkdir(`${dir.path}/src`);
    await dir.write("src/input.txt", "one");
    // Each run of `record` appends the pid of the process it ran in.
    await dir.write(
      "tasks.ts",
      `import { defineTasks, io } from "${ROOT}/declare.ts";
export default defineTasks({
  record: io({
    permissions: { read: ["src"], write: ["pids.txt"] },
    cache: false,
    run() {
      Deno.readTextFileSync("src/input.txt");
      Deno.writeTextFileSync("pids.txt", Deno.pid + "\\n", { append: true });
    },
  }),
});
`,
    );
    await using spoolWatch = background(["run", "--watch", "--file", "tasks.ts"], {
      cwd: dir.path,
      stopSignal: "SIGKILL",
    });
    await spoolWatch.until(/1 task: 1 ok/);
    await dir.write("src/input.txt", "two");
    await spoolWatch.until(/Changed: src\/input\.txt: running again[\s\S]*1 task: 1 ok/);
    spoolWatch.kill("SIGINT");
    assert.equal((await spoolWatch.status).code, 130);
    const pids = (await Deno.readTextFile(`${dir.path}/pids.txt`)).trim().split("\n");
    assert.equal(pids.length, 2, spoolWatch.stderr);
    assert.notEqual(Number(pids[0]), spoolWatch.pid, "the task ran in a sandbox");
    assert.equal(pids[1], pids[0], "the second run used the first run's sandbox");
  },
});
