/**
 * Every message between the worker pool (main side) and a worker
 * (worker_main.ts). Both sides import only this file from each other.
 *
 * @module
 */

/** An error as it crosses from a worker: enough to rebuild message and stack. */
export interface SerializedError {
  /** The error's class name, such as `"TypeError"`. */
  name: string;
  /** Its message. */
  message: string;
  /** Its stack, as the worker saw it. */
  stack?: string;
}

/** Main side to worker. */
export type ToWorker = {
  /** Run one cpu task's body. */
  type: "run";
  /** Correlates the answer. */
  id: number;
  /** The task's name in the task set. */
  task: string;
  /** Results of its dependencies, structured-cloned. */
  deps: Record<string, unknown>;
};

/** Worker to main side. */
export type FromWorker =
  | {
    /** The task module loaded; the worker takes work. */
    type: "ready";
  }
  | {
    /** A task body returned. */
    type: "result";
    id: number;
    value: unknown;
  }
  | {
    /** A task body threw, or its result could not be cloned. */
    type: "error";
    id: number;
    error: SerializedError;
  }
  | {
    /** The worker cannot serve: the task module has no task set. */
    type: "fatal";
    error: SerializedError;
  };

/**
 * Turns a thrown value into something that crosses `postMessage` intact.
 *
 * @param error Whatever was thrown.
 * @returns Its name, message and stack.
 */
export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) {
    return { name: error.name, message: error.message, stack: error.stack };
  }
  return { name: "Error", message: `A non-error value was thrown: ${String(error)}` };
}

/**
 * Rebuilds an error on the main side with the worker's message and stack.
 *
 * @param data The serialized error.
 * @returns An `Error` whose `name`, `message` and `stack` are the worker's.
 */
export function deserializeError(data: SerializedError): Error {
  const error = new Error(data.message);
  error.name = data.name;
  if (data.stack !== undefined) error.stack = data.stack;
  return error;
}
