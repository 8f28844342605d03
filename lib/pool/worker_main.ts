/**
 * The worker side of the cpu lane. A worker's entry module is a two-line
 * bootstrap that statically imports this file and the task module (static, so
 * that a worker with no read permission can still load its code), then calls
 * `serve` with the task module's namespace.
 *
 * This file imports only the protocol (and the guard that reports a worker's
 * death, and the console capture that sends a task's output to the main
 * side); it finds the task set by its brand.
 *
 * @module
 */

// First, so that it is in place before the task module is evaluated.
import "./_worker_guard.ts";
import { type FromWorker, serializeError, type ToWorker, transferList } from "./_protocol.ts";
import { redirectConsole, taskConsole } from "./_console_capture.ts";

interface TaskLike {
  kind: string;
  run: (context: { name: string; signal: AbortSignal; deps: unknown }) => unknown;
  shard?: {
    map: (item: unknown, index: number) => unknown;
    reduce: ((a: unknown, b: unknown) => unknown) | undefined;
  };
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
  // The default export first: it is the set the main side runs, and another
  // exported set may declare a task of the same name.
  const exported = [module.default, ...Object.values(module)].filter(isTaskSet);
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
    postMessage(message: FromWorker, transfer?: Transferable[]): void;
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
  const found = new Map<string, TaskLike | undefined>();
  const lookup = (name: string): TaskLike => {
    if (!found.has(name)) {
      found.set(name, sets.map((set) => set.tasks.get(name)).find((t) => t?.kind === "cpu"));
    }
    const task = found.get(name);
    if (task === undefined) throw new TypeError(`The task module has no cpu task "${name}"`);
    return task;
  };
  const reply = (task: string, message: FromWorker & { type: "result" }) => {
    try {
      scope.postMessage(message, transferList(message.value));
    } catch (error) {
      throw new TypeError(
        `Cannot return the result of cpu task "${task}": it is not structured-cloneable (${
          (error as Error).message
        })`,
      );
    }
  };
  // Console calls made while a job runs go to the main side, as output of its task.
  let running: { id: number; task: string; console?: ReturnType<typeof taskConsole> } | undefined;
  redirectConsole(console, () => {
    const job = running;
    if (job === undefined) return undefined;
    return job.console ??= taskConsole((stream, text) =>
      scope.postMessage({ type: "output", id: job.id, task: job.task, stream, text })
    );
  });
  // A worker never aborts a body itself: the pool cancels by terminating it.
  const signal = new AbortController().signal;
  scope.onmessage = async ({ data }) => {
    running = { id: data.id, task: data.task };
    try {
      const task = lookup(data.task);
      if (data.type === "chunk") {
        const started = performance.now();
        const outcome = mapChunk(task, data.task, data.items, data.start);
        if ("index" in outcome) {
          const { id } = data;
          scope.postMessage({ type: "error", id, error: outcome.error, index: outcome.index });
          return;
        }
        const ms = performance.now() - started;
        reply(data.task, { type: "result", id: data.id, value: outcome.value, ms });
        return;
      }
      const value = await task.run({ name: data.task, signal, deps: data.deps });
      reply(data.task, { type: "result", id: data.id, value });
    } catch (error) {
      scope.postMessage({ type: "error", id: data.id, error: serializeError(error) });
    } finally {
      running = undefined;
    }
  };
  scope.postMessage({ type: "ready" });
}

type ChunkOutcome = { value: unknown } | {
  index: number;
  error: ReturnType<typeof serializeError>;
};

/**
 * Runs `map` over a chunk: the mapped values in order, or with `reduce` their
 * fold (left to right, so an associative `reduce` gives the same answer as one
 * fold over all items). The loop is plain and synchronous: with tiny items,
 * anything per item beyond the call itself shows in the throughput.
 */
function mapChunk(
  task: TaskLike,
  name: string,
  items: ArrayLike<unknown>,
  start: number,
): ChunkOutcome {
  if (task.shard === undefined) {
    throw new TypeError(`Cannot map cpu task "${name}" over items: it has no map function`);
  }
  const { map, reduce } = task.shard;
  const length = items.length;
  let i = 0;
  try {
    if (length === 0) return { value: [] };
    const first = map(items[0], start);
    if (typeof (first as PromiseLike<unknown> | undefined)?.then === "function") {
      throw new TypeError(
        `Cannot map cpu task "${name}" as 'map' must be synchronous: it returned a promise`,
      );
    }
    if (reduce !== undefined) {
      let acc = first;
      for (i = 1; i < length; i++) acc = reduce(acc, map(items[i], start + i));
      return { value: acc };
    }
    const out: unknown[] = [first];
    for (i = 1; i < length; i++) out.push(map(items[i], start + i));
    return { value: out };
  } catch (error) {
    return { index: start + i, error: serializeError(error) };
  }
}
