/**
 * Incremental runs: the task cache. A task's fingerprint (its code, spool's
 * version, the run's arguments, its env variables, its input files' sha256
 * with a size + mtime + inode fast path, its dependencies' results) names an
 * entry holding its result and output files; on a hit the task is not run.
 * Files are sealed by their checksum and written atomically, the index is
 * read once per run, and the folder is bounded with least-recently-used
 * eviction. `run(tasks, { cache: true })` uses it, and `spool run` by default;
 * see README, "Incremental runs".
 *
 * @module
 */

export { defaultCacheDir, TaskCache, uncacheableReason, whyChanged } from "./task_cache.ts";
export type { CacheDecision, CacheOptions } from "./task_cache.ts";
export { CacheStore, DEFAULT_CACHE_MAX, restoreFile } from "./cache_store.ts";
export type {
  CacheEntry,
  CacheInfo,
  FingerprintParts,
  OutputFile,
  TaskRecord,
} from "./cache_store.ts";
export { planWhys } from "./plan_whys.ts";
export { isWithin, watchRoots } from "./watch_roots.ts";
export { formatBytes } from "./format_bytes.ts";
