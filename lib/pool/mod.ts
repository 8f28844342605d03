/**
 * The one worker pool and its worker side. Every task runs in a sandbox holding exactly its
 * declared permissions: a Web Worker inside a host process of its own (`"process"` isolation, the
 * default) or in this process (`"worker"`). cpu tasks get slots, io tasks a host per permission
 * set, and a cpu executor's calls get slots too (in-process workers keyed by the module they call
 * into): one pool, one protocol, one worker entry (`worker_main.ts`). The worker side
 * (`worker_main.ts`, `_call_server.ts`, `_worker_guard.ts`, `_host_main.ts`) imports nothing above
 * the protocol (`_protocol.ts`).
 *
 * @module
 */

export { transfer } from "./transfer.ts";
export type { TransferableBuffer } from "./transfer.ts";
export { ItemError, WorkerCrashError, WorkerPool } from "./worker_pool.ts";
export type {
  ChunkResult,
  CpuChunk,
  CpuResult,
  CpuRunOptions,
  IoResult,
  Isolation,
  WarmDemand,
  WorkerPoolOptions,
} from "./worker_pool.ts";
