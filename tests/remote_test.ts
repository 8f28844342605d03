// spool over NATS JetStream, through the CLI as subprocesses: `spool run
// --nats` with `spool worker` processes on a real nats-server.
import assert from "node:assert/strict";
import {
  type Background,
  background,
  fixture,
  lastLine,
  spool,
  SUMMARY,
  tempDir,
} from "./_helpers.ts";
import { NATS_MISSING, startNats } from "./_nats_server.ts";
import { NatsLink } from "../lib/remote/_nats.ts";
import { NatsLane } from "../lib/remote/nats_lane.ts";
import {
  type Batch,
  decode,
  encode,
  type LegacyWork,
  type Outcome,
} from "../lib/remote/_messages.ts";
import { taskFileHash } from "../lib/remote/_task_file_hash.ts";

const TASKS = fixture("remote/tasks.ts");
const CHANGED = fixture("remote/changed_tasks.ts");
const CPU = Array.from({ length: 8 }, (_, i) => `work:${i}`);
const BATCHED = fixture("remote/batch_tasks.ts");
const BATCHED_TASKS = Array.from({ length: 32 }, (_, i) => `job:${i}`);

/** A `spool worker`, started and ready for jobs. */
async function worker(url: string, file: string, ...flags: string[]): Promise<Background> {
  const process = background(["-f", file, "worker", "--nats", url, ...flags]);
  await until("the worker to be ready", () => process.stderr.includes("waiting for jobs"));
  return process;
}

/** Waits until `check` holds, polling; fails after `ms`. */
async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  ms = 30_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!await check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

interface Report {
  ok: boolean;
  cancelled?: string;
  workers: number;
  workerNames?: string[];
  tasks: {
    name: string;
    status: string;
    worker?: number;
    workers?: number[];
    attempts?: unknown;
    result?: unknown;
  }[];
}

/** The `spool worker` process ids the report's workers name. */
function workerPids(report: Report, tasks: readonly string[]): Set<number> {
  const pids = new Set<number>();
  for (const task of report.tasks.filter((task) => tasks.includes(task.name))) {
    for (const index of task.workers ?? [task.worker!]) {
      pids.add(Number(report.workerNames![index].match(/ pid (\d+) /)![1]));
    }
  }
  return pids;
}

const EXPECTED = { sum: 8 * 7 + 28, squares: 100 };

Deno.test({
  name: "A run with --nats lands cpu tasks and chunks on both workers and gets every result",
  ignore: NATS_MISSING,
  async fn() {
    await using nats = await startNats();
    await using dir = await tempDir();
    await using a = await worker(nats.url, TASKS, "-w", "2");
    await using b = await worker(nats.url, TASKS, "-w", "2");
    const reportFile = `${dir.path}/report.json`;
    // Without --allow-env: the cpu task that declares it runs on the workers, which hold it.
    const run = await spool(
      ["-f", TASKS, "run", "--nats", nats.url, "--report-file", reportFile],
      ["--allow-read", "--allow-write", "--allow-net", "--allow-run=deno"],
    );
    assert.equal(run.code, 0, run.stderr);
    assert.match(lastLine(run.stderr), SUMMARY);
    assert.match(run.stderr, /Remote workers \(\d slots\):/);
    assert.doesNotMatch(run.stderr, /No spool worker answered/);
    const report: Report = JSON.parse(await Deno.readTextFile(reportFile));
    assert.deepEqual(report.tasks.find((task) => task.name === "gather")!.result, EXPECTED);
    assert.ok(report.tasks.every((task) => task.status === "ok"));
    assert.equal(report.tasks.find((task) => task.name === "home")!.result, "string");
    // Four slots of 300 ms tasks: both workers take some.
    assert.deepEqual(workerPids(report, [...CPU, "squares"]), new Set([a.pid, b.pid]));
    assert.equal(report.workers, 4, "the speedup counts both workers' two slots");
  },
});

