/**
 * `spool worker`: a process that pulls a NATS run's cpu jobs from the
 * shared work queue and runs them on its own sandboxed {@linkcode WorkerPool},
 * with the permissions its own copy of the task file declares (never what a
 * message asks for). It acks a job only once its result is stored, sends
 * heartbeats while a job runs, refuses jobs of a different task file, and
 * stops a job its run cancels.
 *
 * @module
 */

import { loadTaskFile } from "../declare/load.ts";
import { findMissingGrants, permissionKey, workerLoadGrant } from "../declare/permissions.ts";
import { NatsError, PermissionError } from "../errors.ts";
import { serializeError } from "../pool/_protocol.ts";
import { type CpuResult, type WarmDemand, WORKER_MAIN, WorkerPool } from "../pool/worker_pool.ts";
import type { TextSink } from "../report/plain.ts";
import { safeLine } from "../report/_sanitize.ts";
import { hostGrants, promptGuard } from "../run/_sandbox_checks.ts";
import type { Task } from "../declare/define.ts";
import {
  type Batch,
  type Cancel,
  decode,
  encode,
  type Event,
  type Job,
  type LegacyWork,
  type Outcome,
  type Place,
  type Presence,
  PROTOCOL,
  type WorkHeader,
} from "./_messages.ts";
import { Replies } from "./_replies.ts";
import type { NatsLink, WorkMessage } from "./_nats.ts";
import { connectOrExplain } from "./_connect.ts";
import { taskFileHash } from "./_task_file_hash.ts";

/** The default time a job may go without an ack or heartbeat before it is redelivered. */
export const DEFAULT_ACK_WAIT_MS = 30_000;
/** How long one pull request waits for jobs, in ms. */
const PULL_EXPIRES_MS = 5000;

/** How often a job is delivered, at most, before it fails as crashed. */
export const DEFAULT_MAX_DELIVERIES = 3;

/** Options for {@linkcode runWorker}. */
export interface WorkerOptions {
  /** The task file: the same as the runs' (its graph's hash is compared). */
  file: string;
  /** The NATS server, `nats://host:4222`. */
  url: string;
  /** Jobs run at once (the pool's size); default `navigator.hardwareConcurrency`. */
  workers?: number;
  /** Where sandboxes live; default `"process"`. */
  isolation?: "process" | "worker";
  /** How long a job may go unacked before the server redelivers it; default 30 s. */
  ackWaitMs?: number;
  /**
   * Work messages taken beyond one per slot, their jobs to wait in the
   * pool's queue (with heartbeats): faster for tiny tasks, but a long job
   * taken ahead waits while another worker may be idle. A message holds one
   * job, or a batch of them when a run has many pending. Default 0.
   */
  prefetch?: number;
  /** Deliveries of one job before it fails as crashed; default 3. */
  maxDeliveries?: number;
  /** A NATS `.creds` file. */
  credsFile?: string;
  /** A CA certificate file to trust for TLS. */
  tlsCaFile?: string;
  /** Log only errors, not a line per job. */
  quiet?: boolean;
  /** Where the log goes. */
  stderr: TextSink;
  /** Stops the worker: running jobs go back to the queue at once. */
  signal?: AbortSignal;
}

interface Running {
  run: string;
  job: number;
  controller: AbortController;
}

/**
 * Runs a worker until its signal aborts.
 *
 * @param options The task file, server, pool size and log.
 * @returns Resolves once stopped, running jobs handed back.
 * @throws {TaskFileError} When the task file does not load.
 * @throws {PermissionError} When this process lacks a grant a cpu task declared.
 * @throws {NatsError} When the server cannot be reached or has no JetStream.
 */
