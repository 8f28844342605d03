/**
 * The benchmark workloads, as plain functions: the same bodies run serially
 * on the main thread, in spool's workers (bench/_tasks.ts), and, copied line
 * for line, in Piscina's workers (bench/peers/piscina_worker.mjs).
 *
 * @module
 */

/**
 * The background texts' `sum(i * i for i in range(n))`, exact: `i * i` stays
 * below 2**53 for n up to 9.4e7, so only the running sum needs a bigint.
 *
 * @param n How many numbers to square.
 * @returns The exact sum.
 */
export function sumSquaresBig(n: number): bigint {
  let sum = 0n;
  for (let i = 0; i < n; i++) sum += BigInt(i * i);
  return sum;
}

/**
 * The same sum in floating point: no allocation, a tight loop, the cost of
 * pure computation.
 *
 * @param n How many numbers to square.
 * @returns The (rounded) sum.
 */
export function sumSquaresNumber(n: number): number {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += i * i;
  return sum;
}

/**
 * The tiny per-item body of the throughput benchmark.
 *
 * @param x An item.
 * @returns `x * 2 + 1`.
 */
export function tiny(x: number): number {
  return x * 2 + 1;
}

/**
 * The `n` for which {@linkcode sumSquaresNumber} takes about `ms` on this
 * thread.
 *
 * @param ms The target time.
 * @returns The loop length.
 */
export function calibrateNumber(ms: number): number {
  sumSquaresNumber(1e6); // let the function be optimised first
  let n = 1e6;
  for (;;) {
    const start = performance.now();
    sumSquaresNumber(n);
    const took = performance.now() - start;
    if (took > 20) return Math.round(n * ms / took);
    n *= 4;
  }
}
