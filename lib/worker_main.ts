/**
 * The worker side of the cpu lane. A worker's entry module is a two-line
 * bootstrap that statically imports this file and the task module (static, so
 * that a worker with no read permission can still load its code), then calls
 * `serve` with the task module's namespace.
 *
 * This file imports only the protocol; it finds the task set by its brand.
 *
 * @module
 */

import { type FromWorker, serializeError, type ToWorker } from "./_protocol.ts";

interface TaskLike {
  kind: string;
  run: (context: { name: string; signal: AbortSignal; deps: unknown }) => unknown;
}
interface TaskSetLike {
  tasks: ReadonlyMap<string, TaskLike>;
}

const TASK_SET = Symbol.for("spool.taskset");
const REGISTRY = Symbol.for("spool.registry");

function isTaskSet(value: unknown): value is TaskSetLike {
  return typeof value === "object" && value !== null &&
    (value as Record<symbol, unknown>)[TASK_SET] === true;
}

function taskSets(module: Record<string, unknown>): TaskSetLike[] {
  const exported = Object.values(module).filter(isTaskSet);
  const registered = (globalThis as unknown as Record<symbol, unknown[] | undefined>)[REGISTRY] ??
    [];
  return [...exported, ...registered.filter(isTaskSet)];
}

/**
 * Serves cpu tasks from a task module until the pool terminates this worker.
 *
 * @param module The task module's namespace.
 */
export function serve(module: Record<string, unknown>): void {
  const scope = self as unknown as {
    postMessage(message: FromWorker): void;
    onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
  };
  const sets = taskSets(module);
  if (sets.length === 0) {
    scope.postMessage({
      type: "fatal",
      error: {
        name: "TypeError",
        message: "The task module defines no task set: export default defineTasks({ ... })",
      },
    });
    return;
  }
  // A worker never aborts a body itself: the pool cancels by terminating it.
  const signal = new AbortController().signal;
  scope.onmessage = async ({ data }) => {
    const task = sets.map((set) => set.tasks.get(data.task)).find((t) => t?.kind === "cpu");
    try {
      if (task === undefined) {
        throw new TypeError(`The task module has no cpu task "${data.task}"`);
      }
      const value = await task.run({ name: data.task, signal, deps: data.deps });
      try {
        scope.postMessage({ type: "result", id: data.id, value });
      } catch (error) {
        throw new TypeError(
          `Cannot return the result of cpu task "${data.task}": it is not structured-cloneable (${
            (error as Error).message
          })`,
        );
      }
    } catch (error) {
      scope.postMessage({ type: "error", id: data.id, error: serializeError(error) });
    }
  };
  scope.postMessage({ type: "ready" });
}
