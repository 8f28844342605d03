/**
 * Running a graph: `run()` plans the selected tasks, checks permissions, and drives them through
 * the io lane and the cpu lane; the execution of each task (deadlines, retries, fail-fast,
 * cancellation, late faults); the io lane; sharding; and the plan that `--dry-run` prints.
 *
 * @module
 */

export { DEFAULT_CONCURRENCY, run } from "./scheduler.ts";
export type { CpuLane, RunOptions } from "./scheduler.ts";
export { IoLane } from "./io_lane.ts";
export type { IoRunOptions } from "./io_lane.ts";
export { formatPlan, planFlags, planRun, planToJson } from "./plan.ts";
export type { PlanJson, PlanOptions } from "./plan.ts";