Deno.test({
  name: "kill -9 of a worker mid-task: its task is redelivered, every task ok, none counted twice",
  ignore: NATS_MISSING,
  async fn() {
    await using nats = await startNats();
    await using dir = await tempDir();
    const reportFile = `${dir.path}/report.json`;
    await using doomed = await worker(nats.url, TASKS, "-w", "1", "--ack-wait", "1s");
    await using run = background([
      "-f",
      TASKS,
      "run",
      "--nats",
      nats.url,
      "--report-file",
      reportFile,
      "work:0",
      "--",
      "--sleep=2000",
    ]);
    await until("work:0 to start on the first worker", () => run.stderr.includes("start work:0"));
    Deno.kill(doomed.pid, "SIGKILL");
    await doomed.status;
    await using rescuer = await worker(nats.url, TASKS, "-w", "1", "--ack-wait", "1s");
    const status = await run.status;
    assert.equal(status.code, 0, run.stderr);
    const report: Report = JSON.parse(await Deno.readTextFile(reportFile));
    const work = report.tasks.find((task) => task.name === "work:0")!;
    assert.equal(work.status, "ok");
    assert.equal(work.attempts, undefined, "a redelivery is not one of the task's retries");
    assert.deepEqual(workerPids(report, ["work:0"]), new Set([rescuer.pid]));
    assert.equal((work.result as { value: number }).value, 7);
    assert.equal(report.tasks.length, 2, "seed and work:0, each once");
    assert.match(rescuer.stderr, /ok "work:0"/);
  },
});

Deno.test({
  name:
    "kill -9 of a worker holding a batch half done: the batch is redelivered, each task counted once",
  ignore: NATS_MISSING,
  async fn() {
    await using nats = await startNats();
    await using dir = await tempDir();
    const reportFile = `${dir.path}/report.json`;
    await using doomed = await worker(nats.url, BATCHED, "-w", "1", "--ack-wait", "1s");
    // 32 ready jobs for one slot: they go two per message.
    await using run = background([
      "-f",
      BATCHED,
      "run",
      "--nats",
      nats.url,
      "--report-file",
      reportFile,
      "--",
      "--sleep=1000",
    ]);
    await until("a first task's result to reach the run", () => /\nok +job:\d+/.test(run.stderr));
    // Its batch's other job holds the slot: the message is not acked yet.
    Deno.kill(doomed.pid, "SIGKILL");
    await doomed.status;
    const first = run.stderr.match(/\nok +(job:\d+)/)![1];
    await using rescuer = await worker(nats.url, BATCHED, "-w", "8", "--ack-wait", "1s");
    const status = await run.status;
    assert.equal(status.code, 0, run.stderr);
    const report: Report = JSON.parse(await Deno.readTextFile(reportFile));
    assert.deepEqual(
      report.tasks.map((task) => task.name).sort(),
      BATCHED_TASKS.toSorted(),
      "each task once",
    );
    assert.ok(report.tasks.every((task) => task.status === "ok" && task.attempts === undefined));
    assert.deepEqual(workerPids(report, [first]), new Set([doomed.pid]), "its first result counts");
    assert.match(rescuer.stderr, new RegExp(`ok "${first}"`), "it ran again with its batch");
    const others = BATCHED_TASKS.filter((name) => name !== first);
    assert.deepEqual(workerPids(report, others), new Set([rescuer.pid]));
  },
});

Deno.test({
  name: "A worker whose task file differs refuses the run's tasks, and the run fails saying why",
  ignore: NATS_MISSING,
  async fn() {
    await using nats = await startNats();
    await using other = await worker(nats.url, CHANGED, "-w", "1");
    const run = await spool(["-f", TASKS, "run", "--nats", nats.url, "work:0"]);
    assert.equal(run.code, 1, run.stderr);
    assert.match(
      run.stderr,
      /refused task "work:0": its task file ".*changed_tasks\.ts" \([0-9a-f]{12}\) differs from the run's \([0-9a-f]{12}\): start the worker with the same task file/,
    );
    assert.match(other.stderr, /Refused task "work:0"/);
  },
});

