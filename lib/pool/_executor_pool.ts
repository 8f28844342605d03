/**
 * The workers behind a cpu executor. Unlike the task runner's WorkerPool
 * (one task module, workers keyed by permission set), every worker here has
 * the executor's permissions and is keyed by the module whose exports it
 * calls: one bootstrap per module URL, because a worker without read
 * permission can only load code through its entry module's static imports.
 *
 * A queued job goes to an idle worker of its module; failing that to an empty
 * slot; failing that, an idle worker of another module is replaced. Aborting
 * a queued job removes it; aborting a running one ends its worker.
 *
 * Deno's Web Workers cannot be unref'd, and a live worker keeps the process
 * alive: so once no job is queued or running for `idleMs`, the idle workers
 * end (on an unref'd timer), and a script that never shuts its executor
 * down still exits, as Python's does.
 *
 * @module
 */

import {
  deserializeError,
  type FromExecutorWorker,
  type ToExecutorWorker,
} from "./_executor_protocol.ts";
import type { Outcome } from "../executors/_executor_core.ts";
import { workerBootstrap } from "./_bootstrap.ts";

/** The module every executor worker starts from. */
const EXECUTOR_WORKER = new URL("./_executor_worker.ts", import.meta.url).href;

/** How a worker broke: while starting (its module did not load) or while running a job. */
export interface Breakage {
  /** The slot index of the worker. */
  worker: number;
  /** What the worker reported, such as `Uncaught Error: boom`. */
  reason: string;
  /** `true` when the worker never became ready, so its module cannot load. */
  starting: boolean;
}

/** One chunk of calls to one export, and how to report back. */
export interface PoolJob {
  /** The module's URL. */
  module: string;
  /** The export to call. */
  export: string;
  /** The inputs, one call each. */
  inputs: unknown[];
  /** Objects to transfer with the inputs. */
  transfer: Transferable[];
  /** Called when a worker takes the job; `false` means it was cancelled meanwhile. */
  start(): boolean;
  /** The worker answered. */
  done(outcome: Outcome<unknown>): void;
  /** The inputs could not be sent, or the answer could not be read. */
  fail(error: unknown): void;
  /** The worker died, or could not start. */
  broken(breakage: Breakage): void;
}

interface Entry {
  id: number;
  job: PoolJob;
  slot: Slot | undefined;
  /** `job.start()` returned true: it is running as far as its future knows. */
  started: boolean;
  /** Aborted while it waited in a worker's inbox: its answer is ignored. */
  dropped: boolean;
}

interface Slot {
  index: number;
  worker: Worker | undefined;
  module: string;
  ready: boolean;
  /** The job the worker runs. */
  entry: Entry | undefined;
  /**
   * A second job already sent, waiting in the worker's inbox, so that the
   * worker starts it without waiting a round trip for the main thread: for
   * many small calls, that wait is most of the time.
   */
  next: Entry | undefined;
}

/** A fixed number of worker slots running jobs for any number of modules. */
export class ExecutorPool {
  #permissions: Deno.PermissionOptionsObject;
  #slots: Slot[];
  #queue = new Set<Entry>();
  #bootstraps = new Map<string, string>();
  #broken = new Map<string, Breakage>();
  #nextId = 0;
  #closed = false;
  #idleMs: number;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #idleSince = 0;

