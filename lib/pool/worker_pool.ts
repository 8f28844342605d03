/**
 * The main side of the cpu lane: a warm pool of Web Workers that run cpu task
 * bodies. Each worker is spawned with exactly one task's declared permissions
 * and serves tasks with the same permissions; the pool never holds more than
 * `size` workers nor runs more than `size` tasks at once.
 *
 * A queued task goes to the first free worker with its permissions; failing
 * that to an empty slot; failing that, an idle worker with other permissions
 * is replaced. Aborting a queued task removes it; aborting a running one
 * terminates its worker, and the slot is refilled when work needs it.
 *
 * A worker that dies while running a task (an uncaught error or unhandled
 * rejection outside the body, `self.close()`, `Deno.exit()`; see
 * `_worker_guard.ts`) fails only that task, with a {@linkcode WorkerCrashError},
 * and one aborted for a timeout (its signal's reason is a `TimeoutError`) is
 * terminated; in both cases a replacement starts at once, so the pool keeps
 * its size.
 *
 * @module
 */

import { deserializeError, type FromWorker, type ToWorker, transferList } from "./_protocol.ts";
import { isTimeout } from "../run/_deadline.ts";
import { workerBootstrap } from "./_bootstrap.ts";
import { permissionKey, type Permissions, workerPermissions } from "../declare/permissions.ts";

/** Options for {@linkcode WorkerPool}. */
export interface WorkerPoolOptions {
  /** How many workers at most; defaults to `navigator.hardwareConcurrency`. */
  size?: number;
}

/** Options for {@linkcode WorkerPool.run}. */
export interface CpuRunOptions {
  /** The permissions the task declared; its worker gets exactly these. */
  permissions?: Permissions;
  /** Aborting removes the task from the queue, or terminates its worker. */
  signal?: AbortSignal;
  /** Called when the task is handed to a warm worker, with the worker's index. */
  onStart?: (worker: number) => void;
  /**
   * Receives what the task prints with `console` in its worker, a call at a
   * time without its final newline. Without it, the text goes to this
   * thread's console.
   */
  onOutput?: (stream: "stdout" | "stderr", text: string) => void;
}

/** What a cpu task returned, and where it ran. */
export interface CpuResult {
  /** The body's result, structured-cloned from the worker. */
  value: unknown;
  /** The index of the worker slot that ran it, from 0. */
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

/** A worker that died or could not start while it held a task. */
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
    const frames = cause instanceof Error && cause.stack !== undefined
      ? cause.stack.split("\n").filter((line) => /^\s+at /.test(line))
      : [];
    this.stack = [`${this.name}: ${message}`, ...frames].join("\n");
  }
}

interface Job {
  id: number;
  task: string;
  deps: Record<string, unknown>;
  chunk: CpuChunk | undefined;
  key: string;
  permissions: Permissions;
  signal: AbortSignal | undefined;
  onStart: ((worker: number) => void) | undefined;
  onOutput: CpuRunOptions["onOutput"];
  resolve: (result: ChunkResult) => void;
  reject: (error: unknown) => void;
  onAbort: () => void;
  slot: Slot | undefined;
}

interface Slot {
  index: number;
  worker: Worker | undefined;
  key: string;
  ready: boolean;
  job: Job | undefined;
}

/** The module every worker starts from. */
export const WORKER_MAIN: string = new URL("./worker_main.ts", import.meta.url).href;

/** A warm pool of Web Workers serving the cpu tasks of one task module. */
export class WorkerPool {
  #module: string;
  #bootstrap: string;
  #slots: Slot[];
  #queue: Job[] = [];
  #nextId = 0;
  #closed = false;

