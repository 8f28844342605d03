import assert from "node:assert/strict";
import { Deadline } from "../lib/run/_deadline.ts";

Deno.test("Deadline follows the run's signal with one listener however many attempts share it", () => {
  const run = new AbortController();
  let listeners = 0;
  const add = run.signal.addEventListener.bind(run.signal);
  run.signal.addEventListener = ((...args: Parameters<typeof add>) => {
    listeners++;
    return add(...args);
  }) as typeof add;

  const deadlines = Array.from(
    { length: 1000 },
    () => new Deadline(run.signal, undefined, () => 0),
  );
  const released = deadlines.pop()!;
  released[Symbol.dispose]();
  assert.equal(listeners, 1);

  const reason = new Error("run stopped");
  run.abort(reason);
  for (const deadline of deadlines) assert.equal(deadline.signal.reason, reason);
  assert.equal(released.signal.aborted, false, "a disposed attempt no longer follows the run");
  for (const deadline of deadlines) deadline[Symbol.dispose]();
});

Deno.test("Deadline on an already aborted run starts aborted with the run's reason", () => {
  const run = new AbortController();
  run.abort("stopped");
  using deadline = new Deadline(run.signal, 1000, () => "timeout");
  assert.equal(deadline.signal.reason, "stopped");
  assert.equal(deadline.timedOut, false);
});
