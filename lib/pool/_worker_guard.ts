/**
 * Worker side, evaluated before any task code: takes the worker's channel to
 * the pool out of reach of task code, and turns every way a worker can fail
 * outside a body's own promise into a message the pool can act on.
 *
 * - The channel: `postMessage`, the message listener and the `data` getter of
 *   message events are captured here, and the pool's messages stop at this
 *   listener, so a task's own `onmessage` or listener never sees another
 *   job's deps, and a patched `self.postMessage` cannot forge a result. The
 *   built-ins this side uses on messages come from `_intrinsics.ts`, taken
 *   before task code runs, and the hooks the language consults on every
 *   value in flight (`then`, `Promise.prototype.constructor`, fields a
 *   message leaves out) are locked here first (`lockHooks`): a task that
 *   patches `Array.prototype.push` or puts a `then` getter on
 *   `Object.prototype` does not see the jobs it shares this worker with,
 *   in spool's code or in Deno's (README, "Permissions").
 * - Faults: an uncaught error or unhandled rejection (from a timer a body left
 *   behind, say) becomes a `fault` traced to the job it belongs to, and the
 *   worker keeps serving; while the task module is still loading it is
 *   `fatal`. `self.close()` and `Deno.exit()` throw in the task that calls
 *   them: a task cannot end the worker that other tasks share.
 * - Signals: `Deno.kill` of the worker's own process needs no permission in
 *   Deno; here it needs the `run` permission the task declared.
 *
 * It imports only the protocol and the parked wait (`_park.ts`).
 *
 * @module
 */

// First: the built-ins below are the originals only if taken before task code runs.
import {
  append,
  hasOwn,
  isArray,
  list,
  lockedAccessor,
  lockHooks,
  mapGet,
  mapSet,
  NativeMap,
  NativePromise,
  sequenceOf,
  withQuietStacks,
} from "./_intrinsics.ts";
import {
  describeThrown,
  type FromWorker,
  type PackedRuns,
  packResults,
  serializeError,
  type ToWorker,
  unpackRuns,
} from "./_protocol.ts";
import { canParkOnOperation, parkOnOperation } from "./_park.ts";

type Post = (
  message: FromWorker,
  transfer?: Transferable[],
  onUnsendable?: (error: Error) => FromWorker,
) => void;
type Listener = (data: ToWorker) => void;

const reflectApply = Reflect.apply;
const inWorker = "WorkerGlobalScope" in globalThis;
const scope = globalThis as unknown as {
  postMessage: Post;
  close(): void;
};
const rawPost: Post = inWorker ? scope.postMessage.bind(scope) : () => {};
const addListener = EventTarget.prototype.addEventListener;
// Deno makes `data` an own property of each event (a getter elsewhere): read
// it through the getter when there is one, so a patched prototype cannot see it.
const dataGetter = Object.getOwnPropertyDescriptor(MessageEvent.prototype, "data")?.get;
const dataOf = (event: Event): unknown =>
  dataGetter === undefined ? (event as MessageEvent).data : reflectApply(dataGetter, event, []);
const stopImmediate = Event.prototype.stopImmediatePropagation;
// What a fault event carries, read through the original getters: a task can
// replace them on the prototypes, and would then get other tasks' faults.
const errorOf = Object.getOwnPropertyDescriptor(ErrorEvent.prototype, "error")!.get!;
const reasonOf = Object.getOwnPropertyDescriptor(PromiseRejectionEvent.prototype, "reason")!.get!;
const preventDefault = Event.prototype.preventDefault;

let listener: Listener | undefined;
const early: ToWorker[] = list();
let serving = false;
let ownerOf: () => number | undefined = () => undefined;
let fatalSent = false;

const enqueueMicrotask = globalThis.queueMicrotask;
/**
 * In a worker that runs many tasks at once (an io host), queued messages go
 * out at the next macrotask, not the next microtask: the timers that fire
 * together (many io bodies waking at once) then send their results as one
 * message. A worker that runs one task at a time sends at once.
 */
let acrossTasks = false;
/**
 * A worker that runs tasks sends a result at the next macrotask too, after
 * the microtasks its body left: a body that left the queue busy for good
 * (a promise chain that never ends) is then not reported done, and fails by
 * its own deadline, instead of the next task, whose message the worker would
 * never take.
 */
