/**
 * The one pool: warm workers that run task bodies, each holding exactly one
 * permission set. Two kinds of work share it:
 *
 * - cpu tasks and shard chunks go to `size` slots, one job per slot at a
 *   time. A queued job goes to the first free worker with its permissions;
 *   failing that to an empty slot; failing that, an idle worker with other
 *   permissions is replaced.
 * - io tasks go to a host per permission set, which runs any number of them
 *   concurrently on its own event loop (the run's io lane limits how many).
 * - a cpu executor's calls go to the same slots, keyed by the module whose
 *   exports they call as well as by permissions (see {@linkcode submitCall}).
 *   A busy worker of the right module may hold one more chunk in its inbox,
 *   so that it starts it without waiting a round trip for this thread.
 *
 * A slot's key is what its worker loads and holds: the module, its role
 * (tasks or calls), the isolation, the heap limit and the exact permissions.
 *
 * By default every worker lives in a sandbox host process (see
 * `_endpoint.ts`), so that whatever a task does (exhaust its heap, signal its
 * own process, call `Deno.exit`) ends at most its host; the job the host held
 * fails with a {@linkcode WorkerCrashError} and a replacement starts. Aborting
 * a queued job removes it; aborting a running cpu job recycles its worker (a
 * fresh realm); aborting an io job aborts its signal inside the host.
 *
 * An error raised outside a body's promise (a timer it left, an unhandled
 * rejection) is traced to the job that caused it: a running job fails with
 * it; a finished one is reported through its `onFault`.
 *
 * @module
 */

import {
  describeThrown,
  deserializeError,
  type FromWorker,
  serializeError,
  type ToHost,
  transferList,
} from "./_protocol.ts";
import { runTaskCommand } from "../commands/_task_commands.ts";
import { CommandSlots } from "../commands/_command_slots.ts";
import { safeText } from "../report/_sanitize.ts";
import { isTimeout } from "../run/_deadline.ts";
import { workerBootstrap } from "./_bootstrap.ts";
import { packNumbers, unpackNumbers } from "./_packed_numbers.ts";
import { codePaths, codePathsKnown, type ModuleCode, surelyReadPaths } from "./_code_paths.ts";
import {
  type Endpoint,
  type EndpointEvents,
  HostListener,
  type Isolation,
  processEndpoint,
  resolutionFlags,
  workerEndpoint,
} from "./_endpoint.ts";
import { permissionKey, type Permissions } from "../declare/permissions.ts";

export type { Isolation };

/** Options for {@linkcode WorkerPool}. */
export interface WorkerPoolOptions {
  /** How many cpu workers at most; defaults to `navigator.hardwareConcurrency`. */
  size?: number;
  /**
   * Where workers live: `"process"` (default), each in a sandbox host process
   * that contains any fault; or `"worker"`, Web Workers in this process:
   * faster to start and to reach, but a heap exhausted in one aborts this
   * process, and a task can signal this process.
   */
  isolation?: Isolation;
  /**
   * Retire a cpu worker after this many jobs and start a fresh one (Python's
   * `max_tasks_per_child`): `1` gives every job a new realm. Default:
   * `Infinity`, keep workers warm. Minimum 1.
   */
  maxTasksPerWorker?: number;
  /**
   * Receives text no job can be held responsible for (a worker printing while
   * its task module loads), instead of this thread's stderr.
   */
  onStrayOutput?: (stream: "stdout" | "stderr", text: string) => void;
  /**
   * How long, in ms, cpu workers stay warm once no job is queued or running;
   * then they end (on an unref'd timer, so a script that never closes the
   * pool still exits). The next job starts workers again. Default:
   * `Infinity`, keep them until `close()`. Minimum 0.
   */
  idleTimeout?: number;
}

/** Options for {@linkcode WorkerPool.run}. */
export interface CpuRunOptions {
  /** The permissions the task declared; its worker gets exactly these. */
  permissions?: Permissions;
  /** Aborting removes the task from the queue, or stops its body. */
  signal?: AbortSignal;
  /**
   * Called when the task is handed to a warm worker, with the worker's index;
   * a remote lane calls it again when the job moves to another worker.
   */
  onStart?: (worker: number) => void;
  /**
   * Receives what the task prints in its worker, a call at a time without
   * its final newline. Without it, the text goes to this thread's console.
   */
  onOutput?: (stream: "stdout" | "stderr", text: string) => void;
  /**
   * Receives an error the task's code raised after the task had finished (a
   * timer it left behind that threw).
   */
  onFault?: (error: Error) => void;
  /** The heap limit of the host process, in MiB. */
  maxHeapMb?: number;
  /** Where this task's worker lives; the pool's `isolation` when absent. */
  isolation?: Isolation;
  /** The run's arguments, for the task's context. */
  args?: readonly string[];
}

/** What a task returned, and where it ran. */
export interface CpuResult {
  /** The body's result, structured-cloned from the worker. */
  value: unknown;
  /** The index of the worker slot that ran it, from 0 (-1 for an io host). */
  worker: number;
}

/** One chunk of a sharded task's items, for {@linkcode WorkerPool.runChunk}. */
export interface CpuChunk {
  /** The items: a plain array (cloned) or a typed array. */
  items: ArrayLike<unknown>;
  /** The index of the first item among all the task's items. */
  start: number;
  /** Buffers to move rather than copy, such as a typed array chunk's own buffer. */
  transfer?: readonly Transferable[];
}

/** What a chunk returned, where it ran, and how long its `map` took. */
export interface ChunkResult extends CpuResult {
  /** The time the worker spent in `map` (and `reduce`), in ms. */
  ms: number;
}

/** What an io body returned in its sandbox host, and how long it ran there. */
export interface IoResult extends CpuResult {
  /** The time from the body's start to its settling, on the host's clock, in ms. */
  ms: number;
}

/**
 * An io job's options, and where its outcome goes: the scheduler's io
 * attempt itself. A job in flight then holds no promise, no resolve and
 * reject pair and no reaction of its own; 10,000 of them are in flight at
 * once while a host starts. Each is called once, in a microtask after the
 * call that started the job at the earliest, as a promise's reaction would be.
 */
export interface IoJobOptions extends CpuRunOptions {
  /** The body returned: its result and its own time in the host. */
  ioDone(result: IoResult): void;
  /** The body threw, the job was cancelled, or its host could not run it. */
  ioFailed(error: unknown): void;
}

/**
 * An io job started by {@linkcode runIoUnder}. Its `abort` source is not
 * watched by the pool: whoever started it calls {@linkcode abortIoJob} when
 * that source aborts (the attempt does, from the one callback it registers
 * anyway), so that a job in flight adds no callback of its own there.
 */
export type IoJob = { readonly id: number };

/** One item of a sharded cpu task threw: the task fails with the item's index and its error. */
export class ItemError extends Error {
  /** The index of the item among the task's items. */
  readonly index: number;

