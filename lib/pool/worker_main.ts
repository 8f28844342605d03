/**
 * The worker side of the pool: the one module every worker runs, serving cpu
 * task bodies (one at a time), io task bodies (many at once, in a host for one
 * permission set), shard chunks, and a cpu executor's calls (see
 * `_call_server.ts`). A worker's entry module is a two-line bootstrap that
 * statically imports this file and the module whose code it runs (static, so
 * that a worker with no read permission can still load its code), then calls
 * `serve` with that module's namespace and what to serve.
 *
 * This file imports only the protocol, the guard, the console capture and the
 * call server, the context's `$` (which imports nothing of the pool), and
 * it takes what it needs from the realm (the message port, the data getter of
 * a message event, timers) before the task module is evaluated: task code
 * that patches `self.postMessage`, adds its own message listener or replaces
 * built-ins later cannot reach the pool's channel or another job's messages.
 *
 * @module
 */

// First, so that it is in place before the task module is evaluated.
import { takeGuard } from "./_worker_guard.ts";
import {
  append,
  arrayFrom,
  builtInNext,
  defineProperty,
  errorMessage,
  freeze,
  getOwnPropertyDescriptor,
  getPrototypeOf,
  hasOwn,
  isArray,
  isBuiltInPrototype,
  isExtensible,
  isInstance,
  isNativeFunction,
  isRealmPrototype,
  isView,
  list,
  mapDelete,
  mapEntries,
  mapGet,
  mapIteratorNext,
  mapSet,
  mapSize,
  mapValues,
  NativeAbortController,
  NativeArrayBuffer,
  NativeDate,
  NativeDOMException,
  NativeError,
  NativeMap,
  NativeMapPrototype,
  NativeObjectPrototype,
  NativePromise,
  NativeRegExp,
  NativeSet,
  NativeSetPrototype,
  NativeString,
  NativeTypeError,
  promiseThen,
  resolvePromise,
  setIteratorNext,
  setValues,
  typedArrayLength,
  uncurry,
} from "./_intrinsics.ts";
import { type FromWorker, serializeError, type ToWorker, transferList } from "./_protocol.ts";
import { consoleMaker, redirectConsole, type taskConsole } from "./_console_capture.ts";
import { callServer } from "./_call_server.ts";

// Taken once, now, before the task module is evaluated (see takeGuard).
const { channel, reportFault, setFaultOwner } = takeGuard();
import { type CommandOutput, taskShell } from "../commands/task_shell.ts";

interface TaskLike {
  kind: string;
  permissions?: { run?: boolean | readonly string[] };
  run: (
    context: {
      name: string;
      signal: AbortSignal;
      deps: unknown;
      args: readonly string[];
      $: ReturnType<typeof taskShell>;
    },
  ) => unknown;
  shard?: {
    items: unknown;
    map: (item: unknown, index: number) => unknown;
    reduce: ((a: unknown, b: unknown) => unknown) | undefined;
    initial: unknown;
    hasInitial: boolean;
  };
}
interface TaskSetLike {
  tasks: ReadonlyMap<string, TaskLike>;
}

interface Job {
  id: number;
  task: string;
  /** Whether its body may be aborted (an io body; a cpu body is stopped by recycling). */
  io: boolean;
  /** Its signal's controller, made when the body first reads `signal`. */
  controller: AbortController | undefined;
  /** Why it was cancelled, when that came before its body read `signal`. */
  cancelled: DOMException | undefined;
  /** When its io body began. */
  bodyStart: number | undefined;
  console?: ReturnType<typeof taskConsole>;
}

// Taken now, for the errors this side makes at job time: a task can replace
// the globals, and would then build other tasks' errors.
const TypeError = NativeTypeError;
const DOMException = NativeDOMException!;
/** An AbortController's `signal` and `abort`, the originals: a task may replace them. */
const controllerSignal = uncurry(
  Object.getOwnPropertyDescriptor(AbortController.prototype, "signal")!.get!,
) as (controller: AbortController) => AbortSignal;
const controllerAbort = uncurry(AbortController.prototype.abort) as (
  controller: AbortController,
  reason: unknown,
) => void;

