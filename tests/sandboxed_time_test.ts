import assert from "node:assert/strict";
import { defineTasks, io } from "../mod.ts";
import { Execution, type IoHostRun } from "../lib/run/_execution.ts";
import { IoLane } from "../lib/run/io_lane.ts";

const noop = () => {};
const reporter = {
  runStart: noop,
  taskStart: noop,
  taskOutput: noop,
  taskProgress: noop,
  taskRetry: noop,
  taskEnd: noop,
  runEnd: noop,
};

Deno.test("A sandboxed io task that began before the runner read its host's ready reports its body's whole time", async () => {
  // Sent to a host still starting: the body runs there 60 ms, and the host's
  // `ready` (its start, as far as the runner knows) is read only as the
  // result comes in. The task reported about 0 ms, its start clamped to that
  // late `ready`; it is its body's 60 ms.
  const tasks = defineTasks({ t: io({ run: () => 1 }) });
  const host: IoHostRun = (_task, _deps, _abort, options) =>
    void setTimeout(() => {
      options.onStart?.(-1);
      options.ioDone({ value: 1, worker: -1, ms: 60 });
    }, 80);
  const execution = new Execution([...tasks.tasks.values()], {
    ioLane: new IoLane(4),
    cpuLane: undefined,
    ioHost: host,
    args: [],
    mainGuard: undefined,
    keepGoing: false,
    timeout: undefined,
    signal: undefined,
    reporter,
    captureOutput: false,
    t0: performance.now(),
  });
  const { reports } = await execution.done;
  assert.equal(reports[0].status, "ok");
  assert.ok(
    reports[0].durationMs >= 59.9 && reports[0].durationMs < 80,
    `reported ${reports[0].durationMs} ms for a 60 ms body`,
  );
});