Deno.test({
  name: "A worker refuses a job in the message format before batches, answering in that format",
  ignore: NATS_MISSING,
  async fn() {
    await using nats = await startNats();
    await using current = await worker(nats.url, TASKS, "-w", "1");
    const link = await NatsLink.connect(nats.url, { name: "spool test: a run from before" });
    try {
      // What a run from before batches sends: one job per message, its fields at the top.
      const run = crypto.randomUUID().replaceAll("-", "");
      const module = new URL(`file://${TASKS}`).href;
      const work: LegacyWork = {
        run,
        job: 0,
        task: "work:0",
        hash: await taskFileHash(module),
        args: [],
        kind: "run",
        deps: { seed: 1 },
      };
      const { promise, resolve } = Promise.withResolvers<Outcome>();
      const stop = await link.onResults(run, (data) => resolve(decode<Outcome>(data)));
      try {
        await link.queue(run, encode(work));
        const outcome = await promise;
        assert.equal(outcome.job, 0);
        assert.equal(outcome.ok, false);
        assert.ok(!outcome.ok && outcome.why === "refused");
        assert.match(
          !outcome.ok ? outcome.error.message : "",
          /refused task "work:0": it was sent in another message format than this worker's \(protocol \d+\): start the worker with the same spool version as the run/,
        );
      } finally {
        stop();
      }
      await until("the worker to log it", () => current.stderr.includes('Refused task "work:0"'));
      // The worker acks after it publishes the refusal; the server takes the ack in its own time.
      await until("the refused job to leave the queue", async () => await link.queuedCount() === 0);
    } finally {
      await link.close();
    }
  },
});

Deno.test({
  name: "A worker from before batches refuses a batch as one job, and every job of it fails",
  ignore: NATS_MISSING,
  async fn() {
    await using nats = await startNats();
    const module = new URL(`file://${BATCHED}`).href;
    const lane = await NatsLane.connect(nats.url, { module });
    const old = await NatsLink.connect(nats.url, { name: "spool test: a worker from before" });
    try {
      await old.ensureWorkerConsumer(30_000);
      const jobs = BATCHED_TASKS.map((task) =>
        lane.run(task, { seed: 1 }).then(
          () => assert.fail(`${task} ran`),
          (error: Error) => error,
        )
      );
      // What a worker from before batches does: it reads the fields at the top,
      // sees another task file hash, and answers for that one job.
      let messages = 0;
      const pulling = new AbortController();
      const refusing = (async () => {
        while (!pulling.signal.aborted) {
          for await (const message of old.pull(BATCHED_TASKS.length, 1000, pulling.signal)) {
            messages++;
            const work = decode<Batch>(message.data);
            const refused: Outcome = {
              ok: false,
              job: work.job,
              place: { machine: "old", pid: 1, slot: -1 },
              why: "refused",
              error: {
                name: "WorkerRefusedError",
                message: `Worker old pid 1 refused task "${work.task}": its task file differs`,
              },
            };
            await old.publishResult(work.run, String(work.job), encode(refused));
            message.ack();
          }
        }
      })();
      // The refusing loop ends only when aborted: its failure fails the test at once.
      const errors = await Promise.race([
        Promise.all(jobs),
        refusing.then(() => Promise.reject(new Error("the old worker stopped"))),
      ]);
      pulling.abort();
      await refusing;
      for (const error of errors) {
        assert.match(error.message, /refused task .*its task file differs/);
      }
      assert.ok(
        messages < BATCHED_TASKS.length,
        `${BATCHED_TASKS.length} jobs went in ${messages} messages`,
      );
    } finally {
      await old.close();
      await lane.close();
    }
  },
});

Deno.test({
  name: "Jobs whose inputs would make a batch too big for one NATS message still all run",
  ignore: NATS_MISSING,
  async fn() {
    await using nats = await startNats();
    // One slot: 32 jobs go two per message.
    await using busy = await worker(nats.url, BATCHED, "-w", "1", "--quiet");
    const lane = await NatsLane.connect(nats.url, { module: new URL(`file://${BATCHED}`).href });
    try {
      // 600 kB each: two of them exceed the server's 1 MB max_payload, one does not.
      const results = await Promise.all(
        BATCHED_TASKS.map((task) =>
          lane.run(task, { blob: new Uint8Array(600_000) }, { args: ["--sleep=10"] })
        ),
      );
      assert.deepEqual(
        results.map((result) => (result.value as { value: number }).value),
        BATCHED_TASKS.map((_, i) => i),
      );
      assert.doesNotMatch(busy.stderr, /error/);
    } finally {
      await lane.close();
    }
  },
});

Deno.test({
  name: "Results that together would be too big for one NATS message all reach the run",
  ignore: NATS_MISSING,
  async fn() {
    await using nats = await startNats();
    // Eight slots whose jobs end together: their results go back in one flush.
    await using busy = await worker(nats.url, BATCHED, "-w", "8", "--quiet");
    const lane = await NatsLane.connect(nats.url, { module: new URL(`file://${BATCHED}`).href });
    try {
      const tasks = BATCHED_TASKS.slice(0, 16);
      const results = await Promise.all(
        tasks.map((task) => lane.run(task, {}, { args: ["--sleep=50", "--bytes=600000"] })),
      );
      for (const [i, result] of results.entries()) {
        const value = result.value as { value: number; bytes: Uint8Array };
        assert.equal(value.value, i);
        assert.equal(value.bytes.length, 600_000);
      }
      assert.doesNotMatch(busy.stderr, /error/);
    } finally {
      await lane.close();
    }
  },
});

