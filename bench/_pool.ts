/**
 * The worker pool's own paths: start, the round trip of a tiny task to a
 * warm worker (against the floor, a bare Worker echoing postMessage), and
 * the main thread's cost of handing a 64 MiB buffer to a cpu task.
 *
 * @module
 */

import { transfer, WorkerPool } from "../mod.ts";

// These rows set the pool against a bare Worker and Piscina, which run in
// this process: in-process workers ("worker" isolation). What a sandbox host
// process adds is measured in bench/_sandbox.ts.
import { median, percentile } from "./_stats.ts";

const MODULE = new URL("./_tasks.ts", import.meta.url).href;

/** Latency percentiles, in µs. */
export interface Latency {
  /** Median. */
  p50Us: number;
  /** 99th percentile. */
  p99Us: number;
}

async function latency(count: number, once: () => Promise<unknown>): Promise<Latency> {
  for (let i = 0; i < 500; i++) await once();
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    await once();
    samples.push((performance.now() - start) * 1000);
  }
  return { p50Us: percentile(samples, 0.5), p99Us: percentile(samples, 0.99) };
}

/**
 * Round trips of the `noop` task through a warm one-worker pool.
 *
 * @param count How many round trips to time.
 * @returns Their p50 and p99.
 */
export async function spoolRoundTrip(count: number): Promise<Latency> {
  using pool = new WorkerPool(MODULE, { size: 1, isolation: "worker" });
  return await latency(count, () => pool.run("noop", {}));
}

/**
 * Round trips of a bare Worker that echoes each message: what any pool on
 * this runtime and machine pays at least.
 *
 * @param count How many round trips to time.
 * @returns Their p50 and p99.
 */
export async function echoRoundTrip(count: number): Promise<Latency> {
  const source = "self.onmessage = (e) => self.postMessage(e.data);";
  const worker = new Worker(`data:application/javascript,${encodeURIComponent(source)}`, {
    type: "module",
  });
  try {
    let resolve!: (value: unknown) => void;
    worker.onmessage = (event) => resolve(event.data);
    return await latency(count, () =>
      new Promise((r) => {
        resolve = r;
        worker.postMessage({ type: "run", id: 0, task: "noop", deps: {} });
      }));
  } finally {
    worker.terminate();
  }
}

/**
 * Time from a new pool to `workers` tiny tasks done: workers spawned, the
 * task module loaded in each, one round trip.
 *
 * @param workers Pool size.
 * @param repeat Repetitions; the median is kept.
 * @returns The median time, in ms.
 */
export async function poolStart(workers: number, repeat: number): Promise<number> {
  const samples: number[] = [];
  for (let r = 0; r < repeat; r++) {
    const start = performance.now();
    using pool = new WorkerPool(MODULE, { size: workers, isolation: "worker" });
    await Promise.all(Array.from({ length: workers }, () => pool.run("noop", {})));
    samples.push(performance.now() - start);
  }
  return median(samples);
}

/** Main-thread cost of handing 64 MiB to a cpu task, in ms. */
export interface HandOff {
  /** An `ArrayBuffer` marked with `transfer()`. */
  transferMs: number;
  /** A view on a `SharedArrayBuffer`. */
  sharedMs: number;
  /** An unmarked buffer, copied by structured clone. */
  copyMs: number;
  /** Round trip of a task returning 64 MiB marked with `transfer()`. */
  backTransferMs: number;
  /** Round trip of a task returning 64 MiB unmarked. */
  backCopyMs: number;
}

/**
 * The time `pool.run()` blocks the main thread when its dependencies hold a
 * 64 MiB buffer: the call, and the microtask in which a message with nothing
 * to move is posted (an in-process worker's messages of one tick go as one),
 * which is where an unmarked buffer is copied.
 *
 * @param repeat Repetitions; the medians are kept.
 * @returns The cost by kind of buffer.
 */
export async function handOff(repeat: number): Promise<HandOff> {
  const size = 64 * 1024 * 1024;
  using pool = new WorkerPool(MODULE, { size: 1, isolation: "worker" });
  await pool.run("noop", {});
  const time = async (make: () => Uint8Array): Promise<number> => {
    const samples: number[] = [];
    for (let r = 0; r < repeat; r++) {
      const bytes = make();
      const start = performance.now();
      const done = pool.run("length", { bytes });
      // Queued after the pool's own flush, so it runs once the message is posted.
      await new Promise<void>((resolve) => queueMicrotask(resolve));
      samples.push(performance.now() - start);
      if ((await done).value !== size) throw new Error("The buffer arrived with the wrong size");
    }
    return median(samples);
  };
  // The way back: the worker allocates either way, so the difference is the copy.
  const back = async (mark: boolean): Promise<number> => {
    const samples: number[] = [];
    for (let r = 0; r < repeat; r++) {
      const start = performance.now();
      const { value } = await pool.run("bytes", { size, transfer: mark });
      samples.push(performance.now() - start);
      if ((value as Uint8Array).byteLength !== size) throw new Error("The buffer came back wrong");
    }
    return median(samples);
  };
  return {
    transferMs: await time(() => transfer(new Uint8Array(size).fill(1))),
    sharedMs: await time(() => new Uint8Array(new SharedArrayBuffer(size)).fill(1)),
    copyMs: await time(() => new Uint8Array(size).fill(1)),
    backTransferMs: await back(true),
    backCopyMs: await back(false),
  };
}