  /**
   * Wraps an item's own error with the item's index.
   *
   * @param task The task's name.
   * @param index The failing item's index.
   * @param cause The item's own error, with its name, message and stack.
   */
  constructor(task: string, index: number, cause: Error) {
    super(`Item ${index} of cpu task "${task}" failed: ${cause.name}: ${cause.message}`, {
      cause,
    });
    this.name = "ItemError";
    this.index = index;
    // The item's stack says where in `map` it failed; this error adds only its index.
    if (cause.stack !== undefined) {
      this.stack = `${this.name}: ${this.message}\n${cause.stack.split("\n").slice(1).join("\n")}`;
    }
  }
}

/** A worker, or the process hosting it, that died or could not start while it held a task. */
export class WorkerCrashError extends Error {
  /**
   * Creates the error. Its stack is its message followed by the frames of
   * `cause` (where the worker died, as the worker reported it), if any.
   *
   * @param message What happened to the worker.
   * @param options The underlying error as `cause`.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "WorkerCrashError";
    // The pool's frames say nothing about the task; the worker's, when it
    // sent them, say where it died.
    const cause = options?.cause;
    const frames = cause instanceof Error ? framesOf(cause) : [];
    this.stack = [`${this.name}: ${message}`, ...frames].join("\n");
  }
}

/** A shard step's part of a job's options. */
interface ShardStepOptions {
  step?: "items" | "fold";
  parts?: unknown[];
}

/** What a worker is started with: the same spec, the same worker. */
interface SandboxSpec {
  /** The module the worker imports. */
  module: string;
  /** What it serves: the tasks of a task module, or calls of a module's exports. */
  role: "tasks" | "calls";
  permissions: Permissions;
  maxHeapMb: number | undefined;
  isolation: Isolation;
}

/** A permission set (with heap limit and isolation) and how many workers it could use. */
export interface WarmDemand {
  /** The permissions. */
  permissions: Permissions;
  /** How many workers. */
  count: number;
  /** The heap limit of their host processes, in MiB. */
  maxHeapMb?: number;
  /** Where they live; the pool's `isolation` when absent. */
  isolation?: Isolation;
}

/** How a worker serving calls broke: while starting (its module did not load) or while running. */
export interface Breakage {
  /** The slot index of the worker. */
  worker: number;
  /** What the worker reported, such as `Uncaught Error: boom`. */
  reason: string;
  /** `true` when the worker never became ready, so its module cannot load. */
  starting: boolean;
}

/** What a chunk of calls returned: the values before the first failure, and that failure. */
export interface CallOutcome {
  /** Results in input order, up to the first failure. */
  values: unknown[];
  /** The first failure, when there was one. */
  error?: { reason: unknown };
}

/** One chunk of calls to one export of a module, and how to report back. */
export interface PoolCall {
  /** The module's URL. */
  module: string;
  /** The export to call. */
  export: string;
  /** The inputs, one call each. */
  inputs: unknown[];
  /** Objects to move with the inputs rather than copy. */
  transfer: Transferable[];
  /** Exactly what the worker may access. */
  permissions: Permissions;
  /** Called when a worker takes the call; `false` means it was cancelled meanwhile. */
  start(): boolean;
  /** The worker answered. */
  done(outcome: CallOutcome): void;
  /** The inputs could not be sent, or the pool closed. */
  fail(error: unknown): void;
  /** The worker died, or could not start. */
  broken(breakage: Breakage): void;
}

interface Job {
  id: number;
  task: string;
  /** Set for an executor's call. */
  call: PoolCall | undefined;
  /** A call's `start()` was called and returned true. */
  started: boolean;
  /** An io job posted to its host before the host was ready: its start waits for `ready`. */
  sent: boolean;
  io: boolean;
  deps: Record<string, unknown>;
  chunk: CpuChunk | undefined;
  key: string;
  options: CpuRunOptions;
  /** What cancels it, when anything does. */
  abort: AbortSource | undefined;
  spec: SandboxSpec;
  resolve: (result: ChunkResult) => void;
  reject: (error: unknown) => void;
  /** An io job's attempt, which takes its outcome instead of `resolve` and `reject`. */
  sink: IoJobOptions | undefined;
  /** Its outcome, until it is handed to `sink`. */
  outcome: unknown;
  ok: boolean;
  onAbort: () => void;
  host: Host | undefined;
  settled: boolean;
  /** Its `$` commands' turns, made with its first command. */
  commands?: CommandSlots;
}

/** A worker and what it is doing: a cpu slot (one job) or an io host (many). */
interface Host {
  /** The slot index for a cpu slot; -1 for an io host. */
  index: number;
  /** It serves calls (a cpu executor's), not tasks. */
  calls: boolean;
  endpoint: Endpoint | undefined;
  key: string;
  ready: boolean;
  /** Jobs sent or waiting to be sent once ready. */
  jobs: Map<number, Job>;
  /** How many jobs it finished since its realm was fresh. */
  served: number;
  /** Recently finished jobs, so that a late fault finds its task. */
  recent: Map<number, Job>;
  /** Resolves when its first worker is ready, or it is gone. */
  started: Promise<void>;
  onStarted: () => void;
}

const ignore = () => {};

/** The module every worker starts from. */
export const WORKER_MAIN: string = new URL("./worker_main.ts", import.meta.url).href;

const RECENT = 64;

/** The permissions of a job that declares none: one object, so that its sandbox is looked up once. */
const NO_PERMISSIONS: Permissions = Object.freeze({});

// The way in for a cpu executor's calls: a function of this file, not a
// method, so that the pool's public API stays the task runner's.
let callInto: (pool: WorkerPool, call: PoolCall) => () => void;
let launchedOf: (pool: WorkerPool) => Promise<void>;
let runIoInto: typeof runIoUnder;
let abortIoInto: (pool: WorkerPool, job: Job) => void;

/**
 * What cancels a job, as the pool needs it: an AbortSignal gives one, and so
 * does the scheduler's per-attempt deadline, which makes a signal only when
 * something reads `signal`. 10,000 sandboxed io tasks in flight then hold no
 * AbortController, signal and listener each (about 750 bytes and a few µs
 * apiece, measured).
 */
export interface AbortSource {
  /** Whether it has aborted. */
  readonly aborted: boolean;
  /** Why, once it has. */
  readonly reason: unknown;
  /** A signal that aborts with it (made on first use). */
  readonly signal: AbortSignal;
  /** Calls `fn` once when it aborts. */
  onAbort(fn: () => void): void;
  /** Stops calling `fn`. */
  offAbort(fn: () => void): void;
}

function signalSource(signal: AbortSignal): AbortSource {
  return {
    get aborted() {
      return signal.aborted;
    },
    get reason() {
      return signal.reason;
    },
    signal,
    onAbort(fn) {
      signal.addEventListener("abort", fn, { once: true });
    },
    offAbort(fn) {
      signal.removeEventListener("abort", fn);
    },
  };
}

/**
 * Runs an io task's body in its sandbox host, as {@linkcode WorkerPool.runIo}
 * does, cancelled by `abort` instead of a signal: the way in for spool's
 * scheduler, whose attempts make no signal unless their body asks for one.
 *
 * @param pool The pool.
 * @param task The io task's name in the task module.
 * @param deps Its dependencies' results.
 * @param abort What cancels it.
 * @param options Its permissions and callbacks (`signal` is ignored), and
 * where its outcome goes.
 * @returns The job, to pass to {@linkcode abortIoJob} once `abort` aborts;
 * `undefined` when it was refused at once (its failure still comes to
 * `options`).
 */
export function runIoUnder(
  pool: WorkerPool,
  task: string,
  deps: Record<string, unknown>,
  abort: AbortSource,
  options: IoJobOptions,
): IoJob | undefined {
  return runIoInto(pool, task, deps, abort, options);
}

/**
 * Cancels an io job because its `abort` source aborted: a body running in
 * its host sees its signal abort (and its outcome follows), a job not yet
 * started there fails with the source's reason.
 *
 * @param pool The pool that runs it.
 * @param job What {@linkcode runIoUnder} returned.
 */
export function abortIoJob(pool: WorkerPool, job: IoJob): void {
  abortIoInto(pool, job as Job);
}

/**
 * Resolves once every io host the pool has started has been handed its
 * token, which a host waits for before it loads any code. The runner awaits
 * this right after `warmIo`, before the synchronous work of planning and
 * starting tasks, which would otherwise hold the write back and the host
 * with it.
 *
 * @param pool The pool.
 * @returns Resolves when the tokens are written.
 */
export function hostsLaunched(pool: WorkerPool): Promise<void> {
  return launchedOf(pool);
}

/**
 * Queues a chunk of calls on a pool's cpu slots, on a worker that imports
 * `call.module` and holds exactly `call.permissions`.
 *
 * @param pool The pool.
 * @param call The call and its callbacks.
 * @returns Aborts the call: removes it from the queue; a call waiting in a
 * worker's inbox runs but its answer is dropped; a running call ends its worker.
 */
export function submitCall(pool: WorkerPool, call: PoolCall): () => void {
  return callInto(pool, call);
}

/** The pool of workers serving the tasks of one task module, and executor calls. */
export class WorkerPool {
  static {
    callInto = (pool, call) => pool.#call(call);
    launchedOf = (pool) => pool.#launched();
    runIoInto = (pool, task, deps, abort, options) => pool.#startIo(task, deps, abort, options);
    abortIoInto = (pool, job) => {
      if (!job.settled) pool.#abort(job);
    };
  }

