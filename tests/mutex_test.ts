import assert from "node:assert/strict";
import { Mutex } from "../mod.ts";

/** Ten concurrent deposits whose read and write are split by an await. */
async function depositTen(lock: Mutex | undefined): Promise<number> {
  const account = { balance: 0 };
  await Promise.all(Array.from({ length: 10 }, async () => {
    using _held = lock === undefined ? undefined : await lock.lock();
    const balance = account.balance;
    await Promise.resolve();
    account.balance = balance + 1;
  }));
  return account.balance;
}

Deno.test("without a lock, concurrent async read-modify-writes lose updates", async () => {
  assert.equal(await depositTen(undefined), 1);
});

Deno.test("Mutex keeps concurrent async read-modify-writes whole", async () => {
  assert.equal(await depositTen(new Mutex()), 10);
});

Deno.test("Mutex hands the lock to waiters in arrival order", async () => {
  const mutex = new Mutex();
  const first = mutex.tryLock()!;
  const order: string[] = [];
  const waiters = ["a", "b", "c"].map(async (name) => {
    using _held = await mutex.lock();
    order.push(name);
  });
  assert.equal(mutex.waiting, 3);
  first.release();
  await Promise.all(waiters);
  assert.deepEqual(order, ["a", "b", "c"]);
  assert.equal(mutex.locked, false);
});

Deno.test("Mutex.tryLock fails while the lock is held and releasing twice is harmless", () => {
  const mutex = new Mutex();
  const held = mutex.tryLock();
  assert.ok(held !== undefined);
  assert.equal(mutex.tryLock(), undefined);
  held.release();
  held.release();
  const again = mutex.tryLock();
  assert.ok(again !== undefined);
  assert.equal(mutex.tryLock(), undefined, "a second release must not free the lock twice");
  again.release();
});

Deno.test("using releases the Mutex when its block throws", async () => {
  const mutex = new Mutex();
  await assert.rejects(async () => {
    using _held = await mutex.lock();
    throw new Error("inside");
  }, { message: "inside" });
  assert.equal(mutex.locked, false);
});

Deno.test("aborting a Mutex wait leaves the queue and throws the reason", async () => {
  const mutex = new Mutex();
  const held = mutex.tryLock()!;
  const controller = new AbortController();
  const waiting = mutex.lock({ signal: controller.signal });
  controller.abort(new Error("gave up"));
  await assert.rejects(waiting, { message: "gave up" });
  assert.equal(mutex.waiting, 0);
  held.release();
  assert.equal(mutex.locked, false, "the lock is not handed to the aborted waiter");
});
