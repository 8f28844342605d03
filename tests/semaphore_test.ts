import assert from "node:assert/strict";
import { Semaphore } from "../mod.ts";

Deno.test("Semaphore admits at most its permits at once and the next waiter on release", async () => {
  const semaphore = new Semaphore(2);
  const holders: Array<() => void> = [];
  let active = 0;
  let most = 0;
  const tasks = Array.from({ length: 5 }, async () => {
    using _permit = await semaphore.acquire();
    most = Math.max(most, ++active);
    await new Promise<void>((resolve) => holders.push(resolve));
    active--;
  });
  await Promise.resolve();
  assert.equal(active, 2);
  assert.equal(semaphore.waiting, 3);
  holders.shift()!();
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(active, 2, "the freed permit went straight to a waiter");
  assert.equal(semaphore.waiting, 2);
  while (holders.length > 0 || semaphore.waiting > 0) {
    holders.shift()?.();
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  await Promise.all(tasks);
  assert.equal(most, 2);
  assert.equal(semaphore.available, 2);
});

Deno.test("Semaphore permits release once, so the count never exceeds its permits", () => {
  const semaphore = new Semaphore(1);
  const permit = semaphore.tryAcquire()!;
  permit.release();
  permit.release();
  assert.equal(semaphore.available, 1);
});

Deno.test("Semaphore.tryAcquire fails when no permit is free", () => {
  const semaphore = new Semaphore(1);
  const permit = semaphore.tryAcquire();
  assert.ok(permit !== undefined);
  assert.equal(semaphore.tryAcquire(), undefined);
  permit[Symbol.dispose]();
  assert.equal(semaphore.available, 1);
});

Deno.test("aborting a Semaphore wait removes the waiter", async () => {
  const semaphore = new Semaphore(1);
  const permit = semaphore.tryAcquire()!;
  const controller = new AbortController();
  const waiting = semaphore.acquire({ signal: controller.signal });
  const after = semaphore.acquire();
  controller.abort(new Error("stop"));
  await assert.rejects(waiting, { message: "stop" });
  permit.release();
  const next = await after;
  assert.equal(semaphore.available, 0);
  next.release();
  assert.equal(semaphore.available, 1);
});

Deno.test("Semaphore rejects a permit count that is not a positive integer", () => {
  assert.throws(
    () => new Semaphore(0),
    new RangeError(
      "Cannot create semaphore as 'permits' must be a positive integer: current value is 0",
    ),
  );
});