let flushLater = false;
const flushChannel = inWorker ? new MessageChannel() : undefined;
const scheduleFlush = flushChannel === undefined ? () => {} : (() => {
  const port = flushChannel.port2;
  flushChannel.port1.onmessage = () => flushOutbox();
  // Deno delivers to a port through its `dispatchEvent`, looked up on
  // EventTarget.prototype: a task that replaced it there would stop every
  // later message of this worker. The port's own is the original.
  Object.defineProperty(flushChannel.port1, "dispatchEvent", {
    value: EventTarget.prototype.dispatchEvent,
  });
  const send = port.postMessage.bind(port);
  return () => send(0);
})();
let outbox: FromWorker[] = list();
let outboxTransfer: Transferable[] = list();
/** For each queued message that has one: what to send instead if it cannot be cloned. */
let outboxFallback = new NativeMap<FromWorker, (error: Error) => FromWorker>();

/** Sends what the tick queued as one message: one structured clone, not one each. */
function flushOutbox(): void {
  const batch = outbox;
  const transfer = outboxTransfer;
  const fallback = outboxFallback;
  outbox = list();
  outboxTransfer = list();
  outboxFallback = new NativeMap();
  try {
    // Without a transfer list Deno takes a faster path (no list to convert).
    // V8's serializer reads the stack of an error in a result: not through
    // an `Error.prepareStackTrace` a task put there (_intrinsics.ts).
    withQuietStacks(() =>
      reflectApply(
        rawPost,
        undefined,
        transfer.length === 0 ? [packResults(batch)] : [packResults(batch), sequenceOf(transfer)],
      )
    );
  } catch {
    // One of them cannot be cloned: send them one at a time, so that only it fails.
    for (let i = 0; i < batch.length; i++) {
      const message = batch[i];
      try {
        withQuietStacks(() => reflectApply(rawPost, undefined, [message]));
      } catch (error) {
        // Each message alone: whatever happens to this one, the next go out.
        try {
          const instead = mapGet(fallback, message);
          if (instead !== undefined) reflectApply(rawPost, undefined, [instead(error as Error)]);
        } catch {
          // Its fallback failed too (a getter a task replaced threw): the job
          // still gets an answer.
          if (hasOwn(message, "id")) {
            reflectApply(rawPost, undefined, [{
              type: "error",
              id: (message as { id: number }).id,
              error: {
                name: "TypeError",
                message: "Cannot return the result of the task: it is not structured-cloneable",
              },
            }]);
          }
        }
      }
    }
  }
}

/**
 * In an io host, what the pool sent waits here and is taken in slices of
 * about {@linkcode SLICE_MS}, with the runtime parked between them. Tasks
 * reach a host thousands at a time (all those the runner started while the
 * host itself started come as one message), and taken in one go they held
 * the loop: the first bodies' timers fired only once the last task had
 * started, 170 ms late for 6,000. Between slices the worker waits on an
 * operation that completes on another thread (`_park.ts`), not a message to
 * itself: a loop that always has a message ready looks at its sockets (a
 * task's `fetch`) only every 61st turn.
 *
 * Every {@linkcode TIMER_PARK_EVERY}th wait is on a timer instead: the
 * runtime runs every timer due before it first. On a loaded machine the
 * operation's answer could come back before the timers had their turn, and
 * 6,000 tasks' timers fired 136 ms late (median) behind a host still taking
 * messages; this bounds the wait at about 4 slices.
 */
const inbox: (ToWorker | undefined)[] = list();
let inboxHead = 0;
let draining = false;
const SLICE_MS = 4;
const TIMER_PARK_EVERY = 4;
// Through its getter at first use: reading `setTimeout` now would load
// Deno's timers into every worker (see worker_main.ts's wrapTimers).
const timerDescriptor = Object.getOwnPropertyDescriptor(globalThis, "setTimeout");
let originalTimer: ((callback: () => void, ms: number) => unknown) | undefined;
function parkOnTimer(): Promise<void> {
  originalTimer ??=
    (timerDescriptor?.get === undefined
      ? timerDescriptor?.value
      : reflectApply(timerDescriptor.get, globalThis, [])) as typeof originalTimer;
  return new NativePromise((resolve) => reflectApply(originalTimer!, globalThis, [resolve, 0]));
}
const clock = performance.now.bind(performance);

