import assert from "node:assert/strict";
import { CpuExecutor, moduleFunction, SharedLock } from "../mod.ts";
import type * as counter from "./fixtures/executor/counter.ts";

const COUNTER = import.meta.resolve("./fixtures/executor/counter.ts");
const addMany = moduleFunction<typeof counter.addMany>(COUNTER, "addMany");
const holdLock = moduleFunction<typeof counter.holdLock>(COUNTER, "holdLock");
const TIMES = 100_000;

/** Two workers each add TIMES to one shared counter; returns the total. */
async function addTwice(lock: SharedLock | undefined): Promise<number> {
  await using pool = new CpuExecutor({ maxWorkers: 2 });
  const input = {
    counter: new SharedArrayBuffer(4),
    barrier: new SharedArrayBuffer(4),
    parties: 2,
    times: TIMES,
    lock: lock?.buffer,
  };
  await Promise.all([pool.submit(addMany, input), pool.submit(addMany, input)]);
  return new Int32Array(input.counter)[0];
}

Deno.test("without a lock, two workers lose updates to a shared counter", async () => {
  const total = await addTwice(undefined);
  assert.ok(total < 2 * TIMES, `expected lost updates, got all ${total}`);
});

Deno.test("SharedLock makes two workers' updates to a shared counter add up", async () => {
  assert.equal(await addTwice(new SharedLock()), 2 * TIMES);
});

Deno.test("lockAsync waits on the main thread while a worker holds the lock", async () => {
  await using pool = new CpuExecutor({ maxWorkers: 1 });
  const lock = new SharedLock();
  const gate = new Int32Array(new SharedArrayBuffer(8));
  const holding = pool.submit(holdLock, { lock: lock.buffer, gate });
  const keepAlive = setInterval(() => {}, 1000);
  while (Atomics.load(gate, 1) === 0) await Atomics.waitAsync(gate, 1, 0, 1000).value;
  clearInterval(keepAlive);

  assert.equal(lock.locked, true);
  assert.equal(lock.tryLock(), undefined);
  const controller = new AbortController();
  const abandoned = lock.lockAsync({ signal: controller.signal });
  controller.abort(new Error("not now"));
  await assert.rejects(abandoned, { message: "not now" });

  let acquired = false;
  const waiting = lock.lockAsync().then((guard) => {
    acquired = true;
    return guard;
  });
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(acquired, false);
  Atomics.store(gate, 0, 1);
  Atomics.notify(gate, 0);
  assert.equal(await holding, "released");
  const guard = await waiting;
  assert.equal(lock.locked, true);
  guard.release();
  assert.equal(lock.locked, false);
});

Deno.test("SharedLocks over the same bytes are the same lock", () => {
  const buffer = new SharedArrayBuffer(8);
  const a = new SharedLock(buffer, 4);
  const b = new SharedLock(buffer, 4);
  const other = new SharedLock(buffer, 0);
  const held = a.tryLock()!;
  assert.equal(b.tryLock(), undefined);
  assert.ok(other.tryLock() !== undefined);
  held.release();
  using _again = b.lock();
  assert.equal(a.locked, true);
});

Deno.test("SharedLock rejects an offset outside the buffer or not 4-aligned", () => {
  assert.throws(() => new SharedLock(new SharedArrayBuffer(4), 2), RangeError);
  assert.throws(() => new SharedLock(new SharedArrayBuffer(4), 4), RangeError);
});
