/**
 * Sum of squares, sharded over every worker: the background texts'
 * `sum(i * i for i in range(10**7))`, exact (a `bigint`), with the range
 * split into chunks that every worker maps and sums, then one sum of the
 * chunks' sums.
 *
 *     deno run --unstable-worker-options --no-prompt --allow-read=. tasks/squares.ts squares
 *
 * (Workers load the task file and spool itself, which needs read access to them.)
 *
 * @module
 */

import { cpu, defineTasks, main } from "../mod.ts";

/** How many numbers to square: `range(10**7)`. */
const COUNT = 10_000_000;

export default defineTasks({
  squares: cpu({
    description: "sum(i * i for i in range(10**7)), exact, sharded over every worker",
    // A typed array goes to the workers in chunks that move rather than copy.
    items: () => {
      const numbers = new Int32Array(COUNT);
      for (let i = 0; i < COUNT; i++) numbers[i] = i;
      return numbers;
    },
    // i * i stays below 2**53, so only the running sum needs a bigint.
    map: (i) => BigInt(i * i),
    reduce: (a, b) => a + b,
    initial: 0n,
  }),
});

if (import.meta.main) await main(import.meta.url);