async function drainInbox(): Promise<void> {
  draining = true;
  let sliceStart = clock();
  let parks = 0;
  while (inboxHead < inbox.length) {
    const message = inbox[inboxHead]!;
    inbox[inboxHead++] = undefined;
    try {
      listener!(message);
    } catch (error) {
      reportFault(undefined, error);
    }
    if ((inboxHead & 15) !== 0) continue;
    // The bodies these messages start run now, inside the slice they count in.
    await null;
    if (clock() - sliceStart < SLICE_MS || !canParkOnOperation) continue;
    try {
      await (++parks % TIMER_PARK_EVERY === 0 ? parkOnTimer() : parkOnOperation());
    } catch {
      // Only the wait matters.
    }
    sliceStart = clock();
  }
  inbox.length = 0;
  inboxHead = 0;
  draining = false;
}

function take(message: ToWorker): void {
  if (listener === undefined) append(early, message);
  else if (acrossTasks) append(inbox, message);
  else listener(message);
}

/** The worker's channel to the pool, captured before task code runs. */
const channel: {
  post: Post;
  listen(handler: Listener): void;
  /** Batch messages across tasks (a worker that runs many at once). */
  batchAcrossTasks(): void;
  /** Send at the next macrotask, not the next microtask (a worker that runs tasks). */
  flushAtNextTask(): void;
} = {
  batchAcrossTasks() {
    acrossTasks = true;
  },
  flushAtNextTask() {
    flushLater = true;
  },
  post(message, transfer, onUnsendable) {
    if (outbox.length === 0) {
      if (acrossTasks || flushLater) scheduleFlush();
      else reflectApply(enqueueMicrotask, globalThis, [flushOutbox]);
    }
    append(outbox, message);
    if (transfer !== undefined) {
      for (let i = 0; i < transfer.length; i++) append(outboxTransfer, transfer[i]);
    }
    if (onUnsendable !== undefined) mapSet(outboxFallback, message, onUnsendable);
  },
  listen(handler) {
    listener = handler;
    serving = true;
    const waiting = early.length;
    for (let i = 0; i < waiting; i++) handler(early[i]);
    early.length = 0;
  },
};

/**
 * Reports an error raised outside a body's promise as a fault of a job.
 *
 * @param id The job it belongs to; `undefined` when it cannot be told.
 * @param error What was thrown.
 */
function reportFault(id: number | undefined, error: unknown): void {
  const message: FromWorker = id === undefined
    ? { type: "fault", error: serializeError(error) }
    : { type: "fault", id, error: serializeError(error) };
  channel.post(message);
}

/**
 * Tells the guard how to find the job an unhandled rejection belongs to.
 *
 * @param find Returns the job's id, or `undefined` when it cannot be told.
 */
function setFaultOwner(find: () => number | undefined): void {
  ownerOf = find;
}

/** What the worker side takes from the guard: its channel and its fault reporting. */
export interface Guard {
  /** The worker's channel to the pool. */
  channel: typeof channel;
  /** Reports an error raised outside a body's promise as a fault of a job. */
  reportFault: typeof reportFault;
  /** Tells the guard how to find the job an unhandled rejection belongs to. */
  setFaultOwner: typeof setFaultOwner;
}

let taken = false;

/**
 * Hands the channel over, once: `worker_main.ts` takes it while the worker
 * loads, before the task module is evaluated. The module stays importable
 * by URL, and task code that imports it later (a module already loaded
 * needs no read permission) gets an error, not the channel, which would
 * let it hear every later job's deps and answer for any job.
 *
 * @returns The channel and the fault reporting.
 * @throws {Error} Once taken.
 */
export function takeGuard(): Guard {
  if (taken) {
    throw new Error("The worker's channel belongs to spool: it was taken when the worker started");
  }
  taken = true;
  return { channel, reportFault, setFaultOwner };
}

function fatal(message: string, cause?: unknown): void {
  if (fatalSent) return;
  fatalSent = true;
  const error = cause === undefined ? new Error(message) : serializeError(cause);
  // Frames in this file say nothing; the caller of close() or exit() does.
  const stack = error.stack?.split("\n").filter((line) => !line.includes(import.meta.url))
    .join("\n");
  try {
    channel.post({ type: "fatal", error: { name: error.name, message, stack } });
  } catch {
    // The main side terminates a worker that stops answering.
  }
}

function describe(value: unknown): string {
  return value instanceof Error ? `${value.name}: ${value.message}` : describeThrown(value);
}

