/**
 * The task file of the memory and start-up figures (bench/_memory.ts,
 * bench/_startup.ts), on the light entry as a task file should be: a cpu
 * task that keeps a worker busy for a moment, so that a pool's every worker
 * takes one, and a trusted io task for a small `spool run`.
 *
 * @module
 */

import { cpu, defineTasks, io } from "../declare.ts";

/** The tasks. */
const tasks: ReturnType<typeof defineTasks> = defineTasks({
  spin: cpu({
    description: "Keep a worker busy for 50 ms",
    run: () => {
      const end = Date.now() + 50;
      while (Date.now() < end);
      return 0;
    },
  }),
  hello: io({ description: "Say hello on the runner's thread", trusted: true, run: () => "hello" }),
});
export default tasks;
