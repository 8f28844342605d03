import assert from "node:assert/strict";
import { CpuExecutor, moduleFunction } from "../mod.ts";

// Messages to an in-process worker go out once per tick, as one array.

const source = "export const same = (x) => x; export const size = (b) => b.byteLength;";
const MODULE = `data:application/javascript,${encodeURIComponent(source)}`;
const same = moduleFunction<(x: unknown) => unknown>(MODULE, "same");
const size = moduleFunction<(b: ArrayBuffer) => number>(MODULE, "size");

Deno.test("calls submitted in one tick all run, in order, and one that cannot be sent fails alone", async () => {
  await using pool = new CpuExecutor({ maxWorkers: 1 });
  const futures = Array.from({ length: 20 }, (_, i) => pool.submit(same, i === 7 ? () => i : i));
  const settled = await Promise.allSettled(futures);
  for (const [i, result] of settled.entries()) {
    if (i === 7) {
      assert.equal(result.status, "rejected");
      assert.match(String((result as PromiseRejectedResult).reason), /not structured-cloneable/);
    } else {
      assert.deepEqual(result, { status: "fulfilled", value: i });
    }
  }
});

Deno.test("a buffer submitted with transfer is moved at once, after the calls queued before it", async () => {
  await using pool = new CpuExecutor({ maxWorkers: 1 });
  await pool.submit(same, "the worker is up");
  const before = pool.submit(same, "first");
  const buffer = new ArrayBuffer(64);
  const moved = pool.submit(size, buffer, { transfer: [buffer] });
  assert.equal(buffer.byteLength, 0, "detached as submit returns");
  assert.deepEqual(await Promise.all([before, moved]), ["first", 64]);
});
