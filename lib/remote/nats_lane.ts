/**
 * {@linkcode NatsLane}: the cpu lane of a run whose cpu tasks (and shard
 * chunks and steps) run on `spool worker` processes, over NATS JetStream.
 * The run keeps the graph; each cpu job becomes a message on the work-queue
 * stream, a worker runs it in its own sandboxed pool and publishes the
 * result, which this lane matches to the job (once: a job redelivered after
 * a worker died resolves with the first result that arrives).
 *
 * @module
 */

import { NatsError } from "../errors.ts";
import { deserializeError, type SerializedError } from "../pool/_protocol.ts";
import type { ChunkResult, CpuChunk, CpuResult, CpuRunOptions } from "../pool/worker_pool.ts";
import type { CpuLane } from "../run/scheduler.ts";
import {
  type Batch,
  type Cancel,
  decode,
  describePlace,
  encode,
  type Event,
  type Events,
  type Job,
  type LegacyWork,
  MAX_MESSAGE_BYTES,
  type Outcome,
  type Place,
  type Presence,
  type Results,
  type WorkKind,
} from "./_messages.ts";
import { connectOrExplain } from "./_connect.ts";
import { isEvent, isOutcome } from "./_message_checks.ts";
import type { NatsLink } from "./_nats.ts";
import { taskFileHash } from "./_task_file_hash.ts";

/** Options for {@linkcode NatsLane.connect}. */
export interface NatsLaneOptions {
  /** The task module's URL: workers must run the same file (its graph's hash is compared). */
  module: string;
  /** A NATS `.creds` file. */
  credsFile?: string;
  /** A CA certificate file to trust for TLS. */
  tlsCaFile?: string;
  /** How long to try to reach the server, in ms. Default 5000. */
  timeoutMs?: number;
  /**
   * How long cpu jobs may wait, queued, for a first worker to be heard from
   * (an answer to the run's hello, a worker starting, a job starting) before
   * every waiting job fails with a `NoWorkerError`. Default: no limit.
   */
  workerTimeoutMs?: number;
  /**
   * Called every {@linkcode NO_WORKER_REMINDER_MS} while jobs wait and no
   * worker was ever heard from, with how long they waited and how many wait.
   */
  onNoWorker?: (waitedMs: number, waiting: number) => void;
}

/** How often `onNoWorker` is called while jobs wait for a first worker. */
export const NO_WORKER_REMINDER_MS = 30_000;

/**
 * Shard chunks kept queued per worker slot: a chunk then waits in the work
 * stream for a free slot instead of a round trip through the run, which is
 * what tiny chunks over a network are made of.
 */
const CHUNKS_PER_SLOT = 32;

/** Messages per worker slot that a flush's pending jobs are spread over, at least. */
const SPREAD = 4;
/** How long a job submitted while others are out waits for more to join its batch, in ms. */
const LINGER_MS = 1;
/** Messages that a flush's pending jobs are spread over, at least. */
const MIN_MESSAGES = 16;
/** Jobs in one work message, at most. */
const MAX_BATCH = 16;
/**
 * Work one batch holds, at most, once jobs' times are known: a batch goes to
 * one worker, so that a batch of long tasks would leave others idle at the
 * end of a run.
 */
const BATCH_BUDGET_MS = 50;
/** Jobs waiting to be queued that make a flush at once. */
const MAX_OUTBOX = 4096;

/** A queued work message, until its jobs settle. */
interface QueuedBatch {
  /** Its jobs still pending. */
  members: Set<number>;
  /** Its sequence number in the work stream, once stored. */
  seq: number | undefined;
  /** Whether one of its jobs was aborted. */
  aborted: boolean;
}

/** How long connecting waits for a first worker to say it is there, in ms. */
const HELLO_WAIT_MS = 250;

interface Pending {
  options: CpuRunOptions;
  /** The worker it last started on. */
  worker: number | undefined;
  /** The batch it was queued in. */
  batch: number | undefined;
  resolve: (result: ChunkResult) => void;
  reject: (error: unknown) => void;
}

