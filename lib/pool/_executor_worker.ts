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
  describeThrown,
  type FromExecutorWorker,
  serializeError,
  type ToExecutorWorker,
} from "./_executor_protocol.ts";

// Evaluated before the module whose functions the worker calls (the
// bootstrap imports this file first): an error that escapes every call, or
// the module's own failure to load, is reported as a message, and the
// runtime does not print it as an uncaught error.
if ("WorkerGlobalScope" in globalThis) {
  const post = (globalThis as unknown as { postMessage(m: FromExecutorWorker): void }).postMessage
    .bind(globalThis);
  const describe = (value: unknown) =>
    value instanceof Error ? `${value.name}: ${value.message}` : describeThrown(value);
  let crashed = false;
  const crash = (event: Event, prefix: string, value: unknown) => {
    event.preventDefault();
    if (crashed) return;
    crashed = true;
    post({ type: "crash", reason: `${prefix}${describe(value)}` });
  };
  globalThis.addEventListener(
    "error",
    (event) => crash(event, "Uncaught ", (event as ErrorEvent).error),
  );
  globalThis.addEventListener(
    "unhandledrejection",
    (event) => crash(event, "Uncaught (in promise) ", (event as PromiseRejectionEvent).reason),
  );
}

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
  const context = { signal: new AbortController().signal };
  const answer = (id: number, name: string, values: unknown[]) => {
    try {
      scope.postMessage({ type: "done", id, values });
    } catch (error) {
      const reason = new TypeError(
        `Cannot return the result of "${name}": it is not structured-cloneable (${
          (error as Error).message
        })`,
      );
      scope.postMessage({ type: "failed", id, values: [], error: serializeError(reason) });
    }
  };
  const fail = (id: number, values: unknown[], error: unknown) =>
    scope.postMessage({ type: "failed", id, values, error: serializeError(error) });
  // A chunk of many tiny calls is the hot path: calls that return a plain
  // value are not awaited (an await per call costs a microtask turn each);
  // the loop goes async only from the first call that returns a promise.
  const rest = async (
    data: ToExecutorWorker,
    fn: Callable,
    values: unknown[],
    pending: PromiseLike<unknown>,
    from: number,
  ) => {
    try {
      values.push(await pending);
      for (let i = from; i < data.inputs.length; i++) {
        values.push(await fn(data.inputs[i], context));
      }
    } catch (error) {
      fail(data.id, values, error);
      return;
    }
    answer(data.id, data.export, values);
  };
  const run = (data: ToExecutorWorker): Promise<void> | undefined => {
    const values: unknown[] = [];
    const fn = module[data.export];
    if (typeof fn !== "function") {
      fail(
        data.id,
        values,
        new TypeError(`Cannot call "${data.export}": the module exports no function of that name`),
      );
      return;
    }
    const { inputs } = data;
    try {
      for (let i = 0; i < inputs.length; i++) {
        const value = (fn as Callable)(inputs[i], context);
        if (isThenable(value)) return rest(data, fn as Callable, values, value, i + 1);
        values.push(value);
      }
    } catch (error) {
      fail(data.id, values, error);
      return;
    }
    answer(data.id, data.export, values);
  };
  // The pool may send the next chunk before this one is answered. Chunks
  // run one at a time, in order: one still awaiting a promise holds the rest.
  const inbox: ToExecutorWorker[] = [];
  let running: Promise<void> | undefined;
  const drain = async () => {
    while (inbox.length > 0) await run(inbox.shift()!);
    running = undefined;
  };
  scope.onmessage = ({ data }) => {
    if (running !== undefined) {
      inbox.push(data);
      return;
    }
    const pending = run(data);
    if (pending !== undefined) running = pending.then(drain);
  };
  scope.postMessage({ type: "ready" });
}

type Callable = (input: unknown, context: { signal: AbortSignal }) => unknown;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === "object" || typeof value === "function") && value !== null &&
    typeof (value as PromiseLike<unknown>).then === "function";
}
