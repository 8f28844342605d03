/**
 * The reporter interface: events a run emits as it goes, so that the CLI's
 * built-in reporters and an embedding script's own renderer see the same
 * stream.
 *
 * @module
 */

import type { TaskKind } from "./define.ts";
import type { Permissions } from "./permissions.ts";
import type { RunReport, TaskReport } from "./report.ts";

/** One planned task. */
export interface PlannedTask {
  /** The task's name. */
  name: string;
  /** Its lane. */
  kind: TaskKind;
  /** Its dependencies. */
  deps: readonly string[];
  /** Its declared permissions. */
  permissions: Permissions;
}

/** The plan a run starts with. */
export interface RunPlan {
  /** Tasks to run, in dependency order. */
  tasks: PlannedTask[];
  /** Size of the worker pool (0 when no cpu task is planned). */
  workers: number;
  /** The io lane's concurrency limit. */
  concurrency: number;
}

/**
 * Receives a run's events. Every method is optional; none may throw (an
 * error from a reporter is ignored rather than failing the run).
 */
export interface Reporter {
  /** The run is about to start. */
  runStart?(plan: RunPlan): void;
  /** A task started; `worker` is set for cpu tasks once dispatched. */
  taskStart?(event: { name: string; kind: TaskKind; startMs: number }): void;
  /** A task ended: passed, failed or skipped. */
  taskEnd?(task: TaskReport): void;
  /** The run ended; the report is final. */
  runEnd?(report: RunReport): void;
}