/** A cpu lane whose jobs run on `spool worker` processes reached through NATS JetStream. */
export class NatsLane implements CpuLane {
  #link: NatsLink;
  #url: string;
  #run = crypto.randomUUID().replaceAll("-", "");
  #hash: string;
  #nextJob = 0;
  #jobs = new Map<number, Pending>();
  /** Jobs submitted, not yet queued: they go in batches, once per turn of the event loop. */
  #outbox: Job[] = [];
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  #batches = new Map<number, QueuedBatch>();
  /** A moving average of jobs' times on workers, in ms, once one ended. */
  #jobMs: number | undefined;
  #places = new Map<string, number>();
  #names: string[] = [];
  #announced = new Map<string, number>();
  #stop: (() => void)[] = [];
  #closed: Promise<void> | undefined;
  /** Whether a worker was ever heard from: the no-worker clock stops for good. */
  #heard = false;
  #noWorker: Error | undefined;
  #timers: ReturnType<typeof setTimeout>[] = [];
  #options: NatsLaneOptions;

  private constructor(link: NatsLink, url: string, hash: string, options: NatsLaneOptions) {
    this.#link = link;
    this.#url = url;
    this.#hash = hash;
    this.#options = options;
  }

  /**
   * Connects to the server, creates spool's streams when missing, and
   * starts listening for this run's results.
   *
   * @param url The server, `nats://host:4222`.
   * @param options The task module, credentials, TLS and a time limit.
   * @returns The lane; `close()` it when the run ends.
   * @throws {NatsError} When the server cannot be reached or has no JetStream.
   * @example Run a task file's cpu tasks on workers
   * ```ts ignore
   * import { NatsLane, run } from "@spool/spool";
   * import tasks from "./tasks.ts";
   *
   * const lane = await NatsLane.connect("nats://127.0.0.1:4222", {
   *   module: new URL("./tasks.ts", import.meta.url).href,
   * });
   * try {
   *   const report = await run(tasks, { cpuLane: lane });
   *   console.log(report.ok);
   * } finally {
   *   await lane.close();
   * }
   * ```
   */
  static async connect(url: string, options: NatsLaneOptions): Promise<NatsLane> {
    const hash = await taskFileHash(options.module);
    const link = await connectOrExplain(url, { name: `spool run ${Deno.pid}`, ...options });
    const lane = new NatsLane(link, url, hash, options);
    try {
      await link.ensureStreams();
      await lane.#listen();
    } catch (error) {
      await link.close();
      throw new NatsError(
        url,
        `${(error as Error).message}: is JetStream enabled (nats-server -js)?`,
        {
          cause: error,
        },
      );
    }
    return lane;
  }

