/**
 * Every message between the worker pool (main side), a sandbox host process
 * (_host_main.ts, which relays) and a worker (worker_main.ts): task bodies,
 * shard chunks and io hosts, and a cpu executor's calls alike. Every side
 * imports only this file from the others.
 *
 * @module
 */

import {
  append,
  arrayOf,
  BUILT_IN_ERROR_CLASSES,
  dataViewBuffer,
  dateToString,
  defineProperty,
  getOwnPropertyDescriptor,
  getPrototypeOf,
  hasOwn,
  isArray,
  isBuiltInPrototype,
  isInstance,
  isView,
  list,
  mapEntries,
  mapGet,
  mapIteratorNext,
  mapSet,
  NativeAggregateError,
  NativeArrayBuffer,
  NativeDataView,
  NativeDate,
  NativeDOMException,
  NativeError,
  NativeFloat64Array,
  NativeMap,
  NativeSet,
  NativeString,
  nativeStructuredClone,
  objectKeys,
  objectValues,
  reflectApply,
  setAdd,
  setHas,
  setIteratorNext,
  setValues,
  typedArrayBuffer,
  weakSetDelete,
  withQuietStacks,
} from "./_intrinsics.ts";

/** An error as it crosses from a worker: enough to rebuild its class, message, stack and cause. */
export interface SerializedError {
  /** The error's name, such as `"TypeError"` or a custom class's `"ParseError"`. */
  name: string;
  /** Its message. */
  message: string;
  /** Its stack, as the worker saw it. */
  stack?: string;
  /**
   * The nearest built-in class it is an instance of (`"RangeError"`,
   * `"DOMException"`, `"Deno.errors.NotFound"`, ...), rebuilt on the main side so that `instanceof`
   * holds. Absent from older senders: then a plain `Error`.
   */
  type?: string;
  /** Its `cause`: an error, or a value that survives structured cloning. */
  cause?: { error: SerializedError } | { value: unknown };
  /** An `AggregateError`'s `errors`. */
  errors?: SerializedError[];
  /** Own properties with primitive values, such as Node-style `code`. */
  props?: Record<string, string | number | boolean | null>;
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
    /** Results of its dependencies, structured-cloned; absent when it has none (most io tasks). */
    deps?: Record<string, unknown>;
    /** The lane the task was declared in; a task of the other lane is refused. */
    kind: "cpu" | "io";
    /** The run's arguments (`spool run t -- a b`); absent when there are none. */
    args?: readonly string[];
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
  }
  | {
    /**
     * Run a sharded task's own code that is not `map`, in its sandbox: its
     * `items` function (with the task's context) or the fold of the chunks'
     * results with its `reduce` (from `initial` when given).
     */
    type: "shard";
    id: number;
    task: string;
    step: "items" | "fold";
    deps: Record<string, unknown>;
    args: readonly string[];
    /** For `fold`: the chunks' results, in order. */
    parts?: unknown[];
  }
  | {
    /**
     * Call one export of the worker's module on a chunk of inputs, in order
     * (a cpu executor's `submit` or `map`). A worker runs its calls one
     * chunk at a time, in the order they arrive: the pool may send the next
     * chunk before this one is answered.
     */
    type: "call";
    id: number;
    /** The export to call. */
    export: string;
    /**
     * The inputs, structured-cloned; one call per input. A chunk of plain
     * numbers crosses packed in a `Float64Array` (see `_packed_numbers.ts`).
     */
    inputs: unknown[] | Float64Array;
  }
  | {
    /** Abort a running io body's signal (cpu bodies are stopped by recycling their worker). */
    type: "cancel";
    id: number;
    /** The abort reason the body's signal gets. */
    reason: SerializedError;
  }
  | {
    /** A command a body started with `$` ended (or could not run: `error`). */
    type: "execDone";
    id: number;
    /** Which of the job's commands. */
    exec: number;
    code: number;
    stdout: string;
    stderrTail: string[];
    error?: SerializedError;
  };

/**
 * Run many tasks that have no deps and no run arguments: the same as one
 * `run` message each (see {@linkcode packRuns}). The worker's guard unpacks
 * it before its listener sees anything.
 */
