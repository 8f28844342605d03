import assert from "node:assert/strict";
import { Channel, CpuExecutor, moduleFunction, WorkerChannel } from "../mod.ts";
import type * as pipeline from "./fixtures/executor/pipeline.ts";

const PIPELINE = import.meta.resolve("./fixtures/executor/pipeline.ts");
const produce = moduleFunction<typeof pipeline.produce>(PIPELINE, "produce");
const consume = moduleFunction<typeof pipeline.consume>(PIPELINE, "consume");

Deno.test("values cross from a producer worker to consumer workers, each received exactly once", async () => {
  await using pool = new CpuExecutor({ maxWorkers: 3 });
  const channel = new Channel<number>(4);
  const consumers = [0, 1].map(() => {
    const port = WorkerChannel.connect(channel);
    return pool.submit(consume, port, { transfer: [port] });
  });
  const port = WorkerChannel.connect(channel);
  assert.equal(await pool.submit(produce, { port, from: 1, to: 200 }, { transfer: [port] }), 200);
  channel.close();
  const received = (await Promise.all(consumers)).flat().sort((a, b) => a - b);
  assert.deepEqual(received, Array.from({ length: 200 }, (_, i) => i + 1));
});

Deno.test("a full channel holds back a producer in a worker until the main thread receives", async () => {
  await using pool = new CpuExecutor({ maxWorkers: 1 });
  const channel = new Channel<number>(2);
  const port = WorkerChannel.connect(channel);
  const producing = pool.submit(produce, { port, from: 1, to: 10 }, { transfer: [port] });
  const first = await channel.receive();
  assert.deepEqual(first, { value: 1, done: false });
  assert.equal(producing.done, false, "8 values cannot fit in a channel of 2");
  const rest: number[] = [];
  for (let i = 0; i < 9; i++) rest.push((await channel.receive()).value!);
  assert.deepEqual(rest, [2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.equal(await producing, 10);
  channel.close();
});

Deno.test("a receive aborted on a WorkerChannel loses no value", async () => {
  const channel = new Channel<number>(1);
  const end = new WorkerChannel<number>(WorkerChannel.connect(channel));
  const controller = new AbortController();
  const aborted = end.receive({ signal: controller.signal });
  controller.abort(new Error("stop"));
  await assert.rejects(aborted, { message: "stop" });
  await channel.send(5);
  assert.deepEqual(await end.receive(), { value: 5, done: false });
  channel.close();
  assert.deepEqual(await end.receive(), { value: undefined, done: true });
});

Deno.test("a WorkerChannel refuses sends once the channel is closed", async () => {
  const channel = new Channel<number>(1);
  const end = new WorkerChannel<number>(WorkerChannel.connect(channel));
  end.close();
  await channel.finished;
  await assert.rejects(end.send(1), /closed/);
  assert.equal(channel.closed, true);
});
