/**
 * Small helpers shared by the benchmark sections: timing, medians,
 * percentiles.
 *
 * @module
 */

/**
 * The median of some samples.
 *
 * @param samples At least one number.
 * @returns The middle value (the upper one of two).
 */
export function median(samples: readonly number[]): number {
  const sorted = samples.toSorted((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/**
 * A percentile of some samples.
 *
 * @param samples At least one number.
 * @param q The quantile, from 0 to 1.
 * @returns The sample at that quantile.
 */
export function percentile(samples: readonly number[], q: number): number {
  const sorted = samples.toSorted((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))];
}

/**
 * Times `fn` `repeat` times and keeps the median.
 *
 * @param repeat How many runs.
 * @param fn The work.
 * @returns The median time, in ms.
 */
export async function timeMedian(repeat: number, fn: () => unknown): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < repeat; i++) {
    const start = performance.now();
    await fn();
    samples.push(performance.now() - start);
  }
  return median(samples);
}