  #module: string | undefined;
  #bootstraps = new Map<string, string>();
  #isolation: Isolation;
  #maxTasks: number;
  #slots: Host[];
  #ioHosts = new Map<string, Host>();
  #queue: Job[] = [];
  #nextId = 0;
  #closed = false;
  #listener: HostListener | undefined;
  #sandboxes = new WeakMap<Permissions, Map<string, { spec: SandboxSpec; key: string }>>();
  #onStray: (stream: "stdout" | "stderr", text: string) => void;
  /** Slot keys whose module failed to load: every call into them fails alike. */
  #broken = new Map<string, Breakage>();
  #idleMs: number;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #idleSince = 0;

  /**
   * Creates a pool for one task module; no worker starts until `warm` or `run`.
   *
   * @param module URL of the task module the workers import; `undefined`
   * for a pool that serves only executor calls.
   * @param options `size`, `isolation`, `maxTasksPerWorker` and `idleTimeout`.
   * @throws {RangeError} When `size` or `maxTasksPerWorker` is not a positive
   * integer, or `idleTimeout` is negative.
   */
  constructor(module: string | undefined, options: WorkerPoolOptions = {}) {
    const size = options.size ?? navigator.hardwareConcurrency;
    if (!Number.isInteger(size) || size < 1) {
      throw new RangeError(
        `Cannot create worker pool as 'size' must be a positive integer: current value is ${size}`,
      );
    }
    const maxTasks = options.maxTasksPerWorker ?? Infinity;
    if (maxTasks !== Infinity && (!Number.isInteger(maxTasks) || maxTasks < 1)) {
      throw new RangeError(
        `Cannot create worker pool as 'maxTasksPerWorker' must be a positive integer: current value is ${maxTasks}`,
      );
    }
    const idleMs = options.idleTimeout ?? Infinity;
    if (!(idleMs >= 0)) {
      throw new RangeError(
        `Cannot create worker pool as 'idleTimeout' must be a number of ms, 0 or more: current value is ${idleMs}`,
      );
    }
    this.#idleMs = idleMs;
    this.#module = module;
    this.#isolation = options.isolation ?? "process";
    this.#maxTasks = maxTasks;
    const stray = options.onStrayOutput ?? ((_stream, text) => console.error(text));
    // Text no job claims (a host's raw stdout while several io jobs run, a
    // module printing as it loads) is a task's all the same: made harmless
    // here, whoever receives it, and a string whatever a worker sent.
    this.#onStray = (stream, text) => stray(stream, safeText(String(text)));
    this.#slots = Array.from({ length: size }, (_, index) => newHost(index));
  }

  /** The most cpu workers the pool holds, and cpu jobs it runs at once. */
  get size(): number {
    return this.#slots.length;
  }

  /** The task module the workers import; `undefined` for a pool of executor calls only. */
  get module(): string | undefined {
    return this.#module;
  }

  /** Where the workers live. */
  get isolation(): Isolation {
    return this.#isolation;
  }

  /** How many tasks a cpu worker runs before it is retired; `Infinity` when never. */
  get maxTasksPerWorker(): number {
    return this.#maxTasks;
  }

  /** Whether {@linkcode WorkerPool.close} was called: the pool runs nothing more. */
  get closed(): boolean {
    return this.#closed;
  }

  /** How many cpu workers are alive (starting, idle or busy). */
  get liveCount(): number {
    return this.#slots.filter((slot) => slot.endpoint !== undefined).length;
  }

  /** How many cpu jobs wait for a worker. */
  get pendingCount(): number {
    return this.#queue.length;
  }

