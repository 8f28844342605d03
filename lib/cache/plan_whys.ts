/**
 * `spool run --dry-run` (cache on): why each planned task would run, or that
 * the cache has it, decided without running, restoring or writing anything.
 *
 * @module
 */

import type { TaskSet } from "../declare/define.ts";
import type { RunPlan } from "../report/reporter.ts";
import { type CacheOptions, TaskCache } from "./task_cache.ts";

/**
 * The `why` of each task of a plan.
 *
 * @param tasks The task set.
 * @param plan Its plan.
 * @param module The task module's `file:` URL.
 * @param args The run's arguments.
 * @param options The cache's folder and `force`.
 * @returns `cached` or a reason, by task name.
 */
export async function planWhys(
  tasks: TaskSet,
  plan: RunPlan,
  module: string,
  args: readonly string[],
  options: CacheOptions,
): Promise<Map<string, string>> {
  const cache = await TaskCache.open(module, args, { ...options, readOnly: true });
  const results = new Map<string, unknown>();
  const whys = new Map<string, string>();
  for (const planned of plan.tasks) {
    const task = tasks.tasks.get(planned.name)!;
    const running = task.deps.find((dep) => !results.has(dep));
    if (running !== undefined) {
      whys.set(task.name, `runs if dependency ${running} returns a new result`);
      continue;
    }
    const deps: Record<string, unknown> = {};
    for (const dep of task.deps) deps[dep] = results.get(dep);
    const decision = cache.check(task, deps);
    whys.set(task.name, decision.why);
    if (decision.hit) results.set(task.name, decision.result);
  }
  return whys;
}