  /**
   * @param size How many workers at most.
   * @param permissions The Worker permission options every worker gets.
   * @param idleMs How long workers stay warm with nothing to do; `Infinity`
   * keeps them until `close()`.
   */
  constructor(size: number, permissions: Deno.PermissionOptionsObject, idleMs = Infinity) {
    this.#permissions = permissions;
    this.#idleMs = idleMs;
    this.#slots = Array.from({ length: size }, (_, index) => ({
      index,
      worker: undefined,
      module: "",
      ready: false,
      entry: undefined,
      next: undefined,
    }));
  }

  /** How many jobs wait for a worker. */
  get pendingCount(): number {
    return this.#queue.size;
  }

  /** How many jobs a worker holds. */
  get activeCount(): number {
    let count = 0;
    for (const slot of this.#slots) count += (slot.entry ? 1 : 0) + (slot.next ? 1 : 0);
    return count;
  }

  /**
   * Queues a job.
   *
   * @param job The job.
   * @returns Aborts the job: removes it from the queue, or ends its worker.
   */
  submit(job: PoolJob): () => void {
    const entry: Entry = {
      id: this.#nextId++,
      job,
      slot: undefined,
      started: false,
      dropped: false,
    };
    this.#queue.add(entry);
    this.#pump();
    return () => this.#abort(entry);
  }

  /** Ends every worker; the pool takes no more jobs. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#idleTimer);
    for (const slot of this.#slots) this.#stop(slot);
  }

  #pump(): void {
    this.#assign();
    this.#watchIdle();
  }

  /**
   * Notes when the pool goes idle, and arms the idle timer if it is not
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
    return this.#queue.size > 0 || this.#slots.some((slot) => slot.entry !== undefined);
  }

  #assign(): void {
    for (const entry of this.#queue) {
      if (this.#closed) return;
      const { job } = entry;
      const broken = this.#broken.get(job.module);
      if (broken !== undefined) {
        this.#queue.delete(entry);
        job.broken(broken);
        continue;
      }
      const slot = this.#slots.find((s) =>
        s.worker !== undefined && !s.entry && s.module === job.module
      ) ??
        this.#slots.find((s) => s.worker === undefined) ??
        this.#slots.find((s) => s.entry === undefined);
      if (slot === undefined) {
        const busy = this.#slots.find((s) =>
          s.ready && s.module === job.module && s.next === undefined
        );
        if (busy === undefined) return;
        this.#queue.delete(entry);
        if (!entry.started && !job.start()) continue;
        entry.started = true;
        busy.next = entry;
        entry.slot = busy;
        this.#send(busy, entry);
        continue;
      }
      this.#queue.delete(entry);
      if (!entry.started && !job.start()) continue;
      entry.started = true;
      if (slot.worker === undefined || slot.module !== job.module) {
        this.#stop(slot);
        this.#spawn(slot, job.module);
      }
      slot.entry = entry;
      entry.slot = slot;
      if (slot.ready) this.#send(slot, entry);
    }
  }

  #send(slot: Slot, entry: Entry): void {
    const { job } = entry;
    const message: ToExecutorWorker = {
      type: "call",
      id: entry.id,
      export: job.export,
      inputs: job.inputs,
    };
    try {
      slot.worker!.postMessage(message, { transfer: job.transfer });
    } catch (error) {
      if (slot.next === entry) slot.next = undefined;
      else slot.entry = undefined;
      job.fail(
        new TypeError(
          `Cannot send the input of "${job.export}" to a worker: it is not structured-cloneable (${
            (error as Error).message
          })`,
        ),
      );
    }
  }

  #spawn(slot: Slot, module: string): void {
    let bootstrap = this.#bootstraps.get(module);
    if (bootstrap === undefined) {
      bootstrap = workerBootstrap(EXECUTOR_WORKER, module);
      this.#bootstraps.set(module, bootstrap);
    }
    const worker = new Worker(bootstrap, {
      type: "module",
      name: `spool-executor-${slot.index}`,
      deno: { permissions: this.#permissions },
    });
    slot.worker = worker;
    slot.module = module;
    slot.ready = false;
    worker.onmessage = (event: MessageEvent<FromExecutorWorker>) =>
      this.#onMessage(slot, worker, event.data);
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      this.#crash(slot, worker, event.message);
    };
    worker.onmessageerror = () => {
      const entry = slot.entry;
      slot.entry = slot.next;
      slot.next = undefined;
      entry?.job.fail(
        new TypeError("Cannot read the answer of a worker: it could not be deserialized"),
      );
      this.#pump();
    };
  }

  #onMessage(slot: Slot, worker: Worker, message: FromExecutorWorker): void {
    if (slot.worker !== worker) return;
    if (message.type === "crash") {
      this.#crash(slot, worker, message.reason);
      return;
    }
    if (message.type === "ready") {
      slot.ready = true;
      if (slot.entry !== undefined) this.#send(slot, slot.entry);
    } else {
      const entry = slot.entry;
      if (entry === undefined || entry.id !== message.id) return;
      slot.entry = slot.next;
      slot.next = undefined;
      if (!entry.dropped) {
        entry.job.done(
          message.type === "done"
            ? { values: message.values }
            : { values: message.values, error: { reason: deserializeError(message.error) } },
        );
      }
    }
    this.#pump();
  }

  #crash(slot: Slot, worker: Worker, reason: string): void {
    if (slot.worker !== worker) return;
    const breakage: Breakage = { worker: slot.index, reason, starting: !slot.ready };
    // A module that fails to load fails the same way every time.
    if (breakage.starting) this.#broken.set(slot.module, breakage);
    const entry = slot.entry;
    slot.entry = undefined;
    this.#requeueNext(slot);
    this.#stop(slot);
    if (entry !== undefined && !entry.dropped) entry.job.broken(breakage);
    this.#pump();
  }

  /** The job waiting in a worker that is about to end goes back to the queue. */
  #requeueNext(slot: Slot): void {
    const next = slot.next;
    slot.next = undefined;
    if (next === undefined || next.dropped) return;
    next.slot = undefined;
    this.#queue.add(next);
  }

  #abort(entry: Entry): void {
    if (this.#queue.delete(entry)) return;
    const slot = entry.slot;
    if (slot === undefined) return;
    if (slot.next === entry) {
      // Already in the worker's inbox, not started: the worker will run it,
      // but nobody hears the answer.
      entry.dropped = true;
      return;
    }
    if (slot.entry !== entry) return;
    // A running call cannot be interrupted in place: end its worker.
    slot.entry = undefined;
    this.#requeueNext(slot);
    this.#stop(slot);
    this.#pump();
  }

  #stop(slot: Slot): void {
    slot.worker?.terminate();
    slot.worker = undefined;
    slot.ready = false;
    slot.module = "";
  }
}
