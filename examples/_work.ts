/**
 * The functions the examples run in workers. A worker imports this module
 * by URL, so it does no work at import time.
 *
 * @module
 */

import { SharedLock } from "../lib/sync/shared_lock.ts";
import { WorkerChannel } from "../lib/sync/worker_channel.ts";

/** Python's `sum(i * i for i in range(10**7))`, exactly: about a second of cpu. */
export function heavySquareCalculation(number: number): bigint {
  console.log(`Process ${number} starts...`);
  let result = 0n;
  for (let i = 0n; i < 10_000_000n; i++) result += i * i;
  console.log(`Process ${number} finished.`);
  return result;
}

/** Does nothing: calling it starts a worker, to time start-up apart from work. */
export function ready(): boolean {
  return true;
}

/** Python's `time.sleep(1); return f"Task {n} finished"`, without blocking. */
export async function task(n: number): Promise<string> {
  await new Promise((resolve) => setTimeout(resolve, 1000));
  return `Task ${n} finished`;
}

/** What {@linkcode addToCounter} receives. */
export interface CounterInput {
  /** One Int32 cell shared by every worker. */
  counter: SharedArrayBuffer;
  /** How many increments to make. */
  times: number;
  /** A SharedLock's buffer, or nothing to go without a lock. */
  lock?: SharedArrayBuffer;
}

let sink = 0;

/** Adds 1 to a shared counter `times` times: read, a little work, write. */
export function addToCounter({ counter, times, lock }: CounterInput): void {
  const cell = new Int32Array(counter);
  const mutex = lock === undefined ? undefined : new SharedLock(lock);
  for (let i = 0; i < times; i++) {
    using _held = mutex?.lock();
    const value = Atomics.load(cell, 0);
    for (let k = 0; k < 50; k++) sink = (sink + k * value) | 0;
    Atomics.store(cell, 0, value + 1);
  }
}

/** Squares the numbers it receives on `jobs` and sends them on `results`. */
export async function squareWorker(
  { jobs, results }: { jobs: MessagePort; results: MessagePort },
): Promise<number> {
  const input = new WorkerChannel<number>(jobs);
  using output = new WorkerChannel<string>(results);
  let count = 0;
  for await (const n of input) {
    await output.send(`${n}² = ${n * n} (${(globalThis as { name?: string }).name})`);
    count++;
  }
  return count;
}