  /** How many cpu jobs the workers hold: running, or sent ahead to a busy worker. */
  get activeCount(): number {
    let count = 0;
    for (const slot of this.#slots) count += slot.jobs.size;
    return count;
  }

  /**
   * Starts cpu workers ahead of work, so that their start-up overlaps other
   * work. Slots go to the permission sets in the order given, each getting
   * as many as it asks for while slots remain.
   *
   * @param demand Permission sets with how many workers each could use.
   */
  warm(demand: Iterable<WarmDemand>): void {
    if (this.#closed) return;
    const free = this.#slots.filter((slot) => slot.endpoint === undefined);
    for (const { permissions, count, maxHeapMb, isolation = this.#isolation } of demand) {
      for (let i = 0; i < count && free.length > 0; i++) {
        const spec = this.#taskSpec(permissions, maxHeapMb, isolation);
        this.#spawn(free.shift()!, keyOf(spec), spec);
      }
    }
  }

  /**
   * Starts the io hosts for these permission sets ahead of work.
   *
   * @param sets The permission sets (and heap limits) of the io tasks to come.
   * @returns Resolves when those hosts are ready, or gone.
   */
  warmIo(sets: Iterable<Omit<WarmDemand, "count">>): Promise<void> {
    const hosts: Host[] = [];
    for (const { permissions, maxHeapMb, isolation = this.#isolation } of sets) {
      const spec = this.#taskSpec(permissions, maxHeapMb, isolation);
      hosts.push(this.#ioHost(keyOf(spec), spec));
    }
    return Promise.all(hosts.map((host) => host.started)).then(() => {});
  }

  /**
   * Runs a cpu task's body in a worker.
   *
   * @param task The task's name in the task module.
   * @param deps Its dependencies' results; they are structured-cloned.
   * @param options The task's permissions and an abort signal.
   * @returns The body's result and the worker slot that ran it.
   * @throws The body's own error (with its message and stack), a
   * {@linkcode WorkerCrashError} when the worker died, or the signal's reason.
   */
  run(
    task: string,
    deps: Record<string, unknown>,
    options: CpuRunOptions = {},
  ): Promise<CpuResult> {
    return this.#enqueue(task, deps, undefined, false, options);
  }

  /**
   * Runs an io task's body in the sandbox host for its permission set,
   * concurrently with the other io bodies there.
   *
   * @param task The io task's name in the task module.
   * @param deps Its dependencies' results; they are structured-cloned.
   * @param options The task's permissions and an abort signal.
   * @returns The body's result (`worker` is -1), and in `ms` the time from
   * the body's start to its settling, on the host's clock: tasks sent ahead
   * wait in the host for their turn, and the message back takes time.
   * @throws The body's own error, a {@linkcode WorkerCrashError} when the
   * host died, or a `TypeError` when deps or result cannot be cloned.
   */
  runIo(
    task: string,
    deps: Record<string, unknown>,
    options: CpuRunOptions = {},
  ): Promise<IoResult> {
    return this.#enqueue(task, deps, undefined, true, options);
  }

  /**
   * Runs a sharded task's `map` over one chunk of its items in a worker.
   * Chunks queue like tasks: each goes to the first idle worker with the
   * task's permissions.
   *
   * @param task The sharded task's name in the task module.
   * @param chunk The items, the index of the first, and buffers to move.
   * @param options The task's permissions and an abort signal.
   * @returns The mapped values in order (or their fold, when the task
   * reduces), the worker slot, and the time `map` took.
   * @throws {ItemError} With the failing item's index and its own error; a
   * {@linkcode WorkerCrashError} when the worker died; or the signal's reason.
   */
  runChunk(task: string, chunk: CpuChunk, options: CpuRunOptions = {}): Promise<ChunkResult> {
    return this.#enqueue(task, {}, chunk, false, options);
  }

  /**
   * Runs a sharded task's own code other than `map` in a worker with the
   * task's permissions: its `items` function, or the fold of its chunks'
   * results with its `reduce`. No task code runs on the runner's thread.
   *
   * @param task The sharded task's name in the task module.
   * @param step `"items"` or `"fold"`.
   * @param input The task's deps (for `items`) or the chunks' results (for `fold`).
   * @param options The task's permissions and an abort signal.
   * @returns The items, or the fold.
   */
  runShardStep(
    task: string,
    step: "items" | "fold",
    input: Record<string, unknown> | unknown[],
    options: CpuRunOptions = {},
  ): Promise<CpuResult> {
    return this.#enqueue(
      task,
      step === "items" ? input as Record<string, unknown> : {},
      undefined,
      false,
      {
        ...options,
        step,
        parts: step === "fold" ? input as unknown[] : undefined,
      } as CpuRunOptions,
    );
  }

  #enqueue(
    task: string,
    deps: Record<string, unknown>,
    chunk: CpuChunk | undefined,
    io: boolean,
    options: CpuRunOptions,
    abort: AbortSource | undefined = options.signal === undefined
      ? undefined
      : signalSource(options.signal),
  ): Promise<ChunkResult> {
    const { permissions = NO_PERMISSIONS } = options;
    const refused = this.#cannotRun();
    if (refused !== undefined) return Promise.reject(refused);
    const { spec, key } = this.#taskSandbox(permissions, options.maxHeapMb, options.isolation);
    if (abort?.aborted) return Promise.reject(abort.reason);
    return new Promise<ChunkResult>((resolve, reject) => {
      const job: Job = {
        id: this.#nextId++,
        task,
        call: undefined,
        started: false,
        sent: false,
        io,
        deps,
        chunk,
        key,
        options,
        abort,
        spec,
        resolve,
        reject,
        sink: undefined,
        outcome: undefined,
        ok: false,
        onAbort: () => this.#abort(job),
        host: undefined,
        settled: false,
      };
      abort?.onAbort(job.onAbort);
      if (io) this.#sendIo(job);
      else {
        this.#queue.push(job);
        this.#pump();
      }
    });
  }

  /** Why no task can run on this pool now (closed, or no task module), if none can. */
  #cannotRun(): Error | undefined {
    if (this.#closed) return new Error("Cannot run a task: the worker pool is closed");
    if (this.#module === undefined) {
      return new Error("Cannot run a task: the worker pool has no task module");
    }
    return undefined;
  }

  /** An io job whose outcome goes to its attempt (`IoJobOptions`), not to a promise. */
  #startIo(
    task: string,
    deps: Record<string, unknown>,
    abort: AbortSource,
    sink: IoJobOptions,
  ): Job | undefined {
    const refuse = (error: unknown) => void queueMicrotask(() => sink.ioFailed(error));
    const refused = this.#cannotRun();
    if (refused !== undefined) return refuse(refused);
    const { permissions = NO_PERMISSIONS } = sink;
    const { spec, key } = this.#taskSandbox(permissions, sink.maxHeapMb, sink.isolation);
    if (abort.aborted) return refuse(abort.reason);
    const job: Job = {
      id: this.#nextId++,
      task,
      call: undefined,
      started: false,
      sent: false,
      io: true,
      deps,
      chunk: undefined,
      key,
      options: sink,
      abort,
      spec,
      resolve: ignore,
      reject: ignore,
      sink,
      outcome: undefined,
      ok: false,
      // Not registered with `abort`: the caller calls abortIoJob instead.
      onAbort: ignore,
      host: undefined,
      settled: false,
    };
    this.#sendIo(job);
    return job;
  }

  /** Hands an io job's outcome to its attempt, with the others of this turn, in one microtask. */
  #deliver(job: Job, ok: boolean, outcome: unknown): void {
    job.ok = ok;
    job.outcome = outcome;
    this.#outcomes.push(job);
    if (this.#outcomes.length === 1) queueMicrotask(this.#handOver);
  }

  #outcomes: Job[] = [];
  #handOver = () => {
    const jobs = this.#outcomes;
    this.#outcomes = [];
    for (const job of jobs) {
      const { sink, outcome } = job;
      job.outcome = undefined;
      if (job.ok) sink!.ioDone(outcome as IoResult);
      else sink!.ioFailed(outcome);
    }
  };

  /**
   * The sandbox of a task's jobs and its key, made once per permissions
   * object, heap limit and isolation: 10,000 jobs of one declaration then
   * build no key string each (and look up their host by the same string).
   */
  #taskSandbox(
    permissions: Permissions,
    maxHeapMb: number | undefined,
    isolation: Isolation = this.#isolation,
  ): { spec: SandboxSpec; key: string } {
    let byVariant = this.#sandboxes.get(permissions);
    if (byVariant === undefined) this.#sandboxes.set(permissions, byVariant = new Map());
    const variant = `${maxHeapMb} ${isolation}`;
    let sandbox = byVariant.get(variant);
    if (sandbox === undefined) {
      const spec = this.#taskSpec(permissions, maxHeapMb, isolation);
      byVariant.set(variant, sandbox = { spec, key: keyOf(spec) });
    }
    return sandbox;
  }