  /**
   * Creates a pool for one task module; no worker starts until `warm` or `run`.
   *
   * @param module URL of the task module the workers import.
   * @param options `size`: how many workers at most.
   * @throws {RangeError} When `size` is not a positive integer.
   */
  constructor(module: string, options: WorkerPoolOptions = {}) {
    const size = options.size ?? navigator.hardwareConcurrency;
    if (!Number.isInteger(size) || size < 1) {
      throw new RangeError(
        `Cannot create worker pool as 'size' must be a positive integer: current value is ${size}`,
      );
    }
    this.#module = module;
    this.#bootstrap = workerBootstrap(WORKER_MAIN, module);
    this.#slots = Array.from({ length: size }, (_, index) => ({
      index,
      worker: undefined,
      key: "",
      ready: false,
      job: undefined,
    }));
  }

  /** The most workers the pool holds, and tasks it runs at once. */
  get size(): number {
    return this.#slots.length;
  }

  /** The task module the workers import. */
  get module(): string {
    return this.#module;
  }

  /** How many workers are alive (starting, idle or busy). */
  get liveCount(): number {
    return this.#slots.filter((slot) => slot.worker !== undefined).length;
  }

  /** How many tasks wait for a worker. */
  get pendingCount(): number {
    return this.#queue.length;
  }

  /**
   * Starts workers ahead of work, so that their start-up overlaps other
   * work. Slots go to the permission sets in the order given, each getting
   * as many as it asks for while slots remain.
   *
   * @param demand Permission sets with how many workers each could use.
   */
  warm(demand: Iterable<{ permissions: Permissions; count: number }>): void {
    const free = this.#slots.filter((slot) => slot.worker === undefined);
    for (const { permissions, count } of demand) {
      for (let i = 0; i < count && free.length > 0; i++) {
        this.#spawn(free.shift()!, permissionKey(permissions), permissions);
      }
    }
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
    return this.#enqueue(task, deps, undefined, options);
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
    return this.#enqueue(task, {}, chunk, options);
  }

  #enqueue(
    task: string,
    deps: Record<string, unknown>,
    chunk: CpuChunk | undefined,
    options: CpuRunOptions,
  ): Promise<ChunkResult> {
    const { signal, permissions = {}, onStart, onOutput } = options;
    if (this.#closed) {
      return Promise.reject(new Error("Cannot run a cpu task: the worker pool is closed"));
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<ChunkResult>((resolve, reject) => {
      const job: Job = {
        id: this.#nextId++,
        task,
        deps,
        chunk,
        key: permissionKey(permissions),
        permissions,
        signal,
        onStart,
        onOutput,
        resolve,
        reject,
        onAbort: () => this.#abort(job),
        slot: undefined,
      };
      signal?.addEventListener("abort", job.onAbort, { once: true });
      this.#queue.push(job);
      this.#pump();
    });
  }

  /** Terminates every worker; queued and running tasks are rejected. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const error = new Error("Cannot finish the cpu task: the worker pool was closed");
    for (const job of this.#queue.splice(0)) this.#settle(job, error);
    for (const slot of this.#slots) {
      if (slot.job !== undefined) this.#settle(slot.job, error);
      this.#stop(slot);
    }
  }

  /** Closes the pool, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  #pump(): void {
    while (this.#queue.length > 0 && !this.#closed) {
      const job = this.#queue[0];
      const slot = this.#slots.find((s) =>
        s.worker !== undefined && s.job === undefined && s.key === job.key
      ) ??
        this.#slots.find((s) =>
          s.worker === undefined
        ) ??
        this.#slots.find((s) => s.job === undefined);
      if (slot === undefined) return;
      this.#queue.shift();
      if (slot.worker === undefined || slot.key !== job.key) {
        this.#stop(slot);
        this.#spawn(slot, job.key, job.permissions);
      }
      slot.job = job;
      job.slot = slot;
      if (slot.ready) this.#send(slot, job);
    }
  }

  #send(slot: Slot, job: Job): void {
    const { id, task, chunk } = job;
    const message: ToWorker = chunk === undefined
      ? { type: "run", id, task, deps: job.deps }
      : { type: "chunk", id, task, items: chunk.items, start: chunk.start };
    const transfer = chunk === undefined ? transferList(job.deps) : [...(chunk.transfer ?? [])];
    try {
      slot.worker!.postMessage(message, transfer);
      job.onStart?.(slot.index);
    } catch (error) {
      slot.job = undefined;
      this.#settle(
        job,
        new TypeError(
          `Cannot send the ${
            chunk === undefined ? "dependencies" : "items"
          } of cpu task "${task}" to a worker: they are not structured-cloneable (${
            (error as Error).message
          })`,
        ),
      );
      this.#pump();
    }
  }

  #spawn(slot: Slot, key: string, permissions: Permissions): void {
    const worker = new Worker(this.#bootstrap, {
      type: "module",
      name: `spool-worker-${slot.index}`,
      deno: { permissions: workerPermissions(permissions) },
    });
    slot.worker = worker;
    slot.key = key;
    slot.ready = false;
    worker.onmessage = (event: MessageEvent<FromWorker>) =>
      this.#onMessage(slot, worker, event.data);
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      this.#crash(slot, worker, `${event.message}`);
    };
    worker.onmessageerror = () => {
      this.#crash(slot, worker, "a message from the worker could not be deserialized");
    };
  }

  #onMessage(slot: Slot, worker: Worker, message: FromWorker): void {
    if (slot.worker !== worker) return;
    switch (message.type) {
      case "ready":
        slot.ready = true;
        if (slot.job !== undefined) this.#send(slot, slot.job);
        return;
      case "fatal":
        this.#crash(slot, worker, message.error.message, deserializeError(message.error));
        return;
      case "output": {
        const job = slot.job;
        if (job?.id === message.id && job.onOutput !== undefined) {
          job.onOutput(message.stream, message.text);
        } else {
          (message.stream === "stderr" ? console.error : console.log)(message.text);
        }
        return;
      }
      case "result":
      case "error": {
        const job = slot.job;
        if (job === undefined || job.id !== message.id) return;
        slot.job = undefined;
        if (message.type === "result") {
          job.signal?.removeEventListener("abort", job.onAbort);
          job.resolve({ value: message.value, worker: slot.index, ms: message.ms ?? 0 });
        } else {
          const error = deserializeError(message.error);
          this.#settle(
            job,
            message.index === undefined ? error : new ItemError(job.task, message.index, error),
          );
        }
        this.#pump();
      }
    }
  }

  #crash(slot: Slot, worker: Worker, reason: string, cause?: Error): void {
    if (slot.worker !== worker) return;
    const job = slot.job;
    const wasReady = slot.ready;
    slot.job = undefined;
    this.#stop(slot);
    if (job !== undefined) {
      // Only a worker that had loaded is replaced at once: one that dies
      // while loading would die again, and each task may try only once.
      if (wasReady) this.#replace(slot, job);
      this.#settle(
        job,
        new WorkerCrashError(
          `Worker ${slot.index} stopped while running cpu task "${job.task}": ${reason}`,
          { cause },
        ),
      );
    }
    this.#pump();
  }

  /** Starts a worker like the one a task just lost, so the pool keeps its size. */
  #replace(slot: Slot, job: Job): void {
    if (!this.#closed) this.#spawn(slot, job.key, job.permissions);
  }

  #abort(job: Job): void {
    const queued = this.#queue.indexOf(job);
    if (queued !== -1) this.#queue.splice(queued, 1);
    const slot = job.slot;
    if (slot !== undefined && slot.job === job) {
      // A running body cannot be interrupted in place: end its worker.
      slot.job = undefined;
      this.#stop(slot);
      if (isTimeout(job.signal!.reason)) this.#replace(slot, job);
    }
    job.reject(job.signal!.reason);
    this.#pump();
  }

  #settle(job: Job, error: unknown): void {
    job.signal?.removeEventListener("abort", job.onAbort);
    job.reject(error);
  }

  #stop(slot: Slot): void {
    slot.worker?.terminate();
    slot.worker = undefined;
    slot.ready = false;
    slot.key = "";
  }
}
