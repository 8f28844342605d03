/**
 * Attacks on the promise of issue #9 through the surfaces that came after it
 * (the cache, `$` run by the runner, the protocol): each test is an attack a
 * task file could make, kept as the regression test of its fix.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  COMMANDS_AT_ONCE,
  COMMANDS_WAITING,
  CommandSlots,
} from "../lib/commands/_command_slots.ts";
import type { RunReport } from "../lib/report/report.ts";
import { readSealedSync, writeSealedSync } from "../lib/cache/_sealed_file.ts";
import { sha256 } from "../lib/cache/_hash.ts";
import type { CacheEntry } from "../lib/cache/cache_store.ts";
import { CLI, fixture, ROOT, spool, tempDir } from "./_helpers.ts";
import { NATS_MISSING, startNats } from "./_nats_server.ts";
import { NatsLink } from "../lib/remote/_nats.ts";
import { type Batch, decode, encode, type LegacyWork } from "../lib/remote/_messages.ts";

Deno.test("A task cannot make the runner start more than 8 of its $ commands at once, sandboxed or trusted", async () => {
  const { code, stdout, stderr } = await spool([
    "run",
    "--file",
    fixture("red_team/command_flood.ts"),
    "--report",
    "json",
  ]);
  assert.equal(code, 0, stderr);
  const report = JSON.parse(stdout) as RunReport;
  for (const name of ["flood", "floodTrusted"]) {
    const flood = report.tasks.find((task) => task.name === name)!;
    assert.equal(flood.status, "ok", name);
    // The ninth command could start only once a slot was free.
    assert.ok(
      (flood.result as { endedBeforeNinth: number }).endedBeforeNinth >= 1,
      `${name}: ${JSON.stringify(flood.result)}`,
    );
  }
});

Deno.test("A task's $ commands past the waiting bound fail at once, naming the task", async () => {
  const slots = new CommandSlots();
  let release!: () => void;
  const held = new Promise<void>((resolve) => release = resolve);
  const running = Array.from(
    { length: COMMANDS_AT_ONCE + COMMANDS_WAITING },
    () => slots.run("t", "sleep 1", () => held),
  );
  await assert.rejects(
    slots.run("t", "echo one-too-many", () => Promise.resolve()),
    /Cannot run command "echo one-too-many" in task "t": it already has 1000 commands waiting/,
  );
  release();
  await Promise.all(running);
});

const BUILD_TASK = `import { cpu, defineTasks } from "${ROOT}/mod.ts";
export default defineTasks({
  build: cpu({
    permissions: { write: ["out"] },
    run() {
      Deno.writeTextFileSync("out/app.js", "built");
      return "built";
    },
  }),
});
`;

Deno.test("A forged cache entry cannot make the runner write outside the task's outputs", async () => {
  // Whoever may write the cache folder (a task declaring write access to
  // it, or to a --cache-dir inside its outputs) can write an entry: its
  // files must stay within the outputs the task declared.
  await using dir = await tempDir();
  await dir.write("tasks.ts", BUILD_TASK);
  await Deno.mkdir(`${dir.path}/out`);
  const run = () =>
    spool(["run", "--cache", "--file", "tasks.ts", "--report", "json"], ["-A"], { cwd: dir.path });
  const first = await run();
  assert.equal(first.code, 0, first.stderr);
  const cache = `${dir.path}/.spool/cache`;
  const [name] = [...Deno.readDirSync(`${cache}/entries`)].map((entry) => entry.name);
  const entry = readSealedSync(`${cache}/entries/${name}`) as CacheEntry;
  const payload = new TextEncoder().encode("planted");
  const sha = sha256(payload);
  Deno.writeFileSync(`${cache}/blobs/${sha}`, payload);
  // Outside the temporary folder: a name of its own, so that nothing else's file is in the way.
  const outside = `${dir.path.split("/").pop()}-planted.txt`;
  entry.outputs.push({ rel: "out/../planted.txt", sha, mode: null }, {
    rel: `../${outside}`,
    sha,
    mode: null,
  });
  entry.result = "forged";
  writeSealedSync(`${cache}/entries/${name}`, entry);

  try {
    const second = await run();
    assert.equal(second.code, 0, second.stderr);
    const build = (JSON.parse(second.stdout) as RunReport).tasks[0];
    // Not trusted: the task runs again, and its own result stands.
    assert.equal(build.status, "ok");
    assert.equal(build.result, "built");
    for (const path of [`${dir.path}/planted.txt`, `${dir.path}/../${outside}`]) {
      assert.throws(() => Deno.statSync(path), Deno.errors.NotFound, path);
    }
  } finally {
    await Deno.remove(`${dir.path}/../${outside}`).catch(() => {});
  }
});

Deno.test("A forged cache index cannot make eviction remove a file outside the cache", async () => {
  await using dir = await tempDir();
  await dir.write("tasks.ts", BUILD_TASK);
  await Deno.mkdir(`${dir.path}/out`);
  const victim = await dir.write("keep.txt", "mine");
  const run = () =>
    spool(["run", "--cache", "--cache-max", "1", "--force", "--file", "tasks.ts"], ["-A"], {
      cwd: dir.path,
    });
  const first = await run();
  assert.equal(first.code, 0, first.stderr);
  const indexPath = `${dir.path}/.spool/cache/index`;
  const index = readSealedSync(indexPath) as {
    entries: Record<string, { task: string; bytes: number; usedAt: number; blobs: string[] }>;
  };
  index.entries["../../../keep.txt"] = {
    task: "x",
    bytes: 10,
    usedAt: 0,
    blobs: ["../../../keep.txt"],
  };
  writeSealedSync(indexPath, index);
  // Past the 1-byte bound, eviction drops every entry, forged ones first.
  const second = await run();
  assert.equal(second.code, 0, second.stderr);
  assert.equal(Deno.readTextFileSync(victim), "mine");
});

Deno.test("What io tasks write straight to stdout reaches the terminal made harmless", async () => {
  const { code, stdout, stderr } = await spool([
    "run",
    "--file",
    fixture("red_team/raw_stdout.ts"),
  ]);
  assert.equal(code, 0, stderr);
  const all = stdout + stderr;
  assert.ok(!all.includes("\x1b"), JSON.stringify(all));
  assert.match(all, /title\[\\x1b\]0;PWNED\\x07\]/);
});

for (const isolation of ["worker", "process"]) {
  Deno.test(`A task cannot post to its worker's channel: it fails alone, the run goes on (isolation ${isolation})`, async () => {
    const { code, stdout, stderr } = await spool([
      "run",
      "--file",
      fixture("red_team/forged_message.ts"),
      "--isolation",
      isolation,
      "--keep-going",
      "--report",
      "json",
    ]);
    assert.equal(code, 1, stderr);
    const tasks = (JSON.parse(stdout) as RunReport).tasks;
    const forger = tasks.find((task) => task.name === "forger")!;
    assert.equal(forger.status, "failed");
    assert.match(forger.error!.message, /A task cannot post to its worker's channel/);
    assert.equal(tasks.find((task) => task.name === "bystander")!.status, "ok");
  });
}

/** The pids of processes whose command line holds `marker`. */
async function processesWith(marker: string): Promise<number[]> {
  const { stdout } = await new Deno.Command("ps", { args: ["-eo", "pid=,args="] }).output();
  return new TextDecoder().decode(stdout).split("\n").filter((line) => line.includes(marker))
    .map((line) => Number(line.trim().split(/\s+/)[0]));
}