  #taskSpec(
    permissions: Permissions,
    maxHeapMb: number | undefined,
    isolation: Isolation = this.#isolation,
  ): SandboxSpec {
    return { module: this.#module!, role: "tasks", permissions, maxHeapMb, isolation };
  }

  #call(call: PoolCall): () => void {
    const spec: SandboxSpec = {
      module: call.module,
      role: "calls",
      permissions: call.permissions,
      maxHeapMb: undefined,
      isolation: this.#isolation,
    };
    const job: Job = {
      id: this.#nextId++,
      task: call.export,
      call,
      started: false,
      sent: false,
      io: false,
      deps: {},
      chunk: undefined,
      key: keyOf(spec),
      options: {},
      abort: undefined,
      spec,
      resolve: () => {},
      reject: (error) => call.fail(error),
      sink: undefined,
      outcome: undefined,
      ok: false,
      onAbort: () => {},
      host: undefined,
      settled: false,
    };
    if (this.#closed) {
      this.#fail(job, new Error("Cannot run a call: the worker pool is closed"));
      return () => {};
    }
    this.#queue.push(job);
    this.#pump();
    return () => this.#abortCall(job);
  }

  /** Terminates every worker; queued and running jobs are rejected. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#idleTimer);
    const error = new Error("Cannot finish the task: the worker pool was closed");
    for (const job of this.#queue.splice(0)) this.#fail(job, error);
    for (const host of [...this.#slots, ...this.#ioHosts.values()]) {
      for (const job of host.jobs.values()) this.#fail(job, error);
      host.jobs.clear();
      this.#stop(host);
    }
    for (const host of this.#ioHosts.values()) host.onStarted();
    this.#ioHosts.clear();
    this.#listener?.close();
  }

  /** Closes the pool, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Resolves once the io hosts started so far have their tokens: see {@linkcode hostsLaunched}. */
  async #launched(): Promise<void> {
    // A `deno info` that has answered marks its module known in a reaction
    // queued already: one turn, and the hosts it held back have started.
    await null;
    await Promise.all([...this.#ioHosts.values()].map((host) => host.endpoint?.launched));
  }

  #ioHost(key: string, spec: SandboxSpec): Host {
    let host = this.#ioHosts.get(key);
    if (host === undefined && !this.#closed) {
      host = newHost(-1, false);
      this.#ioHosts.set(key, host);
      this.#spawn(host, key, spec);
    }
    return host!;
  }