/**
 * A signal never aborted here, new each time: one shared by the bodies of a
 * worker would let one of them put its own `aborted` or listener on it for
 * the next.
 */
function never(): AbortSignal {
  return controllerSignal(new NativeAbortController());
}

/** A job's signal, made on first use. */
function signalOf(job: Job): AbortSignal {
  // A cpu body is never aborted here (the pool stops it by recycling its
  // worker), but its signal is its own.
  if (job.controller === undefined) {
    job.controller = new NativeAbortController();
    if (job.cancelled !== undefined) controllerAbort(job.controller, job.cancelled);
  }
  return controllerSignal(job.controller);
}

/**
 * A body's context. Its signal and its `$` are made if the body reads them,
 * as on the runner's thread (`IoContext`): most bodies never do, and an io
 * host holds thousands of jobs at once, each of which would otherwise carry
 * an AbortController and a `$` with its closures.
 */
class JobContext {
  readonly name: string;
  #deps: unknown;
  #args: readonly string[] | undefined;
  #job: Job;
  #task: TaskLike;
  #shell: ReturnType<typeof taskShell> | undefined;

  constructor(
    job: Job,
    task: TaskLike,
    deps: unknown,
    args: readonly string[] | undefined,
  ) {
    this.name = job.task;
    this.#deps = deps;
    this.#args = args;
    this.#job = job;
    this.#task = task;
  }

  /** Its dependencies' results (the message leaves out an empty set: a fresh `{}` then). */
  get deps(): unknown {
    return this.#deps ??= {};
  }

  /** The run's arguments. */
  get args(): readonly string[] {
    return this.#args ??= [];
  }