  async #listen(): Promise<void> {
    this.#stop.push(await this.#link.onResults(this.#run, (data) => this.#onOutcome(data)));
    this.#stop.push(
      this.#link.listen(`spool.event.${this.#run}`, (_, data) => this.#onEvent(data)),
    );
    // Who is there: the first answer is waited for (briefly), the rest come as they come.
    const { promise: answered, resolve } = Promise.withResolvers<void>();
    this.#stop.push(this.#link.listen("spool.presence", (_, data) => {
      try {
        const { machine, pid, slots } = decode<Presence>(data);
        this.#announced.set(`${machine} ${pid}`, slots);
        this.#heardFrom();
        resolve();
      } catch {
        // Not a presence message.
      }
    }));
    await this.#link.flush();
    this.#link.send("spool.hello", new Uint8Array());
    const wait = setTimeout(resolve, HELLO_WAIT_MS);
    await answered;
    clearTimeout(wait);
  }

  /**
   * The worker slots this run can use: those the workers announced when it
   * started, or those it has seen take jobs when more (at least 1).
   */
  get size(): number {
    let announced = 0;
    for (const slots of this.#announced.values()) announced += slots;
    return Math.max(1, this.#names.length, announced);
  }

  /** How many shard chunks a sharded task keeps queued or running: {@linkcode CHUNKS_PER_SLOT} per slot. */
  get chunksInFlight(): number {
    return this.size * CHUNKS_PER_SLOT;
  }

  /** How many workers answered when the run connected. */
  get workersAnswered(): number {
    return this.#announced.size;
  }

  /** The server's URL. */
  get url(): string {
    return this.#url;
  }

  /**
   * Where each worker index of the report ran: `machine pid N slot M`.
   *
   * @returns One name per worker index.
   */
  workerNames(): string[] {
    return [...this.#names];
  }

  /**
   * Runs one cpu task's body on a worker.
   *
   * @param task The task's name.
   * @param deps Its dependencies' results.
   * @param options Its abort signal and start, output callbacks (a worker
   * uses the permissions its own task file declares, never the run's).
   * @returns The body's result, and the worker index (see `workerNames`).
   */
  run(
    task: string,
    deps: Record<string, unknown>,
    options: CpuRunOptions = {},
  ): Promise<CpuResult> {
    return this.#submit(task, { kind: "run", deps }, options);
  }

  /**
   * Runs a sharded task's `map` over one chunk, on a worker.
   *
   * @param task The task's name.
   * @param chunk The items and the index of the first.
   * @param options Its abort signal.
   * @returns The chunk's values (or fold), the worker index and its time.
   */
  runChunk(task: string, chunk: CpuChunk, options: CpuRunOptions = {}): Promise<ChunkResult> {
    return this.#submit(task, { kind: "chunk", items: chunk.items, start: chunk.start }, options);
  }

  /**
   * Runs a sharded task's `items` or fold on a worker.
   *
   * @param task The task's name.
   * @param step Which of the two.
   * @param input Its deps, or the chunks' results.
   * @param options Its abort signal.
   * @returns The step's result.
   */
  runShardStep(
    task: string,
    step: "items" | "fold",
    input: Record<string, unknown> | unknown[],
    options: CpuRunOptions = {},
  ): Promise<CpuResult> {
    return this.#submit(task, { kind: "step", step, input }, options);
  }

  #submit(task: string, kind: WorkKind, options: CpuRunOptions): Promise<ChunkResult> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#closed !== undefined) {
      return Promise.reject(new Error(`Cannot run task "${task}" as its NATS lane is closed`));
    }
    if (this.#noWorker !== undefined) return Promise.reject(this.#noWorker);
    if (!this.#heard && this.#timers.length === 0) this.#watchForWorkers();
    const job = this.#nextJob++;
    return new Promise<ChunkResult>((resolve, reject) => {
      const onAbort = () => {
        const pending = this.#jobs.get(job);
        if (pending === undefined) return;
        this.#jobs.delete(job);
        // Queued: gone from the stream with the last of its batch; taken: its worker stops it.
        this.#leaveBatch(job, pending.batch, true);
        this.#link.send(`spool.cancel.${this.#run}`, encode({ job } satisfies Cancel));
        reject(signal!.reason);
      };
      const settle = <T>(fn: (value: T) => void) => (value: T) => {
        signal?.removeEventListener("abort", onAbort);
        fn(value);
      };
      this.#jobs.set(job, {
        options,
        worker: undefined,
        batch: undefined,
        resolve: settle(resolve),
        reject: settle(reject),
      });
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#outbox.push({ ...kind, job, task, args: options.args ?? [] });
      if (this.#outbox.length >= MAX_OUTBOX) this.#flush();
      else {
        // With jobs out, their results bring more jobs soon: they join this batch.
        const linger = this.#jobs.size > this.#outbox.length ? LINGER_MS : 0;
        this.#flushTimer ??= setTimeout(() => this.#flush(), linger);
      }
    });
  }

  /**
   * Queues the jobs submitted since the last flush, in batches whose size
   * grows with the jobs pending: a batch holds two jobs only once
   * {@linkcode SPREAD} messages' worth per worker slot (and at least
   * {@linkcode MIN_MESSAGES}) are pending, so that a few long tasks still go
   * one per message to the first free slots, even to workers the run has not
   * heard of yet, while thousands of tiny ones (or a sharded task's chunks in
   * flight) cost a publish per batch of up to {@linkcode MAX_BATCH}, or of
   * {@linkcode BATCH_BUDGET_MS} of work once jobs' times are known.
   */
  #flush(): void {
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    const jobs = this.#outbox.filter((job) => this.#jobs.has(job.job));
    this.#outbox = [];
    const messages = Math.max(this.size * SPREAD, MIN_MESSAGES);
    const budget = this.#jobMs === undefined
      ? MAX_BATCH
      : Math.floor(BATCH_BUDGET_MS / Math.max(this.#jobMs, 0.01));
    const size = Math.max(1, Math.min(MAX_BATCH, budget, Math.floor(this.#jobs.size / messages)));
    for (let at = 0; at < jobs.length; at += size) this.#queue(jobs.slice(at, at + size));
  }

  #queue(jobs: Job[]): void {
    const id = this.#nextJob++;
    const batch: Batch = {
      run: this.#run,
      job: id,
      task: jobs[0].task,
      hash: this.#hash,
      args: jobs[0].args,
      jobs,
    };
    let data: Uint8Array;
    try {
      data = encode(batch);
    } catch {
      // One job's input cannot cross: it fails alone, the others go.
      const sendable = jobs.filter((job) => {
        try {
          encode(job as unknown as LegacyWork);
          return true;
        } catch (error) {
          const pending = this.#jobs.get(job.job);
          this.#jobs.delete(job.job);
          pending?.reject(
            new TypeError(
              `Cannot send task "${job.task}" to a worker: ${(error as Error).message}`,
            ),
          );
          return false;
        }
      });
      if (sendable.length < jobs.length) {
        if (sendable.length > 0) this.#queue(sendable);
      } else for (const job of jobs) this.#queue([job]);
      return;
    }
    if (data.length > MAX_MESSAGE_BYTES && jobs.length > 1) {
      const half = Math.ceil(jobs.length / 2);
      this.#queue(jobs.slice(0, half));
      this.#queue(jobs.slice(half));
      return;
    }
    const members = new Set(jobs.map((job) => job.job));
    const entry: QueuedBatch = { members, seq: undefined, aborted: false };
    this.#batches.set(id, entry);
    for (const job of jobs) this.#jobs.get(job.job)!.batch = id;
    this.#link.queue(this.#run, data).then((seq) => {
      entry.seq = seq;
      if (entry.members.size === 0 && entry.aborted) this.#link.unqueue(seq);
    }, (error) => {
      this.#batches.delete(id);
      for (const job of members) {
        const pending = this.#jobs.get(job);
        this.#jobs.delete(job);
        pending?.reject(
          new Error(
            `Cannot queue task "${jobs.find((j) => j.job === job)!.task}" on ${this.#url}: ${
              (error as Error).message
            }`,
            { cause: error },
          ),
        );
      }
    });
  }

  /** A job settled, or was aborted: a batch all aborted leaves the stream if still queued. */
  #leaveBatch(job: number, batch: number | undefined, aborted: boolean): void {
    if (batch === undefined) return;
    const entry = this.#batches.get(batch);
    if (entry === undefined) return;
    entry.members.delete(job);
    if (aborted) entry.aborted = true;
    if (entry.members.size > 0) return;
    this.#batches.delete(batch);
    if (entry.aborted && entry.seq !== undefined) this.#link.unqueue(entry.seq);
  }

  #index(place: Place): number {
    const key = describePlace(place);
    let index = this.#places.get(key);
    if (index === undefined) {
      index = this.#names.push(key) - 1;
      this.#places.set(key, index);
    }
    return index;
  }

  #onEvent(data: Uint8Array): void {
    let events: Event[];
    try {
      const message = decode<Events | Event>(data);
      events = "events" in message && Array.isArray(message.events)
        ? message.events
        : [message as Event];
    } catch {
      return;
    }
    for (const event of events) {
      if (!isEvent(event)) continue;
      const pending = this.#jobs.get(event.job);
      if (pending === undefined) continue;
      this.#heardFrom();
      if (event.type === "start") this.#started(pending, this.#index(event.place));
      else if (event.type === "output") {
        const { onOutput } = pending.options;
        if (onOutput !== undefined) onOutput(event.stream, event.text);
        else (event.stream === "stderr" ? console.error : console.log)(event.text);
      }
    }
  }

  /** A job started on a worker: first, or again elsewhere after a worker died. */
  #started(pending: Pending, worker: number): void {
    if (pending.worker === worker) return;
    pending.worker = worker;
    pending.options.onStart?.(worker);
  }

  #onOutcome(data: Uint8Array): void {
    let outcomes: Outcome[];
    try {
      const message = decode<Results | Outcome>(data);
      outcomes = "outcomes" in message && Array.isArray(message.outcomes)
        ? message.outcomes
        : [message as Outcome];
    } catch {
      return;
    }
    for (const outcome of outcomes) {
      if (!isOutcome(outcome)) continue;
      const batch = this.#batches.get(outcome.job);
      if (batch !== undefined && !outcome.ok) {
        // A worker of the format before batches refused the batch as one job: all of it fails.
        for (const job of [...batch.members]) this.#settle({ ...outcome, job });
      } else this.#settle(outcome);
    }
  }

  #settle(outcome: Outcome): void {
    const pending = this.#jobs.get(outcome.job);
    // Already settled: a second delivery's result, or an aborted job's.
    if (pending === undefined) return;
    this.#heardFrom();
    this.#jobs.delete(outcome.job);
    this.#leaveBatch(outcome.job, pending.batch, false);
    const worker = this.#index(outcome.place);
    this.#started(pending, worker);
    if (outcome.ok) {
      const ms = Number.isFinite(outcome.ms) && outcome.ms >= 0 ? outcome.ms : this.#jobMs;
      if (ms !== undefined) this.#jobMs = 0.9 * (this.#jobMs ?? ms) + 0.1 * ms;
      pending.resolve({ value: outcome.value, worker, ms: outcome.ms });
    } else pending.reject(remoteError(outcome.error));
  }

  /** Jobs wait for a first worker: remind, and fail them after the worker timeout. */
  #watchForWorkers(): void {
    const since = performance.now();
    const { workerTimeoutMs, onNoWorker } = this.#options;
    const reminder = setInterval(() => {
      if (this.#jobs.size > 0) onNoWorker?.(performance.now() - since, this.#jobs.size);
    }, NO_WORKER_REMINDER_MS);
    this.#timers.push(reminder);
    if (workerTimeoutMs === undefined) return;
    const timeout = setTimeout(() => {
      this.#noWorker = new Error(
        `No spool worker took a job on ${this.#url} within ${workerTimeoutMs}ms (--worker-timeout): start one with spool worker --nats ${this.#url}`,
      );
      this.#noWorker.name = "NoWorkerError";
      this.#clearTimers();
      for (const [job, pending] of this.#jobs) {
        this.#jobs.delete(job);
        pending.reject(this.#noWorker);
      }
      // Their messages would otherwise wait for a worker that comes later.
      this.#link.purgeRun(this.#run);
    }, workerTimeoutMs);
    this.#timers.push(timeout);
  }

  #heardFrom(): void {
    if (this.#heard) return;
    this.#heard = true;
    this.#clearTimers();
  }

  #clearTimers(): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers = [];
  }

  /**
   * Ends the run's remote part: cancels its queued and running jobs, drops
   * its messages from the streams, and closes the connection.
   *
   * @returns Resolves when done.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#clearTimers();
      clearTimeout(this.#flushTimer);
      this.#outbox = [];
      this.#batches.clear();
      for (const stop of this.#stop) stop();
      this.#link.send(`spool.cancel.${this.#run}`, encode({} satisfies Cancel));
      for (const [job, pending] of this.#jobs) {
        this.#jobs.delete(job);
        pending.reject(new Error("The NATS lane closed before the task ended"));
      }
      await this.#link.purgeRun(this.#run);
      await this.#link.close();
    })();
    return this.#closed;
  }
}

/** A worker's error, rebuilt; one that cannot be (any peer may send) is said so. */
function remoteError(data: SerializedError): Error {
  try {
    return deserializeError(data);
  } catch {
    return new Error("A remote worker sent an error spool cannot read");
  }
}