export async function runWorker(options: WorkerOptions): Promise<void> {
  const { stderr, signal } = options;
  const loaded = await loadTaskFile(options.file);
  const cpu = [...loaded.tasks.tasks.values()].filter((task) => task.kind === "cpu");
  const isolation = options.isolation ?? "process";
  const size = options.workers ?? navigator.hardwareConcurrency;
  const ackWaitMs = options.ackWaitMs ?? DEFAULT_ACK_WAIT_MS;
  const maxDeliveries = options.maxDeliveries ?? DEFAULT_MAX_DELIVERIES;
  const prefetch = options.prefetch ?? 0;
  if (cpu.length > 0) {
    const missing = findMissingGrants(cpu);
    if (cpu.some((task) => (task.isolation ?? isolation) === "process")) {
      missing.push(...hostGrants(cpu[0].name));
    }
    if (cpu.some((task) => (task.isolation ?? isolation) === "worker")) {
      promptGuard(cpu[0].name);
      const load = workerLoadGrant(cpu[0].name, loaded.url, WORKER_MAIN);
      if (load !== undefined) missing.push(load);
    }
    if (missing.length > 0) throw new PermissionError(missing);
  }
  const hash = await taskFileHash(loaded.url);
  const link = await connectOrExplain(options.url, {
    name: `spool worker ${Deno.pid}`,
    credsFile: options.credsFile,
    tlsCaFile: options.tlsCaFile,
  });
  const pool = new WorkerPool(loaded.url, {
    size,
    isolation,
    onStrayOutput: (_stream, text) => stderr.write(`${safeLine(text)}\n`),
  });
  const stop = new AbortController();
  const onStop = () => stop.abort();
  signal?.addEventListener("abort", onStop, { once: true });
  if (signal?.aborted) stop.abort();
  const running = new Map<string, Running>();
  const cancelled = new Set<string>();
  const replies = new Replies(link);
  const log = (line: string) => stderr.write(`${safeLine(line)}\n`);
  try {
    try {
      await link.ensureStreams();
      await link.ensureWorkerConsumer(ackWaitMs);
    } catch (error) {
      throw new NatsError(
        options.url,
        `${(error as Error).message}: is JetStream enabled (nats-server -js)?`,
        { cause: error },
      );
    }
    const stopListening = link.listen("spool.cancel.*", (subject, data) => {
      const run = subject.slice("spool.cancel.".length);
      let cancel: Cancel;
      try {
        cancel = decode<Cancel>(data);
      } catch {
        return;
      }
      remember(cancelled, cancel.job === undefined ? run : `${run}.${cancel.job}`);
      for (const entry of running.values()) {
        if (entry.run === run && (cancel.job === undefined || cancel.job === entry.job)) {
          entry.controller.abort(new Error("cancelled by its run"));
        }
      }
    });
    // Sandboxes start now, not when the first job comes: a run finds them warm.
    const demand = new Map<string, WarmDemand>();
    for (const { permissions, maxHeapMb, isolation } of cpu) {
      const key = `${permissionKey(permissions)} ${maxHeapMb} ${isolation}`;
      if (!demand.has(key)) demand.set(key, { permissions, maxHeapMb, isolation, count: size });
    }
    pool.warm(demand.values());
    const machine = hostName();
    // A run asks who is there when it starts, to size its shard chunks.
    const presence = encode({ machine, pid: Deno.pid, slots: size } satisfies Presence);
    const stopAnswering = link.listen("spool.hello", () => link.send("spool.presence", presence));
    link.send("spool.presence", presence);
    log(
      `spool worker: ${size} slots for ${options.file} (task file ${
        hash.slice(0, 12)
      }), waiting for jobs on ${options.url}`,
    );
    const context: JobContext = {
      link,
      pool,
      hash,
      tasks: loaded.tasks.tasks,
      file: options.file,
      machine,
      ackWaitMs,
      maxDeliveries,
      running,
      cancelled,
      replies,
      quiet: options.quiet ?? false,
      log,
    };
    // Pull requests ask for a message per slot (and those taken ahead): a
    // message holds one job, or a batch when its run has many pending (it
    // sizes batches so that its pending jobs span many messages).
    const capacity = size + prefetch;
    let busy = 0;
    let asked = 0;
    const fetches = new Set<Promise<void>>();
    const jobs = new Set<Promise<void>>();
    // While a pull request is open, freed slots are asked for a quarter of
    // the capacity at a time: a pull request per finished message would cost
    // a round trip (and a subscription) per message.
    const batch = Math.max(1, Math.floor(capacity / 4));
    const pump = () => {
      const want = capacity - busy - asked;
      if (stop.signal.aborted || want <= 0 || (asked > 0 && want < batch)) return;
      asked += want;
      const fetching = (async () => {
        let arrived = 0;
        try {
          for await (const message of link.pull(want, PULL_EXPIRES_MS, stop.signal)) {
            arrived++;
            asked--;
            busy++;
            const job = runBatch(message, context, stop.signal)
              .catch((error) => log(`error: ${(error as Error)?.message ?? error}`))
              .finally(() => {
                busy--;
                jobs.delete(job);
                pump();
              });
            jobs.add(job);
          }
        } catch (error) {
          if (!stop.signal.aborted) {
            log(`error: Cannot pull jobs from ${options.url}: ${(error as Error).message}`);
            await new Promise((resolve) => setTimeout(resolve, 1000));
          }
        } finally {
          asked -= want - arrived;
        }
      })().finally(() => {
        fetches.delete(fetching);
        pump();
      });
      fetches.add(fetching);
    };
    pump();
    if (!stop.signal.aborted) {
      await new Promise((resolve) =>
        stop.signal.addEventListener("abort", resolve, { once: true })
      );
    }
    while (fetches.size > 0) await Promise.all(fetches);
    while (jobs.size > 0) await Promise.all(jobs);
    stopListening();
    stopAnswering();
  } finally {
    signal?.removeEventListener("abort", onStop);
    for (const entry of running.values()) entry.controller.abort(new Error("worker stopping"));
    pool.close();
    await replies.drain();
    await link.close();
  }
}

