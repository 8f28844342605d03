/**
 * The task file the benchmarks run through spool: eight long cpu tasks of
 * each kind, a sharded tiny-item task, and small tasks for the pool's
 * round-trip and data-movement figures. Sizes come in through the `params`
 * io task, which the benchmark sets before each run.
 *
 * @module
 */

import { cpu, defineTasks, io, main, type TaskDefinition, transfer } from "../mod.ts";
import { sumSquaresBig, sumSquaresNumber, tiny } from "./_work.ts";

/** What the benchmark sets before a run. */
export interface Params {
  /** Loop length of each bigint task. */
  bigN: number;
  /** Loop length of each Number task. */
  numberN: number;
  /** The tiny items, built before the timed region. */
  items: number[];
}

const params: Params = { bigN: 0, numberN: 0, items: [] };

/**
 * Sets the sizes for the next run.
 *
 * @param next The sizes.
 */
export function setParams(next: Params): void {
  Object.assign(params, next);
}

/** How many long tasks each cpu benchmark runs. */
export const LONG_TASKS = 8;

const long: Record<string, TaskDefinition<unknown, never>> = {};
for (let i = 0; i < LONG_TASKS; i++) {
  long[`big${i}`] = cpu({
    deps: ["params"],
    run: ({ deps }) => sumSquaresBig((deps.params as Params).bigN),
  });
  long[`number${i}`] = cpu({
    deps: ["params"],
    run: ({ deps }) => sumSquaresNumber((deps.params as Params).numberN),
  });
}

/**
 * The run's arguments for the sizes: io bodies and items functions run in
 * sandbox processes, where this module's state set by `setParams` is not
 * seen, so the sizes travel as `RunOptions.args`.
 *
 * @param next The sizes.
 * @returns `args` for `run()`.
 */
export function paramArgs(next: Params): string[] {
  return [String(next.bigN), String(next.numberN), String(next.items.length)];
}

export default defineTasks({
  // Trusted: the sizes are the bench's own input, not work to measure; a
  // sandbox for them would add a host's start to every cpu figure.
  params: io({
    trusted: true,
    run: ({ args }) =>
      args.length >= 2
        ? { bigN: Number(args[0]), numberN: Number(args[1]) }
        : { bigN: params.bigN, numberN: params.numberN },
  }),
  ...long,
  tiny: cpu({
    items: ({ args }) =>
      args.length >= 3 ? Array.from({ length: Number(args[2]) }, (_, i) => i) : params.items,
    map: tiny,
  }),
  noop: cpu({ run: () => 0 }),
  length: cpu({ run: ({ deps }) => (deps.bytes as Uint8Array).byteLength }),
  bytes: cpu({
    run: ({ deps }) => {
      const bytes = new Uint8Array(deps.size as number);
      return deps.transfer ? transfer(bytes) : bytes;
    },
  }),
});

if (import.meta.main) await main(import.meta.url);
