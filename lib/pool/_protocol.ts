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
export type ToWorker =
  | {
    /** Run one cpu task's body. */
    type: "run";
    /** Correlates the answer. */
    id: number;
    /** The task's name in the task set. */
    task: string;
    /** Results of its dependencies, structured-cloned. */
    deps: Record<string, unknown>;
  }
  | {
    /** Run a sharded task's `map` over one chunk of its items. */
    type: "chunk";
    id: number;
    task: string;
    /** The chunk: a plain array, or a typed array moved by transfer. */
    items: ArrayLike<unknown>;
    /** The index of the chunk's first item among all the task's items. */
    start: number;
  };

/** Worker to main side. */
export type FromWorker =
  | {
    /** The task module loaded; the worker takes work. */
    type: "ready";
  }
  | {
    /** A task body or a chunk returned. */
    type: "result";
    id: number;
    value: unknown;
    /** For a chunk, the time `map` took, in ms: the pool sizes later chunks by it. */
    ms?: number;
  }
  | {
    /** A task body threw, or its result could not be cloned. */
    type: "error";
    id: number;
    error: SerializedError;
    /** For a chunk, the index of the item whose `map` threw. */
    index?: number;
  }
  | {
    /** The worker cannot serve: the task module has no task set. */
    type: "fatal";
    error: SerializedError;
  }
  | {
    /** A running task printed with `console`: one call, without its final newline. */
    type: "output";
    /** The job that printed it. */
    id: number;
    /** The task's name. */
    task: string;
    stream: "stdout" | "stderr";
    text: string;
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

interface TransferMarks {
  /** Buffers marked by `transfer()` and not yet sent. */
  buffers: WeakSet<ArrayBuffer>;
  /** How many marks may still be live; 0 lets {@linkcode transferList} skip its walk. */
  pending: number;
}

const MARKS = Symbol.for("spool.transfer.marks");

/**
 * The realm's transfer marks. They live on `globalThis` under a registered
 * symbol so that a task file importing another copy of spool (JSR) and the
 * worker side, which imports only this file, see the same marks.
 *
 * @returns The marks of this realm.
 */
export function transferMarks(): TransferMarks {
  const g = globalThis as unknown as Record<symbol, TransferMarks | undefined>;
  return g[MARKS] ??= { buffers: new WeakSet(), pending: 0 };
}

/**
 * The marked buffers inside a value about to be posted, unmarked as they are
 * collected: a buffer moves once, and is detached on this side afterwards.
 *
 * The walk visits arrays, plain objects, maps and sets, skips primitives, and
 * does not run at all while nothing is marked, so unmarked messages pay for
 * one property read.
 *
 * @param value A message payload.
 * @returns The buffers to pass as `postMessage`'s transfer list.
 */
export function transferList(value: unknown): ArrayBuffer[] {
  const marks = transferMarks();
  if (marks.pending === 0 || typeof value !== "object" || value === null) return [];
  const found: ArrayBuffer[] = [];
  const seen = new Set<object>();
  const stack: object[] = [value];
  const take = (buffer: ArrayBufferLike) => {
    if (buffer instanceof ArrayBuffer && marks.buffers.delete(buffer)) {
      marks.pending--;
      found.push(buffer);
    }
  };
  while (stack.length > 0) {
    const current = stack.pop()!;
    if (seen.has(current)) continue;
    seen.add(current);
    if (current instanceof ArrayBuffer) {
      take(current);
    } else if (ArrayBuffer.isView(current)) {
      take(current.buffer);
    } else if (Array.isArray(current)) {
      for (let i = 0; i < current.length; i++) {
        const item = current[i];
        if (typeof item === "object" && item !== null) stack.push(item);
      }
    } else if (current instanceof Map) {
      for (const [key, item] of current) {
        if (typeof key === "object" && key !== null) stack.push(key);
        if (typeof item === "object" && item !== null) stack.push(item);
      }
    } else if (current instanceof Set) {
      for (const item of current) if (typeof item === "object" && item !== null) stack.push(item);
    } else {
      for (const item of Object.values(current)) {
        if (typeof item === "object" && item !== null) stack.push(item);
      }
    }
  }
  return found;
}
