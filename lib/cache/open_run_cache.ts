/**
 * A run's cache, opened the cheap way first: when the run's no-op snapshot
 * (see `_no_op.ts`) says nothing changed since a run of the same tasks,
 * every task is a hit from it, and the full cache (`task_cache.ts`: the
 * index, entries, hashing, `node:crypto`) is not even loaded.
 *
 * @module
 */

import type { Task } from "../declare/define.ts";
import type { CacheDecision, CacheOptions } from "./task_cache.ts";
import { cacheDirOf, noOpResults } from "./_no_op.ts";

/** What a run asks of its cache. */
export interface RunCache {
  /** Whether a task runs: a hit gives its result. */
  check(task: Task, deps: Record<string, unknown>): CacheDecision;
  /** Stores what a task produced. */
  save(task: Task, decision: CacheDecision, result: unknown): void;
  /** Writes what the run learnt, once it is over. */
  flush(planned?: readonly Task[]): void;
}

/**
 * Opens the cache for a run.
 *
 * @param module The task module's `file:` URL.
 * @param args The run's arguments.
 * @param options Folder, bound, `force`, warnings.
 * @param planned The planned tasks, in order.
 * @returns The run's cache.
 */
export async function openRunCache(
  module: string,
  args: readonly string[],
  options: CacheOptions,
  planned: readonly Task[],
): Promise<RunCache> {
  if (options.force !== true && options.readOnly !== true) {
    const results = await noOpResults(cacheDirOf(module, options.dir), module, planned, args);
    if (results !== undefined) return new NoOpCache(results);
  }
  const { TaskCache } = await import("./task_cache.ts");
  return await TaskCache.open(module, args, options);
}

/** Every planned task is a hit, with the result the snapshot holds. */
class NoOpCache implements RunCache {
  #results: ReadonlyMap<string, unknown>;

  constructor(results: ReadonlyMap<string, unknown>) {
    this.#results = results;
  }

  check(task: Task): CacheDecision {
    if (!this.#results.has(task.name)) {
      // Not a planned task: the snapshot was for the plan, so this is a bug.
      throw new Error(`The no-op cache has no task "${task.name}"`);
    }
    return { hit: true, why: "cached", result: this.#results.get(task.name) };
  }

  save(): void {}

  flush(): void {}
}
