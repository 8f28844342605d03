/**
 * Faults of trusted io tasks, which run on the runner's own thread: while a
 * run has any, an unhandled rejection or uncaught error on this thread fails
 * the trusted tasks running at that moment (or, when none is, the last one
 * that ran), instead of ending the process with no report; and `Deno.exit()`
 * or `process.exit()` from a task throws in that task instead of ending the
 * run.
 *
 * A trusted task holds every permission of the process, so this contains
 * carelessness, not an attacker: a task that wants to end the run can.
 *
 * @module
 */

import { describeThrown } from "../pool/_protocol.ts";

/** The guard of one run; dispose it when the run ends. */
export interface MainGuard extends Disposable {
  /**
   * Runs a trusted body: a fault raised on this thread while it runs fails it.
   *
   * @param body The task's body.
   * @param onLate Receives a fault raised after the body settled, when this
   * was the last trusted body to run.
   * @returns What the body returns.
   */
  run<T>(body: () => Promise<T>, onLate: (error: Error) => void): Promise<T>;
}

/**
 * Installs the guard.
 *
 * @returns The guard; disposing it restores the thread.
 */
export function guardMainThread(): MainGuard {
  const running = new Set<(error: unknown) => void>();
  let last: ((error: Error) => void) | undefined;
  const fault = (reason: unknown) => {
    const error = reason instanceof Error ? reason : new Error(describe(reason));
    if (running.size > 0) { for (const fail of running) fail(error); }
    else last?.(error);
  };
  const onRejection = (event: PromiseRejectionEvent) => {
    if (running.size === 0 && last === undefined) return;
    event.preventDefault();
    fault(event.reason);
  };
  const onError = (event: ErrorEvent) => {
    if (running.size === 0 && last === undefined) return;
    event.preventDefault();
    fault(event.error);
  };
  globalThis.addEventListener("unhandledrejection", onRejection);
  globalThis.addEventListener("error", onError);
  const exit = Deno.exit;
  // The global is node:process itself; read here, when a run starts, rather
  // than imported: every sandbox imports spool again with its task file, and
  // loading node:process costs it about 20 ms (bench/_sandbox.ts).
  const process = (globalThis as unknown as { process: { exit: (code?: number) => never } })
    .process;
  const processExit = process.exit;
  const refuse = (code?: number | string | null): never => {
    throw new Error(
      `A task called exit(${
        code ?? ""
      }): tasks cannot end the run; throw an error to fail the task`,
    );
  };
  Deno.exit = refuse;
  process.exit = refuse;
  return {
    run(body, onLate) {
      return new Promise((resolve, reject) => {
        running.add(reject);
        last = onLate;
        // One reaction for both outcomes, no `finally`: this runs once per task.
        body().then((value) => {
          running.delete(reject);
          resolve(value);
        }, (error) => {
          running.delete(reject);
          reject(error);
        });
      });
    },
    [Symbol.dispose]() {
      globalThis.removeEventListener("unhandledrejection", onRejection);
      globalThis.removeEventListener("error", onError);
      Deno.exit = exit;
      process.exit = processExit;
    },
  };
}

function describe(value: unknown): string {
  return `A non-error value was thrown: ${describeThrown(value)}`;
}