Deno.test({
  name:
    "A $ command a task did not await ends with its task, not after the run, sandboxed or trusted",
  ignore: Deno.build.os === "windows",
  async fn() {
    const marker = `unawaited-${crypto.randomUUID()}`;
    const { code, stderr } = await spool([
      "run",
      "--file",
      fixture("red_team/unawaited_command.ts"),
      "--",
      marker,
    ]);
    assert.equal(code, 0, stderr);
    // Stopped when the task ended (SIGTERM to its group): gone within moments
    // of the run's end, where it would sleep on for a minute. Both tasks,
    // the sandboxed and the trusted one, left a command with the marker.
    let left = await processesWith(marker);
    for (let i = 0; i < 100 && left.length > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      left = await processesWith(marker);
    }
    for (const pid of left) Deno.kill(pid, "SIGKILL");
    assert.deepEqual(left, [], "the command outlived its task");
  },
});

Deno.test({
  name: "Malformed events from a NATS peer are dropped; the run still gets its result",
  ignore: NATS_MISSING,
  async fn() {
    // Any peer that may publish on spool.> can send a run events; one whose
    // fields are wrong (an output whose text is not a string, a start with
    // no place) threw in the NATS client's reader, which closed the
    // connection: the run waited for ever for its results.
    await using nats = await startNats();
    const peer = await NatsLink.connect(nats.url, { name: "peer" });
    try {
      const place = { machine: "peer", pid: 1, slot: 0 };
      peer.listen("spool.work.*", (subject, data) => {
        const run = subject.slice("spool.work.".length);
        // A work message is a batch (its jobs) or, as before batches, one job.
        const work = decode<Batch | LegacyWork>(data);
        const job = "jobs" in work ? work.jobs[0].job : work.job;
        const forged = [{ type: "output", job, stream: "stdout", text: {} }, {
          type: "start",
          job,
          place: null,
        }, { type: "output", job, stream: "bogus", text: "x" }];
        for (const event of forged) {
          peer.send(`spool.event.${run}`, encode(event as unknown as LegacyWork));
        }
        peer.send(
          `spool.event.${run}`,
          encode({ type: "start", job, place } as unknown as LegacyWork),
        );
        peer.flush().then(() =>
          peer.publishResult(
            run,
            String(job),
            encode({ job, place, ok: true, value: "answered", ms: 1 }),
          )
        );
      });
      await peer.flush();
      const output = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--no-prompt",
          "-A",
          CLI,
          "run",
          "--no-cache",
          "--file",
          fixture("red_team/remote_tasks.ts"),
          "--nats",
          nats.url,
          "--report",
          "json",
        ],
        env: { NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
        // Bounds a hang; the run takes a second or two.
        signal: AbortSignal.timeout(60_000),
      }).output();
      const stderr = new TextDecoder().decode(output.stderr);
      assert.equal(output.code, 0, stderr);
      const report = JSON.parse(new TextDecoder().decode(output.stdout)) as RunReport;
      assert.equal(report.tasks[0].result, "answered");
    } finally {
      await peer.close();
    }
  },
});

Deno.test("A task's $ cannot read a file in a PATH folder that the task did not declare", async () => {
  // The shell process reads PATH's folders to find programs: a task that may
  // run none needs no such read, and with it a task declaring nothing read
  // any file there through dax's builtin `cat` (and a "pure", cached task's
  // result hung on a file no fingerprint covers).
  await using dir = await tempDir();
  const secret = await dir.write("config.txt", "TOKEN=in-a-path-folder");
  const { code, stdout, stderr } = await spool(
    ["run", "--file", fixture("red_team/path_read.ts"), "--report", "json", "--", secret],
    ["-A"],
    { env: { PATH: `${dir.path}:${Deno.env.get("PATH") ?? ""}` } },
  );
  assert.equal(code, 0, stderr);
  const result = (JSON.parse(stdout) as RunReport).tasks[0].result as {
    echoed: string;
    code: number;
    stdout: string;
  };
  assert.equal(result.echoed, "builtins need no read");
  assert.notEqual(result.code, 0);
  assert.doesNotMatch(result.stdout, /TOKEN/);
});