  #sendIo(job: Job): void {
    const host = this.#ioHost(job.key, job.spec);
    host.jobs.set(job.id, job);
    job.host = host;
    // Sent at once, even to a host still starting: the messages then wait in
    // the host and its worker, and the worker starts them the moment it is
    // ready, instead of the runner serializing and relaying a burst of them
    // only then. The task counts as started at `ready`, as before.
    this.#send(host, job);
  }

  #pump(): void {
    this.#assign();
    this.#watchIdle();
  }

  #assign(): void {
    while (this.#queue.length > 0 && !this.#closed) {
      const job = this.#queue[0];
      const broken = job.call === undefined ? undefined : this.#broken.get(job.key);
      if (broken !== undefined) {
        this.#queue.shift();
        this.#settle(job);
        job.call!.broken(broken);
        continue;
      }
      const slot = this.#slots.find((s) =>
        s.endpoint !== undefined && s.jobs.size === 0 && s.key === job.key
      ) ??
        this.#slots.find((s) =>
          s.endpoint === undefined
        ) ??
        this.#slots.find((s) => s.jobs.size === 0);
      if (slot === undefined) {
        // Every worker is busy: a call may still wait in the inbox of a
        // busy worker of its module, which then starts it without a round trip.
        const busy = job.call === undefined
          ? undefined
          : this.#slots.find((s) =>
            s.ready && s.key === job.key && s.jobs.size === 1 && s.served + 1 < this.#maxTasks
          );
        if (busy === undefined) return;
        this.#queue.shift();
        if (!this.#claim(job)) continue;
        busy.jobs.set(job.id, job);
        job.host = busy;
        this.#send(busy, job);
        continue;
      }
      this.#queue.shift();
      if (!this.#claim(job)) continue;
      if (slot.endpoint === undefined || slot.key !== job.key) {
        this.#stop(slot);
        this.#spawn(slot, job.key, job.spec);
      }
      slot.jobs.set(job.id, job);
      job.host = slot;
      if (slot.ready) this.#send(slot, job);
    }
  }

  /** A call taken by a worker is running as far as its future knows: unless it was cancelled. */
  #claim(job: Job): boolean {
    if (job.call === undefined || job.started) return true;
    if (!job.call.start()) {
      job.settled = true;
      return false;
    }
    job.started = true;
    return true;
  }

  /**
   * Notes when the cpu slots go idle, and arms the idle timer if it is not
   * armed. The timer is not cleared on each new job (a job a time would pay
   * for a timer each): when it fires it checks, and re-arms for the rest of
   * the idle time if the pool was busy since.
   */
  #watchIdle(): void {
    if (this.#idleMs === Infinity || this.#closed || this.#busy()) return;
    this.#idleSince = performance.now();
    if (this.#idleTimer === undefined) this.#armIdle(this.#idleMs);
  }

  #armIdle(ms: number): void {
    const timer = setTimeout(() => {
      this.#idleTimer = undefined;
      // Busy now: #watchIdle arms it again when the pool next goes idle.
      if (this.#closed || this.#busy()) return;
      const left = this.#idleSince + this.#idleMs - performance.now();
      if (left > 0) this.#armIdle(left);
      else for (const slot of this.#slots) this.#stop(slot);
    }, ms);
    Deno.unrefTimer(timer);
    this.#idleTimer = timer;
  }

  #busy(): boolean {
    return this.#queue.length > 0 || this.#slots.some((slot) => slot.jobs.size > 0);
  }

  #send(host: Host, job: Job): void {
    const { id, task, chunk, call } = job;
    if (call !== undefined) {
      // A chunk of numbers moves as one buffer; one with buffers to move
      // keeps its shape, so that they arrive where the caller put them.
      const packed = call.transfer.length === 0 ? packNumbers(call.inputs) : undefined;
      host.endpoint!.post(
        { type: "call", id, export: call.export, inputs: packed ?? call.inputs },
        packed === undefined ? [...call.transfer] : [packed.buffer],
      );
      return;
    }
    const { step, parts } = job.options as CpuRunOptions & ShardStepOptions;
    const message: ToHost = step !== undefined
      ? { type: "shard", id, task, step, deps: job.deps, args: job.options.args ?? [], parts }
      : chunk === undefined
      ? runMessage(id, task, job.io ? "io" : "cpu", job.deps, job.options.args)
      : { type: "chunk", id, task, items: chunk.items, start: chunk.start };
    const transfer = chunk === undefined
      ? transferList(step === "fold" ? parts : job.deps)
      : [...(chunk.transfer ?? [])];
    if (host.ready) job.options.onStart?.(host.index);
    else job.sent = true;
    host.endpoint!.post(message, transfer);
  }

  /** A job's message could not be cloned for its worker: the job fails, saying what. */
  #unsendable(host: Host, message: ToHost, error: Error): void {
    if (!("id" in message)) return;
    const job = host.jobs.get(message.id);
    if (job === undefined) return;
    host.jobs.delete(job.id);
    if (job.call !== undefined) {
      this.#fail(
        job,
        new TypeError(
          `Cannot send the input of "${job.call.export}" to a worker: it is not structured-cloneable (${error.message})`,
        ),
      );
      this.#pump();
      return;
    }
    const what = message.type === "chunk" ? "items" : "dependencies";
    this.#fail(
      job,
      new TypeError(
        `Cannot send the ${what} of ${
          job.io ? "io" : "cpu"
        } task "${job.task}" to a worker: they are not structured-cloneable (${error.message})`,
      ),
    );
    this.#pump();
  }

  #spawn(host: Host, key: string, spec: SandboxSpec): void {
    const { permissions, maxHeapMb, module, role } = spec;
    host.key = key;
    host.calls = role === "calls";
    host.ready = false;
    host.served = 0;
    const bootstrapKey = `${role} ${module}`;
    let bootstrap = this.#bootstraps.get(bootstrapKey);
    if (bootstrap === undefined) {
      bootstrap = workerBootstrap(WORKER_MAIN, module, role);
      this.#bootstraps.set(bootstrapKey, bootstrap);
    }
    const events: EndpointEvents = {
      message: (message) => {
        // Task code can post to the channel itself (the realm's
        // postMessage): a message spool cannot act on breaks that worker,
        // never the runner, whose thread this is.
        try {
          this.#onMessage(host, endpoint, message);
        } catch (error) {
          this.#crash(
            host,
            endpoint,
            `it sent a message spool cannot read (${describeThrown(error)})`,
          );
        }
      },
      crash: (reason, cause) => this.#crash(host, endpoint, reason, cause),
      output: (stream, text) => this.#rawOutput(host, stream, text),
      unsendable: (message, error) => this.#unsendable(host, message, error),
    };
    const name = host.index < 0
      ? "spool-io-host"
      : host.calls
      ? `spool-executor-${host.index}`
      : `spool-worker-${host.index}`;
    let endpoint: Endpoint;
    if (spec.isolation === "worker") {
      endpoint = workerEndpoint({
        bootstrap,
        name,
        permissions,
        codePaths: [],
      }, events);
    } else {
      this.#listener ??= new HostListener();
      // Asked once per module and process (codePaths keeps the answer).
      const paths = codePaths(module, WORKER_MAIN, resolutionFlags());
      const start = (code: ModuleCode, confirmed?: Promise<boolean>) =>
        processEndpoint(this.#listener!, {
          bootstrap,
          name,
          permissions,
          codePaths: code.paths,
          lazyImports: code.lazy,
          maxHeapMb,
          confirmed,
        }, events);
      // Not known yet in this process (`deno info` takes 100-250 ms): the
      // host starts now on what it surely reads, and is kept once the answer
      // asks for no more (else another host starts on the answer).
      const surely = codePathsKnown(module, WORKER_MAIN, resolutionFlags())
        ? undefined
        : surelyReadPaths(module, WORKER_MAIN);
      endpoint = surely === undefined
        ? deferredEndpoint(paths, start)
        : speculativeEndpoint(paths, surely, start);
    }
    host.endpoint = endpoint;
  }

  #onMessage(host: Host, endpoint: Endpoint, message: FromWorker): void {
    if (host.endpoint !== endpoint) return;
    switch (message.type) {
      case "ready":
        host.ready = true;
        host.onStarted();
        for (const job of host.jobs.values()) {
          if (job.sent) job.options.onStart?.(host.index);
          else this.#send(host, job);
        }
        return;
      case "fatal":
        this.#crash(host, endpoint, message.error.message, deserializeError(message.error));
        return;
      case "fault": {
        const error = deserializeError(message.error);
        // Nothing in a worker serving calls is traced to a call: whatever
        // escaped them broke the worker, as in Python's process pool.
        if (host.calls) this.#crash(host, endpoint, `Uncaught ${error.name}: ${error.message}`);
        else this.#fault(host, message.id, error);
        return;
      }
      case "exec":
        this.#exec(host, endpoint, message);
        return;
      case "output": {
        const job = host.jobs.get(message.id) ?? host.recent.get(message.id);
        if (job?.options.onOutput !== undefined) job.options.onOutput(message.stream, message.text);
        else this.#onStray(message.stream, message.text);
        return;
      }
      case "results": {
        // Packed by the worker (packResults): one result each, in order.
        const { ids, ms, values } = message;
        for (let i = 0; i < values.length; i++) {
          this.#onMessage(host, endpoint, {
            type: "result",
            id: ids[i],
            value: values[i],
            ms: ms[i],
          });
        }
        return;
      }
      case "result":
      case "error": {
        const job = host.jobs.get(message.id);
        if (job === undefined) return;
        host.jobs.delete(job.id);
        if (job.call !== undefined) {
          if (!job.settled) {
            this.#settle(job);
            job.call.done(
              message.type === "result"
                ? { values: unpackNumbers(message.value as unknown[] | Float64Array) }
                : {
                  values: message.values ?? [],
                  error: { reason: deserializeError(message.error) },
                },
            );
          }
          if (++host.served >= this.#maxTasks) {
            // Retired, as Python's max_tasks_per_child: a call sent ahead
            // goes back to the queue and runs in the fresh realm.
            const ahead = [...host.jobs.values()];
            host.jobs.clear();
            this.#recycle(host);
            this.#requeue(ahead);
          }
          this.#pump();
          return;
        }
        remember(host, job);
        if (message.type === "result") {
          if (job.settled) return;
          this.#settle(job);
          const result = { value: message.value, worker: host.index, ms: message.ms ?? 0 };
          if (job.sink !== undefined) this.#deliver(job, true, result);
          else job.resolve(result);
        } else {
          const error = explainDenied(job.task, deserializeError(message.error));
          this.#fail(
            job,
            message.index === undefined ? error : new ItemError(job.task, message.index, error),
          );
        }
        if (host.index >= 0 && ++host.served >= this.#maxTasks) this.#recycle(host);
        this.#pump();
      }
    }
  }

  /** Runs a command a body started with `$`, and answers its worker. */
  #exec(host: Host, endpoint: Endpoint, message: FromWorker & { type: "exec" }): void {
    const { id, exec } = message;
    const reply = (answer: Partial<ToHost & { type: "execDone" }>) => {
      if (host.endpoint !== endpoint) return;
      endpoint.post(
        { type: "execDone", id, exec, code: -1, stdout: "", stderrTail: [], ...answer },
        [],
      );
    };
    const job = host.jobs.get(id);
    if (job === undefined) {
      reply({
        error: {
          name: "Error",
          message: `Cannot run command "${message.command}": its task has ended`,
        },
      });
      return;
    }
    const slots = job.commands ??= new CommandSlots(job.abort?.signal);
    slots.run(job.task, message.command, () =>
      runTaskCommand(message, {
        module: this.#module,
        permissions: job.options.permissions ?? {},
        signal: slots.signal,
        onOutput: (stream, text) =>
          job.options.onOutput === undefined
            ? this.#onStray(stream, text)
            : job.options.onOutput(stream, text),
      })).then((output) => reply(output), (error) => reply({ error: serializeError(error) }));
  }

  /** An error raised outside a body: fails the job it belongs to, or reports it late. */
  #fault(host: Host, id: number | undefined, error: Error): void {
    const running = id === undefined ? [...host.jobs.values()] : [host.jobs.get(id)].filter(
      (job): job is Job => job !== undefined,
    );
    if (host.ready && running.length > 0) {
      for (const job of running) {
        host.jobs.delete(job.id);
        remember(host, job);
        this.#fail(job, faultError(job.task, error));
      }
      // A cpu body may still be running, and its realm holds whatever broke: start afresh.
      if (host.index >= 0) this.#recycle(host);
      this.#pump();
      return;
    }
    const late = id === undefined ? undefined : host.recent.get(id);
    if (late?.options.onFault !== undefined) {
      late.options.onFault(error);
      return;
    }
    this.#onStray("stderr", `Uncaught error in a worker after its task ended: ${error.message}`);
  }

  #rawOutput(host: Host, stream: "stdout" | "stderr", text: string): void {
    // Written to the process's own stdout/stderr, bypassing console: it
    // belongs to the job the host runs, when there is exactly one.
    const jobs = [...host.jobs.values()];
    const job = jobs.length === 1 ? jobs[0] : undefined;
    if (job?.options.onOutput !== undefined) job.options.onOutput(stream, text);
    else this.#onStray(stream, text);
  }

  #crash(host: Host, endpoint: Endpoint, reason: string, cause?: Error): void {
    if (host.endpoint !== endpoint) return;
    host.onStarted();
    const wasReady = host.ready;
    const jobs = [...host.jobs.values()];
    host.jobs.clear();
    if (host.calls) {
      this.#callsBroken(host, jobs, { worker: host.index, reason, starting: !wasReady });
      return;
    }
    // Out of the map before #stop clears its key: the next io task of this
    // permission set must start a new host, not wait on this dead one.
    if (host.index < 0 && this.#ioHosts.get(host.key) === host) this.#ioHosts.delete(host.key);
    this.#stop(host);
    for (const job of jobs) {
      const where = host.index < 0 ? "The io host" : `Worker ${host.index}`;
      const what = wasReady ? "stopped while running" : "could not start for";
      const kind = job.io ? "io" : "cpu";
      // A sandbox that never started most often could not load the task file.
      const hint = wasReady
        ? ""
        : ` (every sandbox imports the task file again, with only its task's permissions: keep the file's top level free of work, and start servers or read files inside tasks)`;
      this.#fail(
        job,
        new WorkerCrashError(`${where} ${what} ${kind} task "${job.task}": ${reason}${hint}`, {
          cause,
        }),
      );
    }
    // Only a worker that had loaded is replaced at once: one that dies
    // while loading would die again, and each task may try only once.
    if (host.index >= 0 && wasReady && jobs.length > 0 && !this.#closed) {
      this.#spawn(host, jobs[0].key, jobs[0].spec);
    }
    this.#pump();
  }

  /**
   * A worker serving calls is gone: the call it ran is broken, one waiting
   * in its inbox goes back to the queue, and a module that failed to load
   * fails every call into it from now on (it would fail the same way again).
   */
  #callsBroken(host: Host, jobs: Job[], breakage: Breakage): void {
    if (breakage.starting) this.#broken.set(host.key, breakage);
    this.#stop(host);
    const [running, ...waiting] = jobs;
    this.#requeue(waiting);
    if (running !== undefined && !running.settled) {
      this.#settle(running);
      running.call!.broken(breakage);
    }
    this.#pump();
  }

  /** Calls sent ahead to a worker that is ending go back to the front of the queue. */
  #requeue(jobs: Job[]): void {
    const again = jobs.filter((job) => !job.settled);
    for (const job of again) job.host = undefined;
    this.#queue.unshift(...again);
  }

  #abortCall(job: Job): void {
    if (job.settled) return;
    const queued = this.#queue.indexOf(job);
    if (queued !== -1) {
      this.#queue.splice(queued, 1);
      this.#settle(job);
      this.#pump();
      return;
    }
    const host = job.host;
    if (host === undefined || host.jobs.get(job.id) !== job) return;
    this.#settle(job);
    if (host.jobs.keys().next().value !== job.id) {
      // Already in the worker's inbox, not started: the worker will run it,
      // but nobody hears the answer.
      return;
    }
    // A running call cannot be interrupted in place: end its worker.
    const jobs = [...host.jobs.values()];
    host.jobs.clear();
    this.#stop(host);
    this.#requeue(jobs.slice(1));
    this.#pump();
  }

  #recycle(host: Host): void {
    host.ready = false;
    host.served = 0;
    host.recent.clear();
    host.endpoint?.recycle();
  }

  #abort(job: Job): void {
    const queued = this.#queue.indexOf(job);
    if (queued !== -1) this.#queue.splice(queued, 1);
    const host = job.host;
    const reason = job.abort!.reason;
    const cancel = () =>
      host!.endpoint?.post({
        type: "cancel",
        id: job.id,
        reason: {
          name: isTimeout(reason) ? "TimeoutError" : "AbortError",
          message: reason instanceof Error ? reason.message : String(reason),
        },
      }, []);
    if (job.io && host !== undefined && host.jobs.get(job.id) === job && host.ready) {
      // The body sees its signal abort, as on the main thread, and settles
      // the job when it ends: the run gives it the same grace period.
      cancel();
      return;
    }
    if (host !== undefined && host.jobs.get(job.id) === job) {
      host.jobs.delete(job.id);
      if (job.io) {
        // Sent ahead to a host still starting: the cancel follows it, and
        // the worker drops it unstarted. Its answer finds no job.
        if (job.sent) cancel();
      } else if (host.ready && isTimeout(reason)) {
        // A running cpu body cannot be interrupted in place: a fresh realm
        // replaces it, warm for the retry or the next task.
        this.#recycle(host);
      } else {
        // The run is stopping: the worker goes, and the slot is refilled when work needs it.
        this.#stop(host);
      }
    }
    this.#fail(job, reason);
    this.#pump();
  }

  #settle(job: Job): void {
    job.settled = true;
    if (job.onAbort !== ignore) job.abort?.offAbort(job.onAbort);
    job.commands?.end();
  }

  #fail(job: Job, error: unknown): void {
    if (job.settled) return;
    this.#settle(job);
    if (job.sink !== undefined) this.#deliver(job, false, error);
    else job.reject(error);
  }

  #stop(host: Host): void {
    host.endpoint?.terminate();
    host.endpoint = undefined;
    host.ready = false;
    host.key = "";
  }
}

