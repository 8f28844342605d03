/**
 * Many machines: a run's cpu tasks on `spool worker` processes, through a
 * NATS JetStream server. The run keeps the graph; cpu tasks, shard chunks and
 * shard steps become messages on a work-queue stream that workers pull, run
 * in their own sandboxed pools, and answer. Delivery is at least once: a
 * task may run again after a worker died holding it, and its result counts
 * once.
 *
 * This is a separate entry point (`@spool/spool/remote`) so that the task
 * modules sandboxes import never load the NATS client.
 *
 * - {@linkcode NatsLane}: the cpu lane to pass to `run()` as `cpuLane`.
 * - {@linkcode runWorker}: what `spool worker` runs.
 *
 * @example Run a task file's cpu tasks on workers
 * ```ts ignore
 * import { run } from "@spool/spool";
 * import { NatsLane } from "@spool/spool/remote";
 * import tasks from "./tasks.ts";
 *
 * const lane = await NatsLane.connect("nats://127.0.0.1:4222", {
 *   module: new URL("./tasks.ts", import.meta.url).href,
 * });
 * try {
 *   const report = await run(tasks, { cpuLane: lane });
 *   console.log(report.workerNames);
 * } finally {
 *   await lane.close();
 * }
 * ```
 *
 * @module
 */

export { NatsLane } from "./nats_lane.ts";
export type { NatsLaneOptions } from "./nats_lane.ts";
export { DEFAULT_ACK_WAIT_MS, DEFAULT_MAX_DELIVERIES, runWorker } from "./worker.ts";
export type { WorkerOptions } from "./worker.ts";
// The types the two name, as the main entry point exports them.
export type { CpuLane } from "../run/scheduler.ts";
export type {
  ChunkResult,
  CpuChunk,
  CpuResult,
  CpuRunOptions,
  Isolation,
  WarmDemand,
} from "../pool/worker_pool.ts";
export type { PermissionName, Permissions, PermissionValue } from "../declare/permissions.ts";
export type { TextSink } from "../report/plain.ts";