  /** Aborted when the runner cancels the job (an io body). */
  get signal(): AbortSignal {
    return signalOf(this.#job);
  }

  /** Runs commands bound to this job. */
  get $(): ReturnType<typeof taskShell> {
    return this.#shell ??= jobShell(this.#job, this.#task);
  }
}

// Every body gets one of these: a body that could change the class's
// getters would read the deps of every later job.
freeze(JobContext.prototype);

let served = false;

const TASK_SET = Symbol.for("spool.taskset");
const REGISTRY = Symbol.for("spool.registry");

// Captured now, before any task code runs.
const { post, listen } = channel;
const performanceNow = performance.now.bind(performance);
const reflectApply = Reflect.apply;

/** Commands that bodies started with `$` and the runner has not finished, by job and number. */
const commands = new NativeMap<string, {
  resolve: (output: CommandOutput) => void;
  reject: (error: Error) => void;
}>();
let commandCount = 0;

/** The `$` of a job: the runner runs its commands, in shell processes with the task's permissions. */
function jobShell(job: Job, task: TaskLike): ReturnType<typeof taskShell> {
  const run = task.permissions?.run;
  return taskShell(job.task, (request) =>
    new NativePromise((resolve, reject) => {
      const exec = ++commandCount;
      mapSet(commands, `${job.id} ${exec}`, { resolve, reject });
      post({ type: "exec", id: job.id, exec, ...request });
    }), (program) => {
    if (run === true) return true;
    if (!isArray(run)) return false;
    for (let i = 0; i < run.length; i++) if (run[i] === program) return true;
    return false;
  });
}

/** The jobs running now, by id: one for a cpu worker, any number in an io host. */
const running = new NativeMap<number, Job>();
// What follows touches jobs' deps, contexts and results with the built-ins
// taken before task code ran (_intrinsics.ts): another task in this realm
// may have replaced the globals and built-ins by the time a job runs.

/**
 * Calls `onValue` or `onError` with what a body returned, once it settles.
 * A native promise is followed with the original `then`, after an own
 * `constructor` is set on it, so that no getter a task put on
 * `Promise.prototype` sees it; any other value is a thenable only when its
 * `then` comes from its own class, not from a built-in prototype a task may
 * have given one.
 */
function settle(
  value: unknown,
  onValue: (value: unknown) => void,
  onError: (error: unknown) => void,
): void {
  if (isInstance(value, NativePromise)) {
    if (isExtensible(value)) {
      defineProperty(value, "constructor", { value: NativePromise, configurable: true });
    }
    promiseThen(value, onValue, onError);
    return;
  }
  if (!ownThen(value)) {
    onValue(value);
    return;
  }
  const followed = resolvePromise(value);
  defineProperty(followed, "constructor", { value: NativePromise, configurable: true });
  promiseThen(followed, onValue, onError);
}

/** Whether `value` has a `then` method of its own class (a thenable such as `$`'s command). */
function ownThen(value: unknown): boolean {
  if ((typeof value !== "object" || value === null) && typeof value !== "function") return false;
  for (let holder: unknown = value; holder !== null; holder = getPrototypeOf(holder)) {
    // A `then` on a built-in class's prototype is the realm's, not the value's.
    if (isBuiltInPrototype(holder as object)) return false;
    const descriptor = getOwnPropertyDescriptor(holder as object, "then");
    if (descriptor === undefined) continue;
    // Nor one above a class Deno defines lazily (`Buffer`, `Response`), on
    // it or on a prototype a task put over it: those are loaded here, on this
    // rare path, rather than in every worker.
    if (holder !== value && passesRealmPrototype(value as object, holder as object)) return false;
    return typeof descriptor.value === "function" ||
      (holder === value && descriptor.get !== undefined);
  }
  return false;
}

/** Whether a built-in class's prototype comes on `value`'s chain before `holder`, or is it. */
function passesRealmPrototype(value: object, holder: object): boolean {
  for (let proto = getPrototypeOf(value); proto !== null; proto = getPrototypeOf(proto)) {
    if (isRealmPrototype(proto)) return true;
    if (proto === holder) return false;
  }
  return false;
}

/** The job that ran last, to which output and faults after its end belong. */
let lastJob: Job | undefined;
/** The job whose code is on the stack now, when that is known (synchronous parts). */
let current: Job | undefined;
/**
 * io jobs run concurrently and interleave at every `await`: the job a console
 * call or a timer belongs to is the one whose async context it runs in. cpu
 * jobs run one at a time, but code a body left running after an `await`
 * (an async function it never awaited) still belongs to that body, not to
 * the job running when it wakes. Loaded with a worker's first job, so that a
 * worker serving executor calls does not pay for it.
 */
let context: Promise<AsyncContextLike> | undefined;
let contextReady: AsyncContextLike | undefined;

interface AsyncContextLike {
  /** Calls `fn` with no arguments as `job`: no argument list for a patched iterator to see. */
  run(job: Job, fn: () => unknown): unknown;
  getStore(): Job | undefined;
}

function loadContext(): Promise<AsyncContextLike> {
  // Its methods taken at once, before any body of this worker runs: a body
  // that replaces `AsyncLocalStorage.prototype.run` would see every later
  // job's context, and so its deps.
  return context ??= import("node:async_hooks").then(({ AsyncLocalStorage }) => {
    const storage = new AsyncLocalStorage<Job>();
    const run = AsyncLocalStorage.prototype.run;
    const getStore = AsyncLocalStorage.prototype.getStore;
    const reflect = Reflect.apply;
    return contextReady = {
      run: (job, fn) => reflect(run, storage, [job, fn]),
      getStore: () => reflect(getStore, storage, []) as Job | undefined,
    };
  });
}

let batching = false;

function ioContext(): Promise<AsyncContextLike> {
  if (!batching) {
    batching = true;
    channel.batchAcrossTasks();
  }
  return loadContext();
}

/**
 * The job that a callback scheduled now belongs to: the one whose code is on
 * the stack, else the only one running, else (with several running) unknown.
 */
function owner(): Job | undefined {
  if (current !== undefined) return current;
  const store = contextReady?.getStore();
  if (store !== undefined) return store;
  const size = mapSize(running);
  if (size === 1) return mapIteratorNext(mapValues(running)).value;
  return size === 0 ? lastJob : undefined;
}

// Timers carry the job that set them, so that a callback that throws after
// its task returned fails that task, not whichever task runs next.
wrapTimers(owner);
setFaultOwner(() => owner()?.id);

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
 * Serves a module until the pool terminates this worker: the tasks of a task
 * module, or calls of a module's exports.
 *
 * @param module The module's namespace.
 * @param role `"tasks"` (a task module) or `"calls"` (a cpu executor's module).
 */
export async function serve(
  module: Record<string, unknown>,
  role: "tasks" | "calls" = "tasks",
): Promise<void> {
  // Once: task code can import this module by URL too, and a second serve()
  // would put its own listener in the pool's place.
  if (served) throw new Error("This worker already serves its module");
  served = true;
  if (role === "calls") {
    const call = callServer(module, post);
    listen((data: ToWorker) => {
      if (data.type === "call") call(data);
      else post({ type: "error", id: data.id, error: serializeError(notServed(data.type)) });
    });
    post({ type: "ready" });
    return;
  }
  channel.flushAtNextTask();
  const sets = taskSets(module);
  if (sets.length === 0) {
    post({
      type: "fatal",
      error: {
        name: "TypeError",
        message: "The task module defines no task set: export default defineTasks({ ... })",
      },
    });
    return;
  }
  // By kind, then name: no key string to build per job.
  // Copies of the sets' maps as they are now, before any body runs: a body
  // can reach a set (its own module exports it) and could replace its
  // `tasks`, or put a task of its own in that map in another's place, and be
  // handed that task's jobs: its deps, and its result to write.
  const maps: Map<string, TaskLike>[] = list();
  for (let i = 0; i < sets.length; i++) {
    const copy = new NativeMap<string, TaskLike>();
    const entries = mapEntries(sets[i].tasks);
    for (let step = mapIteratorNext(entries); !step.done; step = mapIteratorNext(entries)) {
      const entry = step.value as [string, TaskLike];
      mapSet(copy, entry[0], entry[1]);
    }
    append(maps, copy);
  }
  const lookup = (name: string, kind: string): TaskLike => {
    // The default export's set first: one lookup for nearly every job. Not
    // cached by name: in a run of 10,000 tasks each name comes once, and a
    // cache of them cost more than it saved.
    for (let i = 0; i < maps.length; i++) {
      const candidate = mapGet(maps[i], name) as TaskLike | undefined;
      if (candidate !== undefined && candidate.kind === kind) return candidate;
    }
    throw new TypeError(`The task module has no ${kind} task "${name}"`);
  };
  const reply = (task: TaskLike, name: string, message: FromWorker & { type: "result" }) => {
    const value = message.value;
    const type = typeof value;
    if (value === null || (type !== "object" && type !== "function" && type !== "symbol")) {
      // A primitive (most io bodies' `undefined`): nothing to transfer, no
      // class to lose, nothing that can fail to clone, so no fallback to make.
      post(message);
      return;
    }
    const lost = classLost(message.value);
    if (lost !== undefined) {
      post({
        type: "output",
        id: message.id,
        task: name,
        stream: "stderr",
        text:
          `note: task "${name}" returned a ${lost} instance; its dependants get a plain object (a structured clone), without its class or methods`,
      });
    }
    post(message, transferList(message.value), (error) => ({
      type: "error",
      id: message.id,
      error: serializeError(
        new TypeError(
          `Cannot return the result of ${task.kind} task "${name}": it is not structured-cloneable (${
            errorMessage(error)
          })`,
        ),
      ),
    }));
  };
  // Loaded only here: a worker serving calls never needs it. A built-in, so
  // a worker without read permission can import it.
  const { Console } = await import("node:console");
  const makeConsole = consoleMaker(Console);
  // Console calls go to the main side as output of the job they belong to.
  redirectConsole(console, () => {
    const job = owner();
    if (job === undefined) return undefined;
    return job.console ??= makeConsole(
      (stream, text) => post({ type: "output", id: job.id, task: job.task, stream, text }),
    );
  });
  /**
   * Starts an io body in the job's async context. Not an async function:
   * an io host holds thousands of bodies in flight, and each would keep one
   * suspended (its frame, its promise, its await's closures) until its body
   * settled, garbage the worker's collector copies again and again.
   */
  const startIo = (task: TaskLike, data: ToWorker & { type: "run" }, job: Job): void => {
    const als = contextReady;
    if (als === undefined || !batching) {
      // The first io job loads the async context; jobs behind it queue on the same load, in order.
      ioContext().then(() => startIo(task, data, job));
      return;
    }
    // Cancelled before it started (the pool sends io tasks ahead, while
    // the sandbox starts, and the cancel right behind): it never runs.
    if (job.cancelled !== undefined) return ioFailed(job, job.cancelled);
    let pending: unknown;
    try {
      next.job = job;
      next.task = task;
      next.context = new JobContext(job, task, ownField(data, "deps"), ownField(data, "args"));
      pending = als.run(job, runNext);
    } catch (error) {
      return ioFailed(job, error);
    } finally {
      current = undefined;
    }
    settle(pending, (value) => ioDone(job, task, value), (error) => ioFailed(job, error));
  };
  const ioDone = (job: Job, task: TaskLike, value: unknown): void => {
    try {
      // An io body's own time: the runner counts it, not the time the task
      // waited here, behind others sent ahead, before its body began.
      reply(task, job.task, {
        type: "result",
        id: job.id,
        value,
        ms: performanceNow() - job.bodyStart!,
      });
    } catch (error) {
      return ioFailed(job, error);
    }
    mapDelete(running, job.id);
  };
  const ioFailed = (job: Job, error: unknown): void => {
    mapDelete(running, job.id);
    post({ type: "error", id: job.id, error: serializeError(error) });
  };
  /**
   * A cpu body, a shard's step or a chunk: one at a time in its worker.
   * Its outcome goes to callbacks, not through a promise of ours: resolving
   * one with a task's value would look up `then` on it, where an earlier
   * task in this realm could be waiting.
   */
  const serveJob = (task: TaskLike, data: ToWorker, job: Job): void => {
    const als = contextReady;
    if (als === undefined) {
      loadContext().then(() => serveJob(task, data, job));
      return;
    }
    // In the job's async context: what its code leaves running past an
    // `await` is still its own when it wakes, after the job ended.
    als.run(job, () => serveJobIn(task, data, job));
  };
  const serveJobIn = (task: TaskLike, data: ToWorker, job: Job): void => {
    const done = (value: unknown): void => {
      try {
        reply(task, job.task, { type: "result", id: job.id, value });
      } catch (error) {
        return failed(error);
      }
      mapDelete(running, job.id);
    };
    const failed = (error: unknown): void => {
      mapDelete(running, job.id);
      post({ type: "error", id: job.id, error: serializeError(error) });
    };
    try {
      if (data.type === "chunk") {
        current = job;
        const started = performanceNow();
        const outcome = mapChunk(task, data.task, data.items, data.start);
        mapDelete(running, job.id);
        if (hasOwn(outcome, "index")) {
          const failure = outcome as Exclude<ChunkOutcome, { value: unknown }>;
          post({ type: "error", id: job.id, error: failure.error, index: failure.index });
          return;
        }
        const ms = performanceNow() - started;
        const value = (outcome as { value: unknown }).value;
        reply(task, data.task, { type: "result", id: job.id, value, ms });
        return;
      }
      if (data.type === "shard") {
        current = job;
        shardStep(task, data, jobShell(job, task), done, failed);
        return;
      }
      if (data.type !== "run") return;
      current = job;
      const pending = task.run(
        new JobContext(job, task, ownField(data, "deps"), ownField(data, "args")),
      );
      current = undefined;
      settle(pending, done, failed);
    } catch (error) {
      failed(error);
    } finally {
      current = undefined;
    }
  };
  listen((data: ToWorker) => {
    if (data.type === "execDone") {
      const key = `${data.id} ${data.exec}`;
      const waiting = mapGet(commands, key);
      mapDelete(commands, key);
      if (waiting === undefined) return;
      const error = ownField(data, "error") as { name: string; message: string } | undefined;
      if (error !== undefined) {
        const failure = new NativeError(NativeString(error.message));
        defineProperty(failure, "name", {
          __proto__: null,
          value: NativeString(error.name),
          writable: true,
          configurable: true,
        } as PropertyDescriptor);
        waiting.reject(failure);
      } else waiting.resolve({ code: data.code, stdout: data.stdout, stderrTail: data.stderrTail });
      return;
    }
    if (data.type === "cancel") {
      const job = mapGet(running, data.id);
      if (job === undefined) return;
      const reason = new DOMException(data.reason.message, data.reason.name);
      // A body that has not read its signal sees it aborted when it does.
      if (job.controller === undefined) job.cancelled = reason;
      else controllerAbort(job.controller, reason);
      return;
    }
    if (data.type === "call") {
      post({ type: "error", id: data.id, error: serializeError(notServed(data.type)) });
      return;
    }
    const kind = data.type === "run" ? data.kind : "cpu";
    let task: TaskLike;
    try {
      task = lookup(data.task, kind);
    } catch (error) {
      post({ type: "error", id: data.id, error: serializeError(error) });
      return;
    }
    const job: Job = {
      id: data.id,
      task: data.task,
      io: task.kind === "io",
      controller: undefined,
      cancelled: undefined,
      bodyStart: undefined,
    };
    mapSet(running, job.id, job);
    lastJob = job;
    if (data.type === "run" && job.io) startIo(task, data, job);
    else serveJob(task, data, job);
  });
  post({ type: "ready" });
}

/** The io body `runNext` starts: set just before, read at once. */
const next: { job?: Job; task?: TaskLike; context?: JobContext } = {};

/** An io body, run in its job's async context: its start is when its own time begins. */
function runNext(): unknown {
  const { job, task, context } = next;
  next.job = next.task = next.context = undefined;
  current = job;
  job!.bodyStart = performanceNow();
  return task!.run(context!);
}

/** A field the message may leave out, read only if it is the message's own. */
function ownField(data: object, name: string): never {
  return (hasOwn(data, name) ? (data as Record<string, unknown>)[name] : undefined) as never;
}

function notServed(type: string): TypeError {
  return new TypeError(`Cannot take a "${type}" message: this worker serves another kind of work`);
}

/**
 * Makes `setTimeout`, `setInterval` and `queueMicrotask` remember the job
 * that scheduled each callback, run the callback as that job, and report a
 * throw as that job's fault instead of an uncaught error.
 */
/** `arguments` from `from` on, as a list: no `Array.from` a task may have replaced. */
function argumentList(args: IArguments, from: number): unknown[] {
  const out: unknown[] = list();
  for (let i = from; i < args.length; i++) append(out, args[i]);
  return out;
}

function wrapTimers(ownerNow: () => Job | undefined): void {
  type Scheduler = (...args: unknown[]) => unknown;
  for (const name of ["setTimeout", "setInterval", "queueMicrotask"]) {
    // The original is taken through its getter at the first call, not read
    // now: reading `setTimeout` loads Deno's timers into the worker (about
    // 1.8 MiB each), which a worker whose tasks set no timer never needs.
    const descriptor = Object.getOwnPropertyDescriptor(globalThis, name);
    const getter = descriptor?.get;
    let resolved = getter === undefined ? descriptor?.value as Scheduler | undefined : undefined;
    if (getter === undefined && typeof resolved !== "function") continue;
    const originalOf = (): Scheduler =>
      resolved ??= reflectApply(getter!, globalThis, []) as Scheduler;
    const micro = name === "queueMicrotask";
    // `arguments`, not a rest parameter: most calls pass a callback and a
    // delay only, and an io host makes one per body, so that none of them
    // allocates an array for the arguments it does not have.
    const wrapper = function (callback: unknown, delay?: unknown): unknown {
      const original = originalOf();
      if (typeof callback !== "function") {
        return reflectApply(original, globalThis, argumentList(arguments, 0));
      }
      const job = ownerNow();
      const args = micro || arguments.length <= 2 ? undefined : argumentList(arguments, 2);
      const wrapped = () => {
        const before = current;
        current = job;
        try {
          if (args === undefined) callback();
          else reflectApply(callback, undefined, args);
        } catch (error) {
          reportFault(job?.id, error);
        } finally {
          current = before;
        }
      };
      return reflectApply(original, globalThis, micro ? [wrapped] : [wrapped, delay]);
    };
    Object.defineProperty(globalThis, name, {
      value: wrapper,
      writable: true,
      configurable: true,
      enumerable: descriptor?.enumerable ?? true,
    });
  }
}

/**
 * A sharded task's step: its items materialized to an array or typed array
 * (`onValue`), or the fold of its chunks' results. The items are the task's
 * own, so they are read with the original built-ins: a Set or Map through
 * its own iteration as it was at load, a generator through the original
 * `next`, and any other iterable through its own protocol.
 */
function shardStep(
  task: TaskLike,
  data: ToWorker & { type: "shard" },
  $: ReturnType<typeof taskShell>,
  onValue: (value: unknown) => void,
  onError: (error: unknown) => void,
): void {
  const shard = task.shard;
  if (shard === undefined) {
    throw new TypeError(`Cannot shard cpu task "${data.task}": it has no items and map`);
  }
  if (data.step === "fold") {
    const parts = (ownField(data, "parts") ?? list()) as unknown[];
    if (shard.reduce === undefined) return onValue(parts);
    let acc = shard.hasInitial ? shard.initial : parts[0];
    for (let i = shard.hasInitial ? 0 : 1; i < parts.length; i++) acc = shard.reduce(acc, parts[i]);
    return onValue(acc);
  }
  if (typeof shard.items !== "function") return onValue(materialize(shard.items, data.task));
  const source = shard.items({
    name: data.task,
    signal: never(),
    deps: ownField(data, "deps"),
    args: ownField(data, "args"),
    $,
  });
  settle(source, (items) => {
    let value: unknown;
    try {
      value = materialize(items, data.task);
    } catch (error) {
      return onError(error);
    }
    onValue(value);
  }, onError);
}

/** Whether `holder`'s `Symbol.iterator` is a function of the engine's own (`[native code]`). */
function isNative(holder: object): boolean {
  const iterator = getOwnPropertyDescriptor(holder, Symbol.iterator)?.value;
  return typeof iterator === "function" && isNativeFunction(iterator);
}

/** A shard's items as an array (or the typed array they are). */
function materialize(source: unknown, task: string): unknown {
  if (isArray(source)) return dense(source);
  if (isView(source)) return source;
  if (source === null || typeof source !== "object") return source;
  const proto = getPrototypeOf(source);
  const out: unknown[] = list();
  if (proto === NativeSetPrototype) {
    const values = setValues(source as Set<unknown>);
    for (let step = setIteratorNext(values); !step.done; step = setIteratorNext(values)) {
      append(out, step.value);
    }
    return out;
  }
  if (proto === NativeMapPrototype) {
    const entries = mapEntries(source as Map<unknown, unknown>);
    for (let step = mapIteratorNext(entries); !step.done; step = mapIteratorNext(entries)) {
      const pair = step.value as [unknown, unknown];
      const entry: unknown[] = list();
      append(entry, pair[0]);
      append(entry, pair[1]);
      append(out, entry);
    }
    return out;
  }
  // A generator, or an iterator of an array, a Map or a Set: their own
  // `next`, as it was at load.
  const next = builtInNext(source);
  if (next !== undefined) {
    for (
      let step = next(source) as IteratorResult<unknown>;
      !step.done;
      step = next(source) as IteratorResult<unknown>
    ) append(out, step.value);
    return out;
  }
  if (Symbol.iterator in source) {
    // Iterated through its own protocol only if that is its own class's: a
    // built-in one's (`URLSearchParams`, `Intl.Segmenter`'s segments) is the
    // realm's, which another task may have replaced.
    for (let holder: object | null = source; holder !== null; holder = getPrototypeOf(holder)) {
      if (!hasOwn(holder, Symbol.iterator)) continue;
      if (holder !== source && (passesRealmPrototype(source, holder) || isNative(holder))) {
        throw new TypeError(
          `Cannot shard cpu task "${task}" as its items are a built-in iterable that spool does not iterate itself; return Array.from(...) of them from 'items'`,
        );
      }
      break;
    }
    return arrayFrom(source as Iterable<unknown>);
  }
  if (typeof (source as ArrayLike<unknown>).length === "number") {
    return arrayFrom(source as ArrayLike<unknown>);
  }
  return source;
}

/**
 * `items` without holes: a hole read in `map`'s loop would look the index
 * up on `Array.prototype`, where another task may have put a getter for it.
 */
function dense(items: unknown[]): unknown[] {
  const length = items.length;
  for (let i = 0; i < length; i++) {
    if (hasOwn(items, i)) continue;
    const out: unknown[] = list();
    for (let j = 0; j < length; j++) append(out, hasOwn(items, j) ? items[j] : undefined);
    return out;
  }
  return items;
}

/** The class name of a result that loses its class on the way out, if it is one. */
function classLost(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  // The original built-ins (_intrinsics.ts): the value is a task's result.
  const proto = getPrototypeOf(value);
  if (proto === NativeObjectPrototype || proto === null || isArray(value)) return undefined;
  if (
    isInstance(value, NativeMap) || isInstance(value, NativeSet) ||
    isInstance(value, NativeDate) || isInstance(value, NativeRegExp) ||
    isInstance(value, NativeError) || isInstance(value, NativeArrayBuffer) || isView(value)
  ) return undefined;
  const constructor = getOwnPropertyDescriptor(proto, "constructor")?.value as
    | { name?: unknown }
    | undefined;
  const name = typeof constructor === "function"
    ? getOwnPropertyDescriptor(constructor, "name")?.value
    : undefined;
  return typeof name === "string" && name !== "" ? name : "class";
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
  // A typed array's `length` through the original getter: a replaced one
  // would get the chunk.
  const length = isView(items) ? typedArrayLength(items) : items.length;
  let i = 0;
  try {
    if (length === 0) return { value: [] };
    const first = map(items[0], start);
    if (ownThen(first) || isInstance(first, NativePromise)) {
      throw new TypeError(
        `Cannot map cpu task "${name}" as 'map' must be synchronous: it returned a promise`,
      );
    }
    if (reduce !== undefined) {
      let acc = first;
      for (i = 1; i < length; i++) acc = reduce(acc, map(items[i], start + i));
      return { value: acc };
    }
    const out: unknown[] = list();
    append(out, first);
    for (i = 1; i < length; i++) append(out, map(items[i], start + i));
    return { value: out };
  } catch (error) {
    return { index: start + i, error: serializeError(error) };
  }
}