function guard(): void {
  if (!inWorker) return;
  lockHooks();
  // The channel is spool's both ways. Posting: the scope's `postMessage`
  // throws for task code (a result posted under a later job's id would be
  // taken as that job's). Receiving: Deno delivers the pool's messages
  // without `dispatchEvent`, so a "message" event dispatched on the scope
  // is task code's, which would forge a job, a command's answer or a cancel.
  Object.defineProperty(globalThis, "postMessage", {
    value: () => {
      throw new TypeError(
        "A task cannot post to its worker's channel: it belongs to spool; return the value instead",
      );
    },
    writable: false,
    enumerable: true,
    configurable: false,
  });
  const dispatch = EventTarget.prototype.dispatchEvent;
  const typeOf = Object.getOwnPropertyDescriptor(Event.prototype, "type")!.get!;
  const guarded = function dispatchEvent(this: EventTarget, event: Event): boolean {
    if (this === globalThis) {
      const type = reflectApply(typeOf, event, []);
      if (type === "message" || type === "messageerror") {
        throw new TypeError(
          `A task cannot dispatch a "${type}" event on its worker's scope: its channel belongs to spool`,
        );
      }
    }
    return reflectApply(dispatch, this, [event]);
  };
  Object.defineProperty(
    EventTarget.prototype,
    "dispatchEvent",
    lockedAccessor("dispatchEvent", () => guarded),
  );
  // Tells a copy of spool that the task module loads in here that it is in a
  // sandbox: a script's top-level run() does not start a run of its own.
  (globalThis as Record<symbol, unknown>)[Symbol.for("spool.worker")] = true;
  // Capture phase and first registered: the pool's messages stop here.
  reflectApply(addListener, globalThis, [
    "message",
    (event: Event) => {
      reflectApply(stopImmediate, event, []);
      const data = dataOf(event) as ToWorker | PackedRuns | (ToWorker | PackedRuns)[];
      // A host sends the messages of one tick as one array.
      if (isArray(data)) {
        for (let i = 0; i < data.length; i++) {
          const message = data[i];
          if (message.type === "runs") unpackRuns(message, take);
          else take(message);
        }
      } else if (data.type === "runs") unpackRuns(data, take);
      else take(data);
      if (inbox.length > inboxHead && !draining) drainInbox();
    },
    { capture: true },
  ]);
  reflectApply(addListener, globalThis, [
    "error",
    (event: Event) => {
      // Spool's alone, as the pool's messages are: a listener of a task's
      // would hear the faults of the tasks it shares this worker with.
      reflectApply(stopImmediate, event, []);
      reflectApply(preventDefault, event, []);
      const error = reflectApply(errorOf, event, []);
      if (!serving) fatal(`the module failed to load: ${describe(error)}`, error);
      else reportFault(ownerOf(), error);
    },
  ]);
  reflectApply(addListener, globalThis, [
    "unhandledrejection",
    (event: Event) => {
      reflectApply(stopImmediate, event, []);
      reflectApply(preventDefault, event, []);
      const reason = reflectApply(reasonOf, event, []);
      if (!serving) fatal(`unhandled promise rejection: ${describe(reason)}`, reason);
      else reportFault(ownerOf(), reason);
    },
  ]);
  // A task cannot end its sandbox (and so the other tasks it holds): these
  // throw in the task that calls them, which then fails alone.
  scope.close = () => {
    throw new Error(
      "The task called self.close(): a task cannot close its worker; throw an error to fail the task",
    );
  };
  Deno.exit = (code?: number): never => {
    throw new Error(
      `The task called Deno.exit(${
        code ?? ""
      }): a task cannot end its sandbox; throw an error to fail the task`,
    );
  };
  // The original through its getter, called only when a task signals: reading
  // `Deno.kill` now would load Deno's process module into every worker (about
  // 0.7 MiB each), and the getter still gives the original once it is replaced.
  const killGetter = Object.getOwnPropertyDescriptor(Deno, "kill")?.get;
  const eager = killGetter === undefined ? Deno.kill : undefined;
  const kill = (pid: number, signal?: Deno.Signal): void =>
    reflectApply(eager ?? reflectApply(killGetter!, Deno, []), Deno, [pid, signal]);
  Deno.kill = (pid: number, signal?: Deno.Signal | number): void => {
    const own = pid === Deno.pid || pid === 0 || pid === -Deno.pid || pid === -1;
    if (own && Deno.permissions.querySync({ name: "run" }).state !== "granted") {
      throw new Deno.errors.NotCapable(
        `Requires run access to signal the process that hosts the task: declare permissions: { run: true }`,
      );
    }
    kill(pid, signal as Deno.Signal);
  };
}

guard();