export interface PackedRuns {
  type: "runs";
  kind: "cpu" | "io";
  /** The jobs' ids, in order. */
  ids: Float64Array;
  /** The tasks' names, one per id. */
  tasks: string[];
}

/** Runner to a sandbox host: a message for its worker, or a request to the host itself. */
export type ToHost = ToWorker | PackedRuns | {
  /** Replace the worker with a fresh one: a new realm, no timers or globals left over. */
  type: "recycle";
};

/** What a sandbox host process is started with (its first argument, as JSON). */
export interface HostConfig {
  /** The loopback port the runner listens on for this host. */
  port: number;
  /** The worker's entry module (a data: URL). */
  bootstrap: string;
  /** The worker's name, as shown in stack traces. */
  name: string;
  /** Exactly the task's permissions, for the worker. */
  permissions: Deno.PermissionOptionsObject;
}

/** Worker to main side. */
export type FromWorker =
  | {
    /** The worker's module loaded; the worker takes work. */
    type: "ready";
  }
  | {
    /**
     * A task body or a chunk returned. For a chunk of calls, `value` is the
     * results: an array, or a `Float64Array` when they are all numbers.
     */
    type: "result";
    id: number;
    value: unknown;
    /**
     * For a chunk, the time `map` took, in ms: the pool sizes later chunks by
     * it. For an io body, the time from its start to its settling on the
     * host's clock.
     */
    ms?: number;
  }
  | {
    /**
     * Many `result` messages whose value is a primitive and that carry `ms`:
     * the same as one each (see {@linkcode packResults}).
     */
    type: "results";
    ids: Float64Array;
    ms: Float64Array;
    values: unknown[];
  }
  | {
    /** A task body or a call threw, or its result could not be cloned. */
    type: "error";
    id: number;
    error: SerializedError;
    /** For a chunk, the index of the item whose `map` threw. */
    index?: number;
    /** For a chunk of calls, the results of the calls before the failing one. */
    values?: unknown[];
  }
  | {
    /** The worker cannot serve: its module failed to load, or a task module has no task set. */
    type: "fatal";
    error: SerializedError;
  }
  | {
    /**
     * An error raised outside any body's own promise (a timer's callback, an
     * unhandled rejection) that the worker traced to the job that caused it,
     * or to no job (`id` absent). The worker keeps serving.
     */
    type: "fault";
    id?: number;
    error: SerializedError;
  }
  | {
    /** A host's first frame: the token it was given on stdin. */
    type: "hello";
    token: string;
  }
  | {
    /**
     * A body asks the runner to run a command with `$`, in a shell process
     * holding the task's permissions; its output comes back as the job's.
     */
    type: "exec";
    id: number;
    exec: number;
    command: string;
    /** Relative to the task module's folder. */
    cwd?: string;
    /** Keep stdout for the body instead of printing it. */
    capture: boolean;
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

/** Fewer messages than this in a row are sent as they are: packing them saves less than it costs. */
const MIN_PACKED = 16;

type RunMessage = ToWorker & { type: "run" };
type ResultMessage = FromWorker & { type: "result" };

/**
 * Packs each stretch of run messages that carry no deps and no arguments
 * (the 10,000 waits of a fan-out) into one `runs` message: ids in a
 * `Float64Array`, names in an array of strings. Each hop (serialized by the
 * runner, read and cloned again by a host, read by its worker) then handles
 * a few numbers and strings per task instead of an object with four keys:
 * about 0.5 µs a task in all instead of 4.
 *
 * @param batch Messages in the order they are sent.
 * @returns The same messages, packed where that pays; `batch` itself when nothing is.
 */
export function packRuns(batch: ToHost[]): ToHost[] {
  if (batch.length < MIN_PACKED) return batch;
  let out: ToHost[] | undefined;
  let i = 0;
  while (i < batch.length) {
    const first = batch[i];
    let end = i;
    if (isBareRun(first)) {
      end = i + 1;
      while (
        end < batch.length && isBareRun(batch[end]) &&
        (batch[end] as RunMessage).kind === first.kind
      ) {
        end++;
      }
    }
    if (end - i >= MIN_PACKED) {
      out ??= batch.slice(0, i);
      const ids = new Float64Array(end - i);
      const tasks: string[] = new Array(end - i);
      for (let k = i; k < end; k++) {
        const run = batch[k] as RunMessage;
        ids[k - i] = run.id;
        tasks[k - i] = run.task;
      }
      out.push({ type: "runs", kind: (first as RunMessage).kind, ids, tasks });
      i = end;
    } else {
      out?.push(first);
      i++;
    }
  }
  return out ?? batch;
}

function isBareRun(message: ToHost): message is RunMessage {
  return message.type === "run" && message.deps === undefined && message.args === undefined;
}

/**
 * Calls `each` with every run message a `runs` message stands for, in order.
 *
 * @param message A `runs` message.
 * @param each Called with each run message.
 */
export function unpackRuns(message: PackedRuns, each: (run: RunMessage) => void): void {
  const { kind, ids, tasks } = message;
  const length = tasks.length;
  // deps and args as own properties: a read of one that is absent would
  // reach `Object.prototype`, where task code may have put a getter.
  for (let i = 0; i < length; i++) {
    each({ type: "run", id: ids[i], task: tasks[i], kind, deps: undefined, args: undefined });
  }
}

/**
 * Packs each stretch of results whose value is a primitive and that carry
 * `ms` (io bodies that settled together) into one `results` message, as
 * {@linkcode packRuns} does on the way in. Such a value can always be
 * cloned, so nothing packed can fail to cross.
 *
 * @param batch Messages in the order they are sent.
 * @returns The same messages, packed where that pays; `batch` itself when nothing is.
 */
export function packResults(batch: FromWorker[]): FromWorker[] {
  if (batch.length < MIN_PACKED) return batch;
  let out: FromWorker[] | undefined;
  let i = 0;
  while (i < batch.length) {
    let end = i;
    while (end < batch.length && isBareResult(batch[end])) end++;
    if (end - i >= MIN_PACKED) {
      if (out === undefined) {
        // Lists and the original constructor (`_intrinsics.ts`): in a
        // worker, these are other tasks' results.
        out = list();
        for (let k = 0; k < i; k++) append(out, batch[k]);
      }
      const ids = new NativeFloat64Array(end - i);
      const ms = new NativeFloat64Array(end - i);
      const values: unknown[] = list();
      for (let k = i; k < end; k++) {
        const result = batch[k] as ResultMessage;
        ids[k - i] = result.id;
        ms[k - i] = result.ms!;
        append(values, result.value);
      }
      append(out, { type: "results", ids, ms, values });
      i = end;
    } else {
      if (out !== undefined) append(out, batch[i]);
      i++;
    }
  }
  return out ?? batch;
}

function isBareResult(message: FromWorker): boolean {
  if (message.type !== "result" || !hasOwn(message, "ms") || typeof message.ms !== "number") {
    return false;
  }
  const value = message.value;
  const type = typeof value;
  // A symbol cannot be cloned: it goes alone, and fails alone.
  return value === null || (type !== "object" && type !== "function" && type !== "symbol");
}

/**
 * Turns a thrown value into something that crosses `postMessage` intact:
 * its built-in class, name, message, stack, primitive own properties, and
 * its `cause` and an `AggregateError`'s `errors`, recursively (a few levels
 * deep).
 *
 * @param error Whatever was thrown.
 * @returns The plain data {@linkcode deserializeError} rebuilds it from.
 */
export function serializeError(error: unknown): SerializedError {
  try {
    return serializeErrorAt(error, 0);
  } catch {
    // A Proxy, or an error whose getters throw: described without touching it again.
    return { name: "Error", message: `A non-error value was thrown: ${describeThrown(error)}` };
  }
}

/**
 * Describes any thrown value without throwing: objects with no prototype,
 * Proxies whose traps throw and values whose `toString` throws included.
 *
 * @param value Whatever was thrown.
 * @returns A short description.
 */
export function describeThrown(value: unknown): string {
  try {
    if ((typeof value !== "object" || value === null) && typeof value !== "function") {
      return NativeString(value);
    }
    // An object: its own class's `toString`, if it has one. One a built-in
    // prototype holds is the realm's, which another task may have replaced,
    // and converting the value would hand it over: described by kind then.
    for (
      let holder: object | null = value as object;
      holder !== null;
      holder = getPrototypeOf(holder)
    ) {
      if (isBuiltInPrototype(holder)) break;
      const descriptor = getOwnPropertyDescriptor(holder, "toString");
      if (descriptor === undefined) continue;
      if (typeof descriptor.value !== "function") break;
      const text = reflectApply(descriptor.value, value, []);
      return typeof text === "string" ? text : describeThrown(text);
    }
    if (isArray(value)) {
      let text = "";
      const count = value.length < 100 ? value.length : 100;
      for (let i = 0; i < count; i++) {
        const item = hasOwn(value, i) ? value[i] : undefined;
        text += (i === 0 ? "" : ",") + (item == null ? "" : describeThrown(item));
      }
      return text;
    }
    if (isInstance(value, NativeDate)) return dateToString(value);
    return typeof value === "function" ? "[object Function]" : "[object Object]";
  } catch {
    return "a value that cannot be described";
  }
}

/**
 * Rebuilds an error on the main side: an instance of the same built-in class
 * (`RangeError`, `DOMException` with its name such as `"AbortError"`, ...),
 * with the worker's name, message, stack, cause and properties. A custom
 * class is rebuilt as its nearest built-in ancestor and keeps its `name`.
 *
 * @param data The serialized error.
 * @returns The error.
 */
export function deserializeError(data: SerializedError): Error {
  let error: Error;
  const errors = data.errors?.map(deserializeError) ?? [];
  if (data.type === "DOMException") {
    error = new DOMException(data.message, data.name);
  } else if (data.type === "AggregateError") {
    error = new AggregateError(errors, data.message);
  } else {
    const Class = WITH_DENO_ERRORS.find(([name]) => name === data.type)?.[1] ?? Error;
    error = new Class(data.message);
  }
  if (error.name !== data.name) {
    Object.defineProperty(error, "name", {
      value: data.name,
      writable: true,
      configurable: true,
      enumerable: false,
    });
  }
  if (data.stack !== undefined) {
    Object.defineProperty(error, "stack", {
      value: data.stack,
      writable: true,
      configurable: true,
      enumerable: false,
    });
  }
  if (data.cause !== undefined) {
    const cause = "error" in data.cause ? deserializeError(data.cause.error) : data.cause.value;
    Object.defineProperty(error, "cause", {
      value: cause,
      writable: true,
      configurable: true,
      enumerable: false,
    });
  }
  if (data.props !== undefined) {
    for (const [key, value] of Object.entries(data.props)) {
      if (!(key in error)) (error as unknown as Record<string, unknown>)[key] = value;
    }
  }
  return error;
}

/** The classes rebuilt by name, most specific first (DOMException and AggregateError apart). */
const BUILT_IN_ERRORS: readonly (readonly [string, ErrorConstructor])[] = [
  ["EvalError", EvalError],
  ["RangeError", RangeError],
  ["ReferenceError", ReferenceError],
  ["SyntaxError", SyntaxError],
  ["TypeError", TypeError],
  ["URIError", URIError],
];

/**
 * {@linkcode BUILT_IN_ERRORS} and, where the `Deno` namespace exists, every
 * class of `Deno.errors` (`NotFound`, `PermissionDenied`, `NotCapable`...),
 * which code checks with `instanceof` as often as the standard ones. They
 * extend `Error` directly, so they come first. Taken when this module loads:
 * in a worker, before task code, which could replace `Deno.errors` with
 * classes of its own and so be handed other tasks' errors.
 */
const WITH_DENO_ERRORS: readonly (readonly [string, ErrorConstructor])[] = (() => {
  const out: (readonly [string, ErrorConstructor])[] = list();
  const errors = typeof Deno === "object" && typeof Deno.errors === "object" ? Deno.errors : {};
  const names = objectKeys(errors);
  for (let i = 0; i < names.length; i++) {
    const Class = (errors as Record<string, unknown>)[names[i]];
    if (typeof Class === "function") {
      append(out, [`Deno.errors.${names[i]}`, Class as ErrorConstructor] as const);
    }
  }
  for (let i = 0; i < BUILT_IN_ERRORS.length; i++) append(out, BUILT_IN_ERRORS[i]);
  // An ordinary array: the main side looks classes up in it with `find`.
  return arrayOf(out);
})();

/** The prototypes of the built-in error classes, and their names, as they were when spool loaded. */
const BUILT_IN_NAMES = new NativeMap<object, string>();
for (let i = 0; i < BUILT_IN_ERROR_CLASSES.length; i++) {
  const proto = BUILT_IN_ERROR_CLASSES[i].prototype;
  mapSet(BUILT_IN_NAMES, proto, proto.name);
}

/** How deep causes and aggregated errors are followed: a cycle or a long chain stops here. */
const MAX_ERROR_DEPTH = 8;

function serializeErrorAt(error: unknown, depth: number): SerializedError {
  // The original built-ins throughout (`_intrinsics.ts`): in a worker, this
  // is another task's error, in a realm tasks share.
  if (!isInstance(error, NativeError)) {
    return { name: "Error", message: `A non-error value was thrown: ${describeThrown(error)}` };
  }
  const data: SerializedError = {
    name: NativeString(errorName(error)),
    message: NativeString(classField(error, "message") ?? ""),
    // Read with `Error.prepareStackTrace` out of the way (_intrinsics.ts).
    stack: withQuietStacks(() => error.stack),
    type: builtInType(error),
  };
  if (depth < MAX_ERROR_DEPTH) {
    // Own fields only: a getter on a built-in prototype would get the error.
    const cause = ownValue(error, "cause");
    if (cause !== undefined) {
      data.cause = isInstance(cause, NativeError)
        ? { error: serializeErrorAt(cause, depth + 1) }
        : clonable(cause)
        ? { value: cause }
        : { value: describeThrown(cause) };
    }
    const inner = ownValue(error, "errors");
    if (isInstance(error, NativeAggregateError) && isArray(inner)) {
      const errors: SerializedError[] = list();
      const count = inner.length < 100 ? inner.length : 100;
      for (let i = 0; i < count; i++) append(errors, serializeErrorAt(inner[i], depth + 1));
      data.errors = arrayOf(errors);
    }
  }
  const keys = objectKeys(error);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    const value = (error as unknown as Record<string, unknown>)[key];
    const type = typeof value;
    if (value === null || type === "string" || type === "number" || type === "boolean") {
      data.props ??= {};
      // Defined, not assigned: no setter a task put on Object.prototype runs.
      defineProperty(data.props, key, {
        value,
        writable: true,
        enumerable: true,
        configurable: true,
      });
    }
  }
  return data;
}

