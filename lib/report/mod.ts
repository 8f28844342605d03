/**
 * Reporting: the run report and its JSON, the reporter interface and the built-in reporters (live
 * view, plain logs), the summary, the critical path, the Chrome trace, and making task text safe
 * for a terminal.
 *
 * @module
 */

export { formatMs, reportToJson, summaryLine } from "./report.ts";
export type { AttemptReport, ReportedError, RunReport, TaskReport, TaskStatus } from "./report.ts";
export { combineReporters } from "./reporter.ts";
export type {
  PlannedTask,
  Reporter,
  RunPlan,
  TaskOutputEvent,
  TaskProgressEvent,
  TaskRetryEvent,
  TaskStartEvent,
} from "./reporter.ts";
export { plainReporter } from "./plain.ts";
export type { PlainReporter, PlainReporterOptions, TextSink } from "./plain.ts";
export { criticalPath } from "./critical_path.ts";
export { chromeTrace } from "./trace.ts";
export type { ChromeTrace, TraceEvent } from "./trace.ts";
