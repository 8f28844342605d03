/**
 * A record of what a run has reported so far, kept by the CLI so that it can
 * still write the report file when it must exit before the run ends (a second
 * Ctrl-C): finished tasks keep their status and result, a running task is
 * `cancelled`, and a task that never started is `skipped`.
 *
 * @module
 */

import { buildReport, roundMs, type RunReport, skippedReport, type TaskReport } from "./report.ts";
import type { Reporter, RunPlan } from "./reporter.ts";

/** Collects a run's events through {@linkcode RunRecord.reporter}. */
export class RunRecord {
  #plan: RunPlan | undefined;
  #t0 = 0;
  #starts = new Map<string, { startMs: number; worker?: number }>();
  #ends = new Map<string, TaskReport>();

  /** The reporter to pass to `run()` alongside the one that shows progress. */
  readonly reporter: Reporter = {
    runStart: (plan) => {
      this.#plan = plan;
      this.#t0 = performance.now();
    },
    taskStart: (event) => this.#starts.set(event.name, event),
    taskEnd: (task) => this.#ends.set(task.name, task),
  };

  /**
   * The report as it stands, every unfinished task marked with `reason`.
   *
   * @param reason Why the run ends here, such as "interrupted (SIGINT)".
   * @returns The report, or `undefined` when the run has not started.
   */
  snapshot(reason: string): RunReport | undefined {
    const plan = this.#plan;
    if (plan === undefined) return undefined;
    const nowMs = roundMs(performance.now() - this.#t0);
    const tasks = plan.tasks.map((task): TaskReport => {
      const ended = this.#ends.get(task.name);
      if (ended !== undefined) return ended;
      const started = this.#starts.get(task.name);
      if (started === undefined) {
        return skippedReport(task, reason);
      }
      const startMs = roundMs(started.startMs);
      const report: TaskReport = {
        name: task.name,
        kind: task.kind,
        status: "cancelled",
        startMs,
        endMs: nowMs,
        durationMs: roundMs(nowMs - startMs),
        reason,
      };
      if (started.worker !== undefined) report.worker = started.worker;
      return report;
    });
    return buildReport(tasks, {
      wallMs: nowMs,
      workers: plan.workers,
      concurrency: plan.concurrency,
      cancelled: reason,
      deps: new Map(plan.tasks.map((task) => [task.name, task.deps])),
    });
  }
}