/** What a read of a property with `descriptor` gives on `receiver`: its value, or its getter's answer. */
function readWith(descriptor: PropertyDescriptor, receiver: object): unknown {
  if ("value" in descriptor) return descriptor.value;
  return descriptor.get === undefined ? undefined : reflectApply(descriptor.get, receiver, []);
}

/** `value`'s own property `key`, or `undefined` (an accessor is called, on the value itself). */
function ownValue(value: object, key: string): unknown {
  const descriptor = getOwnPropertyDescriptor(value, key);
  return descriptor === undefined ? undefined : readWith(descriptor, value);
}

/**
 * A field of an error, its own or its class's, but `undefined` where it
 * would come from a built-in prototype: there, another task may have put a
 * getter that would get the error.
 */
function classField(error: object, key: string): unknown {
  for (let holder: object | null = error; holder !== null; holder = getPrototypeOf(holder)) {
    if (holder !== error && isBuiltInPrototype(holder)) return undefined;
    const descriptor = getOwnPropertyDescriptor(holder, key);
    if (descriptor !== undefined) return readWith(descriptor, error);
  }
  return undefined;
}

/**
 * An error's `name`: its own, or its class's; the original name of a
 * built-in class when that is where it comes from, whatever a task has put
 * on that class's prototype since.
 */
