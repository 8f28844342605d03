import assert from "node:assert/strict";
import { cpu, defineTasks, io } from "../mod.ts";
import { formatPlan, planFlags, type PlanJson, planRun, planToJson } from "../lib/run/plan.ts";
import { fixture, spool, tempDir } from "./_helpers.ts";
import { assertSnapshot } from "./_snapshot.ts";

const tasks = defineTasks({
  config: io({ run: () => ({}) }),
  fetch: io({ permissions: { net: ["example.com"] }, deps: ["config"], run: () => "page" }),
  mirror: io({ permissions: { net: ["mirror.example.com"] }, deps: ["config"], run: () => "" }),
  parse: cpu({ permissions: { read: ["./data"] }, deps: ["fetch"], run: () => 1 }),
  report: io({ permissions: { write: true }, deps: ["parse", "mirror"], run: () => 2 }),
  unrelated: io({ run: () => 3 }),
});

Deno.test("planRun selects the targets and their dependencies, each with its step", () => {
  const plan = planRun(tasks, { targets: ["report"], workers: 3, concurrency: 8 });
  assert.deepEqual(
    plan.tasks.map((task) => `${task.step} ${task.kind} ${task.name}`),
    ["1 io config", "2 io fetch", "2 io mirror", "3 cpu parse", "4 io report"],
  );
  assert.equal(plan.workers, 3);
  assert.equal(plan.concurrency, 8);
  assert.equal(planRun(tasks, { targets: ["fetch"], workers: 3 }).workers, 0, "no cpu task");
});

Deno.test("planFlags merges every task's permissions into the flags the process needs", () => {
  // Sandboxes are deno processes that report back over loopback: the runner
  // also needs to start deno and listen on 127.0.0.1.
  assert.deepEqual(planFlags(planRun(tasks)), [
    "--allow-net=example.com,mirror.example.com,127.0.0.1",
    "--allow-read=./data",
    "--allow-write",
    "--allow-run=deno",
  ]);
  assert.deepEqual(planFlags(planRun(tasks, { targets: ["unrelated"] })), [
    "--allow-net=127.0.0.1",
    "--allow-run=deno",
  ]);
  const trusted = defineTasks({ t: io({ trusted: true, run: () => 1 }) });
  assert.deepEqual(planFlags(planRun(trusted)), [], "a trusted task needs no sandbox");
  assert.match(formatPlan(planRun(trusted)), /^1 +io \(trusted\) +t /m, "the plan marks it");
  assert.equal(planToJson(planRun(trusted)).tasks[0].trusted, true);
});

Deno.test("formatPlan shows step, lane, permissions and dependencies of each task", async () => {
  const plan = planRun(tasks, { workers: 2, concurrency: 64 });
  await assertSnapshot("plan_text", formatPlan(plan));
});

Deno.test("spool run --dry-run prints the plan and runs nothing", async () => {
  await using dir = await tempDir();
  const marker = `${dir.path}/marker`;
  const { code, stdout, stderr } = await spool(
    ["run", "--dry-run", "-f", fixture("needs_net.ts"), "-w", "2"],
    ["-A"],
    { env: { SPOOL_MARKER: marker } },
  );
  assert.equal(code, 0, stderr);
  assert.equal(stderr, "");
  assert.match(stdout, /^Plan: 2 tasks: 2 io \(concurrency 64\)$/m);
  assert.match(stdout, /^1 +io +marker +--allow-write --allow-env=SPOOL_MARKER +-$/m);
  assert.match(stdout, /^2 +io +page +--allow-net=example\.com +marker$/m);
  assert.match(stdout, /Dry run: nothing ran\./);
  await assert.rejects(Deno.stat(marker), Deno.errors.NotFound, "the marker task did not run");
});

Deno.test("spool run --dry-run --report json gives the plan as JSON, with missing grants", async () => {
  const { code, stdout, stderr } = await spool(
    ["run", "--dry-run", "--report", "json", "-f", fixture("needs_net.ts"), "page"],
    ["--allow-read", "--allow-write", "--allow-env"],
  );
  assert.equal(code, 0, stderr);
  const plan: PlanJson = JSON.parse(stdout);
  assert.equal(plan.dryRun, true);
  assert.deepEqual(plan.tasks.map((task) => [task.name, task.kind, task.step, task.deps]), [
    ["marker", "io", 1, []],
    ["page", "io", 2, ["marker"]],
  ]);
  assert.deepEqual(plan.tasks[1].permissions, { net: ["example.com"] });
  assert.deepEqual(plan.flags, [
    "--allow-net=example.com,127.0.0.1",
    "--allow-write",
    "--allow-env=SPOOL_MARKER",
    "--allow-run=deno",
  ]);
  assert.deepEqual(plan.missing.map((grant) => grant.flag), [
    "--allow-net=example.com",
    "--allow-run=deno",
    "--allow-net=127.0.0.1",
  ]);
  assert.deepEqual(planToJson(planRun(tasks, { targets: ["unrelated"] })).missing, []);
});
