import assert from "node:assert/strict";
import { defineTasks, io, run } from "../mod.ts";

Deno.test("A trusted io task without a timeout gets a signal that aborts with the run, whenever it reads it", async () => {
  const cancel = new AbortController();
  const early = Promise.withResolvers<void>();
  const late = Promise.withResolvers<void>();
  const seen: Record<string, unknown> = {};
  const set = defineTasks({
    // Destructured at once: the signal is made before the run stops.
    early: io({
      trusted: true,
      run: async ({ signal }) => {
        early.resolve();
        await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
        seen.early = signal.reason;
        signal.throwIfAborted();
      },
    }),
    // Read only after the run stopped: the signal made then is aborted already.
    late: io({
      trusted: true,
      run: async (ctx) => {
        late.resolve();
        await new Promise((resolve) => setTimeout(resolve, 50));
        seen.late = ctx.signal.aborted ? ctx.signal.reason : "not aborted";
        const { $ } = ctx;
        seen.shell = typeof $;
        ctx.signal.throwIfAborted();
      },
    }),
  });
  const report = run(set, { signal: cancel.signal });
  await Promise.all([early.promise, late.promise]);
  const reason = new Error("user cancelled");
  cancel.abort(reason);
  const { tasks, cancelled } = await report;
  assert.equal(cancelled, "user cancelled");
  assert.equal((seen.early as Error).name, "AbortError");
  assert.equal(seen.late, seen.early, "both read the run's one abort reason");
  assert.equal(seen.shell, "function");
  assert.deepEqual(tasks.map((task) => task.status), ["cancelled", "cancelled"]);
});