interface JobContext {
  link: NatsLink;
  pool: WorkerPool;
  hash: string;
  tasks: ReadonlyMap<string, Task>;
  file: string;
  machine: string;
  ackWaitMs: number;
  maxDeliveries: number;
  running: Map<string, Running>;
  cancelled: Set<string>;
  /** Outcomes and events on their way to runs. */
  replies: Replies;
  quiet: boolean;
  log: (line: string) => void;
}

/** Runs one delivered work message's jobs to its acked end. */
async function runBatch(
  message: WorkMessage,
  context: JobContext,
  stop: AbortSignal,
): Promise<void> {
  const { cancelled, log } = context;
  let batch: Batch | LegacyWork;
  try {
    batch = decode<Batch | LegacyWork>(message.data);
  } catch {
    log("error: Dropped a job that is not a spool message");
    message.ack();
    return;
  }
  const { run } = batch;
  const place: Place = { machine: context.machine, pid: Deno.pid, slot: -1 };
  if (!("jobs" in batch) || !Array.isArray(batch.jobs)) {
    // A run of the format before batches: refused in its own format.
    await refuseLegacy(message, batch, place, context);
    return;
  }
  if (cancelled.has(run)) {
    message.ack();
    return;
  }
  const jobs = batch.jobs;
  const labels = jobs.length === 1
    ? `task ${label(run, jobs[0])}`
    : `${jobs.length} tasks (run ${run.slice(0, 8)})`;
  let fail: ((job: Job) => Outcome) | undefined;
  if (message.deliveryCount > context.maxDeliveries) {
    log(`error: Gave up ${labels}: delivered ${message.deliveryCount} times`);
    fail = (job) =>
      failure(job.job, place, "crashed", {
        name: "WorkerCrashError",
        message:
          `Task "${job.task}" was delivered to workers ${message.deliveryCount} times and none finished it: each worker holding it died or stopped (spool worker --max-deliveries raises the limit)`,
      });
  } else if (batch.hash !== context.hash) {
    const refusal = `its task file "${context.file}" (${
      context.hash.slice(0, 12)
    }) differs from the run's (${
      String(batch.hash).slice(0, 12)
    }): start the worker with the same task file and spool version as the run`;
    log(`error: Refused ${labels}: ${refusal}`);
    fail = (job) =>
      failure(job.job, place, "refused", {
        name: "WorkerRefusedError",
        message: `Worker ${context.machine} pid ${Deno.pid} refused task "${job.task}": ${refusal}`,
      });
  }
  // Tells the server the jobs are alive, so that they are not given to another worker.
  const heartbeat = setInterval(() => message.working(), Math.max(100, context.ackWaitMs / 3));
  try {
    const stored = await Promise.allSettled(
      jobs.map((job) =>
        fail !== undefined
          ? context.replies.outcome(run, fail(job))
          : runJob(run, job, place, context, stop)
      ),
    );
    const lost = stored.find((result) => result.status === "rejected");
    if (stop.aborted) {
      // Back to the queue at once, for another worker; results already stored count once.
      message.nak();
      log(`Handed back ${labels}: the worker is stopping`);
    } else if (lost !== undefined) {
      message.nak();
      log(
        `error: Cannot store the results of ${labels}, handed them back: ${lost.reason?.message}`,
      );
    } else message.ack();
  } finally {
    clearInterval(heartbeat);
  }
}

