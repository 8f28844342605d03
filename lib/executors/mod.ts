/**
 * Executors: `concurrent.futures` for Deno. `executor("io")` overlaps calls on the event loop,
 * `executor("cpu")` runs them on Web Workers of the one pool (`../pool/`, slots keyed by the
 * module called and the executor's permissions); futures, `asCompleted`, `wait`.
 *
 * @module
 */

export { executor, moduleFunction } from "./executor.ts";
export type {
  Callable,
  CallContext,
  Executor,
  ExecutorKind,
  ExecutorOptions,
  LocalFunction,
  MapOptions,
  ModuleFunction,
  ShutdownOptions,
  SubmitOptions,
} from "./executor.ts";
export { IoExecutor } from "./io_executor.ts";
export type { IoExecutorOptions } from "./io_executor.ts";
export { BrokenWorkerError, CpuExecutor } from "./cpu_executor.ts";
export type { CpuExecutorOptions } from "./cpu_executor.ts";
export { Future } from "./future.ts";
export type { FutureState } from "./future.ts";
export { asCompleted } from "./as_completed.ts";
export type { AsCompletedOptions, Completion } from "./as_completed.ts";
export { wait } from "./wait.ts";
export type { ReturnWhen, WaitOptions, WaitResult } from "./wait.ts";
