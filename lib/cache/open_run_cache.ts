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
import { baseDir, cacheDirOf, isAbsolutePath, type NoOpHit, noOpResults } from "./_no_op.ts";
import type { NoOpRecordRun } from "./_no_op_record_writer.ts";

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
    const cacheDir = cacheDirOf(module, options.dir);
    const hit = await noOpResults(cacheDir, module, planned, args);
    if (hit === undefined) {
      // The full path below writes the command's record, when it should.
    } else if (options.commandTargets === undefined || hit.snapshot.codeFiles === undefined) {
      return new NoOpCache(hit.results);
    } else {
      // The command's fast path did not answer: its record is missing or
      // out of date, and this run writes it.
      const { writeNoOpRecord } = await import("./_no_op_record_writer.ts");
      const base = baseDir(module);
      const prefix = base.endsWith(SEP) ? base : base + SEP;
      const record: NoOpRecordRun = {
        module,
        cacheDir,
        targets: options.commandTargets,
        args,
        planned,
        snapshot: hit.snapshot,
        codeFiles: hit.snapshot.codeFiles.map((path) =>
          isAbsolutePath(path) ? path : prefix + path
        ),
      };
      return new NoOpCache(hit.results, () => writeNoOpRecord(record));
    }
  }
  const { TaskCache } = await import("./task_cache.ts");
  return await TaskCache.open(module, args, options);
}

const SEP = Deno.build.os === "windows" ? "\\" : "/";

/** Every planned task is a hit, with the result the snapshot holds. */
class NoOpCache implements RunCache {
  #results: ReadonlyMap<string, unknown>;
  #onFlush: (() => void) | undefined;

  constructor(results: NoOpHit["results"], onFlush?: () => void) {
    this.#results = results;
    this.#onFlush = onFlush;
  }

  check(task: Task): CacheDecision {
    if (!this.#results.has(task.name)) {
      // Not a planned task: the snapshot was for the plan, so this is a bug.
      throw new Error(`The no-op cache has no task "${task.name}"`);
    }
    return { hit: true, why: "cached", result: this.#results.get(task.name) };
  }

  save(): void {}

  flush(): void {
    this.#onFlush?.();
  }
}