function label(run: string, job: { job: number; task: string }): string {
  return `"${job.task}" (run ${run.slice(0, 8)}, job ${job.job})`;
}

/**
 * Runs one job of a batch.
 *
 * @returns Resolves once its outcome is stored (or at once when it was cancelled).
 */
async function runJob(
  run: string,
  work: Job,
  place: Place,
  context: JobContext,
  stop: AbortSignal,
): Promise<void> {
  const { job, task: name } = work;
  if (context.cancelled.has(`${run}.${job}`)) return;
  const task = context.tasks.get(name);
  if (task === undefined || task.kind !== "cpu") {
    const refusal = `its task file "${context.file}" has no cpu task "${name}"`;
    context.log(`error: Refused task ${label(run, work)}: ${refusal}`);
    return context.replies.outcome(
      run,
      failure(job, place, "refused", {
        name: "WorkerRefusedError",
        message: `Worker ${context.machine} pid ${Deno.pid} refused task "${name}": ${refusal}`,
      }),
    );
  }
  const controller = new AbortController();
  const onStop = () => controller.abort(new Error("worker stopping"));
  stop.addEventListener("abort", onStop, { once: true });
  const key = `${run}.${job}`;
  context.running.set(key, { run, job, controller });
  const event = (data: Event) => context.replies.event(run, data);
  const options = {
    permissions: task.permissions,
    maxHeapMb: task.maxHeapMb,
    isolation: task.isolation,
    args: work.args,
    signal: controller.signal,
    onStart: (slot: number) => event({ type: "start", job, place: { ...place, slot } }),
    onOutput: (stream: "stdout" | "stderr", text: string) =>
      event({ type: "output", job, stream, text }),
  };
  const t0 = performance.now();
  let outcome: Outcome;
  try {
    let result: CpuResult & { ms?: number };
    if (work.kind === "run") result = await context.pool.run(name, work.deps, options);
    else if (work.kind === "chunk") {
      result = await context.pool.runChunk(name, { items: work.items, start: work.start }, options);
    } else result = await context.pool.runShardStep(name, work.step, work.input, options);
    // A chunk's time is its `map`'s, as the run counts it; a whole task's is measured here.
    const wall = performance.now() - t0;
    const ms = work.kind === "chunk" ? result.ms ?? wall : wall;
    outcome = { ok: true, job, place: { ...place, slot: result.worker }, value: result.value, ms };
    if (!context.quiet) context.log(`ok ${label(run, work)} in ${Math.round(wall)}ms`);
  } catch (error) {
    if (stop.aborted) return;
    if (controller.signal.aborted) {
      context.log(`Cancelled task ${label(run, work)}: its run cancelled it`);
      return;
    }
    outcome = failure(job, place, "failed", serializeError(error));
    if (!context.quiet) {
      context.log(`failed ${label(run, work)}: ${(error as Error)?.message ?? error}`);
    }
  } finally {
    context.running.delete(key);
    stop.removeEventListener("abort", onStop);
  }
  return context.replies.outcome(run, outcome);
}

/** Refuses a job of the format before batches, answering in that format. */
async function refuseLegacy(
  message: WorkMessage,
  work: WorkHeader,
  place: Place,
  context: JobContext,
): Promise<void> {
  const refusal =
    `it was sent in another message format than this worker's (protocol ${PROTOCOL}): start the worker with the same spool version as the run`;
  context.log(`error: Refused task ${label(work.run, work)}: ${refusal}`);
  const outcome = failure(work.job, place, "refused", {
    name: "WorkerRefusedError",
    message: `Worker ${context.machine} pid ${Deno.pid} refused task "${work.task}": ${refusal}`,
  });
  try {
    await context.link.publishResult(work.run, String(work.job), encode(outcome));
    message.ack();
  } catch {
    message.nak();
  }
}

function failure(
  job: number,
  place: Place,
  why: "failed" | "refused" | "crashed",
  error: Outcome extends infer O ? O extends { ok: false; error: infer E } ? E : never : never,
): Outcome {
  return { ok: false, job, place, why, error };
}

/** Keeps the last few hundred keys: enough to drop jobs cancelled while in flight. */
function remember(set: Set<string>, key: string): void {
  set.add(key);
  if (set.size > 1000) set.delete(set.values().next().value!);
}

function hostName(): string {
  try {
    return Deno.hostname();
  } catch {
    return "unknown-host";
  }
}
