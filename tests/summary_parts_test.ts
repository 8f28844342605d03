/**
 * The pieces of the end-of-run block both printers share
 * (`lib/report/_summary_parts.ts`): the critical path's wait notes and
 * where a run's idle time went.
 */

import assert from "node:assert/strict";
import { idleWhere, waitNote } from "../lib/report/_summary_parts.ts";

Deno.test("A wait on the critical path is noted from 10 ms, saying what the task waited for", () => {
  const sandboxed = { kind: "io" };
  assert.equal(waitNote(9.999, false, sandboxed), "");
  assert.equal(waitNote(10, true, sandboxed), "started at 10 ms");
  assert.equal(waitNote(10, false, sandboxed), "waited 10 ms for a slot or its sandbox host");
  assert.equal(waitNote(250, false, { kind: "io", trusted: true }), "waited 250 ms for a slot");
  assert.equal(waitNote(1500, false, { kind: "cpu" }), "waited 1.50 s for a worker");
});

Deno.test("Idle wall time goes to start-up, wind-down or waits between tasks, whichever holds most", () => {
  // 100 ms of wall, 60 idle: before the first start, after the last end, or in between.
  assert.equal(idleWhere(60, 100, 40, 80), "start-up");
  assert.equal(idleWhere(60, 100, 10, 50), "wind-down");
  assert.equal(idleWhere(60, 100, 10, 95), "waits between tasks");
  // A tie goes to the earlier.
  assert.equal(idleWhere(60, 100, 30, 70), "start-up");
});