function errorName(error: Error): unknown {
  for (let holder: object | null = error; holder !== null; holder = getPrototypeOf(holder)) {
    const builtIn = mapGet(BUILT_IN_NAMES, holder);
    if (builtIn !== undefined) return builtIn;
    const descriptor = getOwnPropertyDescriptor(holder, "name");
    if (descriptor !== undefined) {
      return "value" in descriptor ? descriptor.value : reflectApply(descriptor.get!, error, []);
    }
  }
  return "Error";
}

function builtInType(error: Error): string {
  if (NativeDOMException !== undefined && isInstance(error, NativeDOMException)) {
    return "DOMException";
  }
  if (isInstance(error, NativeAggregateError)) return "AggregateError";
  const errors = WITH_DENO_ERRORS;
  for (let i = 0; i < errors.length; i++) if (isInstance(error, errors[i][1])) return errors[i][0];
  return "Error";
}

function clonable(value: unknown): boolean {
  if (value === null || typeof value !== "object") {
    return typeof value !== "function" && typeof value !== "symbol";
  }
  try {
    nativeStructuredClone(value);
    return true;
  } catch {
    return false;
  }
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
  let marks = g[MARKS];
  if (marks === undefined) {
    marks = { buffers: new WeakSet(), pending: 0 };
    // Neither they nor their set can be swapped for another object by task
    // code, which would then get the buffers other tasks mark.
    defineProperty(marks, "buffers", { writable: false, configurable: false });
    defineProperty(g, MARKS, { value: marks, writable: false, configurable: false });
  }
  return marks;
}