const DENIED = /^Requires (\w+) access to "(.*)", run again with the --allow-\w+ flag$/;
const DENIED_ALL = /^Requires (\w+) access, run again with the --allow-\w+ flag$/;

/** The `at ...` lines of an error's stack: where it was thrown, without its message. */
function framesOf(error: Error): string[] {
  return error.stack?.split("\n").filter((line) => /^\s+at /.test(line)) ?? [];
}

/**
 * Deno's permission error names the process's flag, which is the wrong fix
 * for a sandboxed task (the process may well have `-A`): the fix is the
 * task's own declaration. The original text stays at the end.
 */
function explainDenied(task: string, error: Error): Error {
  // A denied import is a TypeError whose message goes on with Deno's
  // coloured location: the first line says it all.
  const first = error.message.split("\n")[0];
  const scoped = DENIED.exec(first);
  const whole = scoped === null ? DENIED_ALL.exec(first) : null;
  if (scoped === null && whole === null) return error;
  const name = (scoped ?? whole)![1];
  const declare = scoped === null
    ? `permissions: { ${name}: true }`
    : `permissions: { ${name}: [${JSON.stringify(scoped[2])}] }`;
  error.message = `Task "${task}" needs ${name} access${
    scoped === null ? "" : ` to "${scoped[2]}"`
  }, which it did not declare: add ${declare} to the task (its sandbox holds only what it declares) (${first})`;
  if (error.stack !== undefined) {
    error.stack = [`${error.name}: ${error.message}`, ...framesOf(error)].join("\n");
  }
  return error;
}

