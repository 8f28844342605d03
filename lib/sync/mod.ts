/**
 * Coordination primitives: `Mutex`, `Semaphore` and `Channel` for async code; `SharedLock` and
 * `WorkerChannel` for workers, over shared memory.
 *
 * @module
 */

export { Mutex } from "./mutex.ts";
export { Semaphore } from "./semaphore.ts";
export type { AcquireOptions, LockGuard } from "./semaphore.ts";
export { Channel, ChannelClosedError } from "./channel.ts";
export type { ChannelOptions } from "./channel.ts";
export { SharedLock } from "./shared_lock.ts";
export { WorkerChannel } from "./worker_channel.ts";