/**
 * The marks as this copy of spool found them when it loaded, before any
 * task code ran: a task that replaces the realm's marks later cannot make
 * the worker side use its object.
 */
const ownMarks = transferMarks();

/** What almost every message moves: nothing. Shared, never changed: callers only read it. */
const NO_BUFFERS = Object.freeze([]) as unknown as ArrayBuffer[];

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
  // Every step takes the original built-ins (`_intrinsics.ts`): in a worker,
  // the value is a task's result, and the realm is shared with other tasks.
  const marks = ownMarks;
  if (marks.pending === 0 || typeof value !== "object" || value === null) return NO_BUFFERS;
  const found: ArrayBuffer[] = list();
  const seen = new NativeSet<object>();
  const stack: object[] = list();
  append(stack, value);
  const push = (item: unknown) => {
    if (typeof item === "object" && item !== null) append(stack, item);
  };
  const take = (buffer: ArrayBufferLike) => {
    if (isInstance(buffer, NativeArrayBuffer) && weakSetDelete(marks.buffers, buffer)) {
      marks.pending--;
      append(found, buffer as ArrayBuffer);
    }
  };
  while (stack.length > 0) {
    const current = stack[stack.length - 1];
    stack.length--;
    if (setHas(seen, current)) continue;
    setAdd(seen, current);
    if (isInstance(current, NativeArrayBuffer)) {
      take(current as ArrayBuffer);
    } else if (isView(current)) {
      take(
        isInstance(current, NativeDataView) ? dataViewBuffer(current) : typedArrayBuffer(current),
      );
    } else if (isArray(current)) {
      for (let i = 0; i < current.length; i++) if (hasOwn(current, i)) push(current[i]);
    } else if (isInstance(current, NativeMap)) {
      const entries = mapEntries(current as Map<unknown, unknown>);
      for (let step = mapIteratorNext(entries); !step.done; step = mapIteratorNext(entries)) {
        const entry = step.value as [unknown, unknown];
        push(entry[0]);
        push(entry[1]);
      }
    } else if (isInstance(current, NativeSet)) {
      const items = setValues(current as Set<unknown>);
      for (let step = setIteratorNext(items); !step.done; step = setIteratorNext(items)) {
        push(step.value);
      }
    } else {
      const items = objectValues(current);
      for (let i = 0; i < items.length; i++) push(items[i]);
    }
  }
  // An ordinary array: `postMessage` takes its transfer list as a sequence.
  return found.length === 0 ? NO_BUFFERS : arrayOf(found);
}
