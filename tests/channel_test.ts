import assert from "node:assert/strict";
import { Channel, ChannelClosedError } from "../mod.ts";

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("Channel.send waits while the channel is full and resumes on receive", async () => {
  const channel = new Channel<number>(2);
  await channel.send(1);
  await channel.send(2);
  let third = false;
  const sending = channel.send(3).then(() => third = true);
  await tick();
  assert.equal(third, false);
  assert.equal(channel.size, 2);
  assert.deepEqual(await channel.receive(), { value: 1, done: false });
  await sending;
  assert.equal(channel.size, 2);
});

Deno.test("a producer and a consumer never hold more than the channel's capacity in between", async () => {
  const channel = new Channel<number>(3);
  let sent = 0;
  let received = 0;
  let most = 0;
  const producer = (async () => {
    for (let n = 0; n < 100; n++) {
      await channel.send(n);
      sent++;
      most = Math.max(most, sent - received);
    }
    channel.close();
  })();
  const values: number[] = [];
  for await (const n of channel) {
    received++;
    values.push(n);
    if (n % 10 === 0) await tick(); // a slow consumer
  }
  await producer;
  assert.deepEqual(values, Array.from({ length: 100 }, (_, n) => n));
  assert.ok(most <= 3 + 1, `the producer ran ${most} ahead`);
});

Deno.test("a closed channel drains, then ends every loop over it and refuses sends", async () => {
  const channel = new Channel<string>(4);
  await channel.send("a");
  await channel.send("b");
  channel.close();
  await assert.rejects(channel.send("c"), ChannelClosedError);
  assert.throws(() => channel.trySend("c"), ChannelClosedError);
  assert.deepEqual(await Array.fromAsync(channel), ["a", "b"]);
  assert.deepEqual(await channel.receive(), { value: undefined, done: true });
  await channel.finished;
});

Deno.test("closing a channel fails the sends that wait and wakes the receivers", async () => {
  const full = new Channel<number>(0);
  const waiting = full.send(1);
  const empty = new Channel<number>(1);
  const receiving = empty.receive();
  full.close();
  empty.close();
  await assert.rejects(waiting, ChannelClosedError);
  assert.deepEqual(await receiving, { value: undefined, done: true });
});

Deno.test("a channel of capacity 0 hands each value from sender to receiver", async () => {
  const channel = new Channel<number>(0);
  let delivered = false;
  const sending = channel.send(7).then(() => delivered = true);
  await tick();
  assert.equal(delivered, false);
  assert.deepEqual(await channel.receive(), { value: 7, done: false });
  await sending;
  assert.equal(delivered, true);
});

Deno.test("each value goes to exactly one of several consumers", async () => {
  const channel = new Channel<number>(2);
  const consumer = async () => {
    const got: number[] = [];
    for await (const n of channel) {
      got.push(n);
      await tick();
    }
    return got;
  };
  const consumers = [consumer(), consumer(), consumer()];
  for (let n = 0; n < 30; n++) await channel.send(n);
  channel.close();
  const all = (await Promise.all(consumers)).flat().sort((a, b) => a - b);
  assert.deepEqual(all, Array.from({ length: 30 }, (_, n) => n));
});

Deno.test("an aborted send is not delivered and an aborted receive takes nothing", async () => {
  const channel = new Channel<number>(0);
  const controller = new AbortController();
  const send = channel.send(1, { signal: controller.signal });
  controller.abort(new Error("stop"));
  await assert.rejects(send, { message: "stop" });
  assert.equal(channel.tryReceive(), undefined);

  const receiver = new AbortController();
  const receive = channel.receive({ signal: receiver.signal });
  receiver.abort(new Error("stop"));
  await assert.rejects(receive, { message: "stop" });
  assert.equal(channel.trySend(2), false, "no receiver is left waiting");
});

Deno.test("Channel rejects a capacity that is negative or fractional", () => {
  assert.throws(() => new Channel(-1), RangeError);
  assert.throws(() => new Channel(1.5), RangeError);
  assert.equal(new Channel(Infinity).trySend(1), true);
});
