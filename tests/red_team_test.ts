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
import { fixture, spool } from "./_helpers.ts";

Deno.test("A task cannot make the runner start more than 8 of its $ commands at once", async () => {
  const { code, stdout, stderr } = await spool([
    "run",
    "--file",
    fixture("red_team/command_flood.ts"),
    "--report",
    "json",
  ]);
  assert.equal(code, 0, stderr);
  const report = JSON.parse(stdout) as RunReport;
  const flood = report.tasks.find((task) => task.name === "flood")!;
  assert.equal(flood.status, "ok");
  // The ninth command could start only once a slot was free.
  assert.ok(
    (flood.result as { endedBeforeNinth: number }).endedBeforeNinth >= 1,
    JSON.stringify(flood.result),
  );
});

Deno.test("A task's $ commands past the waiting bound fail at once, naming the task", async () => {
  const slots = new CommandSlots();
  let release!: () => void;
  const held = new Promise<void>((resolve) => release = resolve);
  const running = Array.from(
    { length: COMMANDS_AT_ONCE + COMMANDS_WAITING },
    () => slots.run("t", "sleep 1", undefined, () => held),
  );
  await assert.rejects(
    slots.run("t", "echo one-too-many", undefined, () => Promise.resolve()),
    /Cannot run command "echo one-too-many" in task "t": it already has 1000 commands waiting/,
  );
  release();
  await Promise.all(running);
});
