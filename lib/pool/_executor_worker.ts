/**
 * The worker side of the cpu executor. A worker's entry module is a bootstrap
 * that statically imports this file and the module whose exports it calls
 * (static, so that a worker without read permission can still load them),
 * then calls `serve` with that module's namespace.
 *
 * This file imports only the protocol.
 *
 * @module
 */

import {
  type FromExecutorWorker,
  serializeError,
  type ToExecutorWorker,
} from "./_executor_protocol.ts";

/**
 * Answers `call` messages by calling the named export once per input, until
 * the executor ends this worker.
 *
 * @param module The namespace of the module that holds the functions.
 */
export function serve(module: Record<string, unknown>): void {
  const scope = self as unknown as {
    postMessage(message: FromExecutorWorker): void;
    onmessage: ((event: MessageEvent<ToExecutorWorker>) => void) | null;
  };
  // The executor stops a running call by ending the worker, so this signal
  // never aborts; it is there so that one function serves both flavours.
  const signal = new AbortController().signal;
  scope.onmessage = async ({ data }) => {
    const values: unknown[] = [];
    try {
      const fn = module[data.export];
      if (typeof fn !== "function") {
        throw new TypeError(
          `Cannot call "${data.export}": the module exports no function of that name`,
        );
      }
      for (const input of data.inputs) values.push(await fn(input, { signal }));
    } catch (error) {
      scope.postMessage({ type: "failed", id: data.id, values, error: serializeError(error) });
      return;
    }
    try {
      scope.postMessage({ type: "done", id: data.id, values });
    } catch (error) {
      const reason = new TypeError(
        `Cannot return the result of "${data.export}": it is not structured-cloneable (${
          (error as Error).message
        })`,
      );
      scope.postMessage({ type: "failed", id: data.id, values: [], error: serializeError(reason) });
    }
  };
  scope.postMessage({ type: "ready" });
}
