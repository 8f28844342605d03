/**
 * Worker side of a cpu executor's calls: answers `call` messages by calling
 * the named export of the worker's module once per input. `worker_main.ts`
 * hands it the calls when the worker serves calls rather than tasks.
 *
 * A worker that serves calls runs no task, so nothing here is traced to a
 * job: an error that escapes every call (a timer that threw, a rejection
 * nobody handled) reaches the pool as a fault of no job, and the pool ends
 * the worker (a broken worker, as Python's `BrokenProcessPool`).
 *
 * It imports only the protocol, the packing of numbers and the captured
 * built-ins; the worker side hands it the channel's `post`.
 *
 * @module
 */

import type { FromWorker } from "./_protocol.ts";
import { serializeError, type ToWorker, transferList } from "./_protocol.ts";
import { packNumbers } from "./_packed_numbers.ts";
import { errorMessage } from "./_intrinsics.ts";
import { isThenable } from "./_thenable.ts";

type Call = ToWorker & { type: "call" };
type Callable = (input: unknown, context: { signal: AbortSignal }) => unknown;

type Post = (
  message: FromWorker,
  transfer?: Transferable[],
  onUnsendable?: (error: Error) => FromWorker,
) => void;

/**
 * Makes the handler of `call` messages for one module.
 *
 * @param module The namespace of the module whose exports are called.
 * @param post The worker's channel, for the answers.
 * @returns Takes each `call` message as it arrives.
 */
export function callServer(module: Record<string, unknown>, post: Post): (call: Call) => void {
  // The pool stops a running call by ending the worker, so this signal
  // never aborts; it is there so that one function serves both flavours.
  const context = { signal: new AbortController().signal };
  const answer = (id: number, name: string, values: unknown[]) => {
    // Results that are all numbers move as one buffer (no marks to look for).
    const packed = packNumbers(values);
    if (packed !== undefined) {
      post({ type: "result", id, value: packed }, [packed.buffer]);
      return;
    }
    post({ type: "result", id, value: values }, transferList(values), (error) => ({
      type: "error",
      id,
      values: [],
      error: serializeError(
        new TypeError(
          `Cannot return the result of "${name}": it is not structured-cloneable (${
            errorMessage(error)
          })`,
        ),
      ),
    }));
  };
  const fail = (id: number, values: unknown[], error: unknown) =>
    post({ type: "error", id, values, error: serializeError(error) });
  // A chunk of many tiny calls is the hot path: calls that return a plain
  // value are not awaited (an await per call costs a microtask turn each);
  // the loop goes async only from the first call that returns a promise.
  const rest = async (
    data: Call,
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
  const run = (data: Call): Promise<void> | undefined => {
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
  const inbox: Call[] = [];
  let running: Promise<void> | undefined;
  const drain = async () => {
    while (inbox.length > 0) await run(inbox.shift()!);
    running = undefined;
  };
  return (data) => {
    if (running !== undefined) {
      inbox.push(data);
      return;
    }
    const pending = run(data);
    if (pending !== undefined) running = pending.then(drain);
  };
}
