/**
 * Every message between a cpu executor (main side) and one of its workers
 * (_executor_worker.ts). Both sides import only this file from each other.
 *
 * @module
 */

export {
  describeThrown,
  deserializeError,
  type SerializedError,
  serializeError,
} from "./_protocol.ts";
import type { SerializedError } from "./_protocol.ts";

/** Main side to worker: call one export on a chunk of inputs, in order. */
export type ToExecutorWorker = {
  type: "call";
  /** Correlates the answer. */
  id: number;
  /** The export to call. */
  export: string;
  /** The inputs, structured-cloned; one call per input. */
  inputs: unknown[];
};

/** Worker to main side. */
export type FromExecutorWorker =
  | {
    /** The module loaded; the worker takes calls. */
    type: "ready";
  }
  | {
    /** Every call of the chunk returned. */
    type: "done";
    id: number;
    /** The results, in input order. */
    values: unknown[];
  }
  | {
    /**
     * The worker cannot go on: its module failed to load, or an error escaped
     * every call (a timer that threw, a rejection nobody handled). Sent by
     * the worker itself, so that the runtime does not print the error too.
     */
    type: "crash";
    /** What happened, as `Uncaught Error: boom`. */
    reason: string;
  }
  | {
    /** A call threw (or its result could not be cloned); later inputs were not run. */
    type: "failed";
    id: number;
    /** The results of the calls before the failing one. */
    values: unknown[];
    error: SerializedError;
  };