/**
 * The error a task fails with when its code raised one outside its body's
 * promise: what happened, then the frames of the original error.
 */
function faultError(task: string, error: Error): Error {
  const fault = new Error(
    `Task "${task}" raised an error outside its body (in a callback or a promise nobody awaited): ${error.name}: ${error.message}`,
    { cause: error },
  );
  fault.stack = [`Error: ${fault.message}`, ...framesOf(error)].join("\n");
  return fault;
}

function newHost(index: number, calls = false): Host {
  const { promise, resolve } = Promise.withResolvers<void>();
  return {
    index,
    calls,
    endpoint: undefined,
    key: "",
    ready: false,
    jobs: new Map(),
    served: 0,
    recent: new Map(),
    started: promise,
    onStarted: resolve,
  };
}

function remember(host: Host, job: Job): void {
  host.recent.set(job.id, job);
  if (host.recent.size > RECENT) host.recent.delete(host.recent.keys().next().value!);
}

// The key of each permission set seen, so that a loop of calls does not
// serialize the same declaration each time.
const permissionKeys = new WeakMap<Permissions, string>();

function keyOf({ module, role, permissions, maxHeapMb, isolation }: SandboxSpec): string {
  let permission = permissionKeys.get(permissions);
  if (permission === undefined) {
    permission = permissionKey(permissions);
    permissionKeys.set(permissions, permission);
  }
  return `${role} ${isolation} ${maxHeapMb ?? "-"} ${permission} ${module}`;
}

/**
 * An endpoint whose host process starts at once on `surely` (a grant that
 * every answer of `codePaths` contains), loading dynamic imports lazily, and
 * loads its code while `deno info` answers. It is kept if `paths` is covered
 * by `surely` and allows lazy imports; otherwise it is terminated, what it
 * said is dropped (`confirmed` in `_endpoint.ts`), and one started on the
 * answer takes its place. Messages to it wait, as in a deferred endpoint,
 * until it is decided which host gets them: no task runs in a host before.
 */
function speculativeEndpoint(
  paths: Promise<ModuleCode>,
  surely: readonly string[],
  start: (code: ModuleCode, confirmed?: Promise<boolean>) => Endpoint,
): Endpoint {
  // It starts loading dynamic imports lazily too, as most task files allow:
  // one that does not gets a host started on the answer instead.
  const covered = paths.then(
    (actual) => actual.lazy && actual.paths.every((path) => surely.includes(path)),
    () => false,
  );
  const early = start({ paths: [...surely], lazy: true }, covered);
  let terminated = false;
  const chosen = covered.then(async (ok) => {
    if (ok) return early;
    early.terminate();
    const actual = await paths.catch(() => undefined);
    return terminated || actual === undefined ? undefined : start(actual);
  });
  const deferred = deferredEndpoint(chosen, (endpoint) => endpoint);
  return {
    ...deferred,
    // Its token is written at once: that is all its start waits for here.
    launched: early.launched,
    terminate() {
      terminated = true;
      early.terminate();
      deferred.terminate();
    },
  };
}

/**
 * A task's run message, without deps or args when it has none: each of the
 * 10,000 io tasks of a fan-out would otherwise carry an empty object and an
 * empty array through every hop (serialized here, read and cloned again in
 * the host, read in its worker, and held there while its body runs).
 */
function runMessage(
  id: number,
  task: string,
  kind: "cpu" | "io",
  deps: Record<string, unknown>,
  args: readonly string[] | undefined,
): ToHost {
  let hasDeps = false;
  for (const _ in deps) {
    hasDeps = true;
    break;
  }
  if (!hasDeps && (args === undefined || args.length === 0)) return { type: "run", id, task, kind };
  return { type: "run", id, task, kind, deps, args: args ?? [] };
}

/**
 * An endpoint whose process starts once `ready` resolves; messages wait until
 * then. `start` may decline (`undefined`): then they wait for good.
 */
function deferredEndpoint<T>(
  ready: Promise<T>,
  start: (value: T) => Endpoint | undefined,
): Endpoint {
  let endpoint: Endpoint | undefined;
  let queued: [ToHost, Transferable[]][] = [];
  let terminated = false;
  const launched = ready.then((value) => {
    if (terminated) return;
    endpoint = start(value);
    if (endpoint === undefined) return;
    for (const [message, transfer] of queued) endpoint.post(message, transfer);
    queued = [];
    return endpoint.launched;
  });
  return {
    launched,
    post(message, transfer) {
      if (endpoint !== undefined) endpoint.post(message, transfer);
      else queued.push([message, transfer]);
    },
    recycle() {
      this.post({ type: "recycle" }, []);
    },
    terminate() {
      terminated = true;
      endpoint?.terminate();
    },
  };
}
