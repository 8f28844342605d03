/**
 * What the runner's own bookkeeping does to io task times: a task's span is
 * its body's, not the time the event loop spent starting or ending other
 * tasks.
 *
 * @module
 */

import assert from "node:assert/strict";
import { defineTasks, io, run, type TaskDefinition } from "../mod.ts";

Deno.test("Trivial io tasks at concurrency 1 report spans that do not overlap", async () => {
  const specs: Record<string, TaskDefinition<unknown, never>> = {};
  for (let i = 0; i < 2000; i++) specs[`t${i}`] = io({ trusted: true, run: () => i });
  const report = await run(defineTasks(specs), { concurrency: 1 });
  assert(report.ok);
  const spans = report.tasks
    .map(({ name, startMs, endMs }) => ({ name, startMs: startMs!, endMs: endMs! }))
    .sort((a, b) => a.startMs - b.startMs);
  for (let i = 1; i < spans.length; i++) {
    const [previous, next] = [spans[i - 1], spans[i]];
    assert(
      next.startMs >= previous.endMs,
      `"${next.name}" started at ${next.startMs} ms, before "${previous.name}" ended at ${previous.endMs} ms`,
    );
  }
});

Deno.test("Many io tasks waiting at once report about the time they waited", async () => {
  const count = 10000;
  const waitMs = 50;
  const specs: Record<string, TaskDefinition<unknown, never>> = {};
  for (let i = 0; i < count; i++) {
    specs[`w${i}`] = io({
      trusted: true,
      run: () => new Promise((resolve) => setTimeout(() => resolve(i), waitMs)),
    });
  }
  const report = await run(defineTasks(specs), { concurrency: count });
  assert(report.ok);
  const taskMs = report.tasks.reduce((sum, task) => sum + task.durationMs, 0);
  // Generous: 1.12x measured; before ready tasks were started in slices, 2.7x to 7.5x.
  assert(
    taskMs < 1.5 * count * waitMs,
    `${count} waits of ${waitMs} ms reported ${Math.round(taskMs)} ms of task time`,
  );
});

Deno.test("Ready io tasks beyond the concurrency limit wait their turn, never more running at once", async () => {
  let running = 0;
  let most = 0;
  const specs: Record<string, TaskDefinition<unknown, never>> = {};
  for (let i = 0; i < 1000; i++) {
    specs[`t${i}`] = io({
      trusted: true,
      run: async () => {
        most = Math.max(most, ++running);
        await new Promise((resolve) => setTimeout(resolve, 0));
        running--;
        return i;
      },
    });
  }
  const report = await run(defineTasks(specs), { concurrency: 4 });
  assert(report.ok);
  assert.equal(most, 4);
});

Deno.test("A failure skips the io tasks still waiting for a slot, naming the task that failed", async () => {
  const specs: Record<string, TaskDefinition<unknown, never>> = {
    bad: io({
      trusted: true,
      run: () => Promise.reject(new Error("Expected failure")),
    }),
  };
  for (let i = 0; i < 100; i++) specs[`t${i}`] = io({ trusted: true, run: () => i });
  const report = await run(defineTasks(specs), { concurrency: 1 });
  const byName = new Map(report.tasks.map((task) => [task.name, task]));
  assert.equal(byName.get("bad")!.status, "failed");
  for (let i = 0; i < 100; i++) {
    const task = byName.get(`t${i}`)!;
    assert.equal(task.status, "skipped");
    assert.equal(task.reason, `stopped because task "bad" failed`);
  }
});

Deno.test("Cancelling a run ends it at once, skipping the io tasks waiting for a slot", async () => {
  const controller = new AbortController();
  const specs: Record<string, TaskDefinition<unknown, never>> = {};
  for (let i = 0; i < 1000; i++) {
    specs[`t${i}`] = io({
      trusted: true,
      run: ({ signal }) =>
        new Promise((_, reject) => {
          signal.addEventListener("abort", () => reject(signal.reason), { once: true });
          controller.abort(new Error("Stopped by the test"));
        }),
    });
  }
  const report = await run(defineTasks(specs), { concurrency: 2, signal: controller.signal });
  const counts = Map.groupBy(report.tasks, (task) => task.status);
  assert.equal(counts.get("cancelled")?.length, 1);
  assert.equal(counts.get("skipped")?.length, 999);
  assert.equal(report.cancelled, "Stopped by the test");
});