Deno.test("An unreachable NATS server: run and worker exit 2 naming the URL, nothing runs", async () => {
  // A port that was free a moment ago: nothing listens there.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const url = `nats://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`;
  listener.close();
  for (const command of ["run", "worker"]) {
    const result = await spool(["-f", TASKS, command, "--nats", url]);
    assert.equal(result.code, 2, result.stderr);
    assert.match(
      result.stderr,
      new RegExp(`^error: Cannot use the NATS server at "${url}": .*check that it runs`),
    );
    assert.doesNotMatch(result.stderr, /start seed|Uncaught/);
  }
});

Deno.test("--worker-timeout without --nats, or not a duration, exits 2 and nothing runs", async () => {
  const alone = await spool(["-f", TASKS, "run", "--worker-timeout", "1s"]);
  assert.equal(alone.code, 2, alone.stderr);
  assert.match(
    alone.stderr,
    /^error: Cannot use --worker-timeout without --nats: .*run with --nats <url>/,
  );
  assert.doesNotMatch(alone.stderr, /start seed|Uncaught/);
  const bad = await spool([
    "-f",
    TASKS,
    "run",
    "--nats",
    "nats://127.0.0.1:1",
    "--worker-timeout",
    "soon",
  ]);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /--worker-timeout/);
  assert.doesNotMatch(bad.stderr, /start seed|Uncaught/);
});

Deno.test({
  name: "Ctrl-C on a --nats run cancels its running remote task and drops its queued ones",
  ignore: NATS_MISSING,
  async fn() {
    await using nats = await startNats();
    await using dir = await tempDir();
    const reportFile = `${dir.path}/report.json`;
    await using busy = await worker(nats.url, TASKS, "-w", "1");
    await using run = background([
      "-f",
      TASKS,
      "run",
      "--nats",
      nats.url,
      "--report-file",
      reportFile,
      "--",
      "--sleep=60000",
    ]);
    await until("a cpu task to start", () => /start work:\d/.test(run.stderr));
    Deno.kill(run.pid, "SIGINT");
    const status = await run.status;
    assert.equal(status.code, 130, run.stderr);
    assert.match(lastLine(run.stderr), SUMMARY);
    const report: Report = JSON.parse(await Deno.readTextFile(reportFile));
    assert.equal(report.cancelled, "interrupted (SIGINT)");
    const statuses = report.tasks.filter((task) => CPU.includes(task.name)).map((t) => t.status);
    assert.equal(statuses.filter((s) => s === "cancelled").length, 1, JSON.stringify(statuses));
    assert.equal(statuses.filter((s) => s === "skipped").length, 7);
    await until("the worker to stop the task", () => busy.stderr.includes("Cancelled task"));
    const link = await NatsLink.connect(nats.url, { name: "spool test" });
    try {
      assert.equal(await link.queuedCount(), 0, "no job of the run is left queued");
    } finally {
      await link.close();
    }
  },
});

Deno.test({
  name:
    "A --nats run with no worker says so, and --worker-timeout fails its cpu tasks with a summary",
  ignore: NATS_MISSING,
  async fn() {
    await using nats = await startNats();
    const run = await spool([
      "-f",
      TASKS,
      "run",
      "--nats",
      nats.url,
      "--worker-timeout",
      "300ms",
      "work:0",
    ]);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /warning: No spool worker answered on nats:\/\/127\.0\.0\.1:\d+/);
    assert.match(
      run.stderr,
      /No spool worker took a job on nats:\/\/127\.0\.0\.1:\d+ within 300ms \(--worker-timeout\): start one with spool worker --nats/,
    );
    assert.match(lastLine(run.stderr), SUMMARY);
    assert.doesNotMatch(run.stderr, /Uncaught/);
    const link = await NatsLink.connect(nats.url, { name: "spool test" });
    try {
      assert.equal(await link.queuedCount(), 0, "its job does not wait for a later worker");
    } finally {
      await link.close();
    }
  },
});
