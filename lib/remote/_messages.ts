/**
 * Every message between a run (`nats_lane.ts`) and `spool worker`
 * (`worker.ts`), one discriminated union per direction, and their encoding:
 * V8's serializer, so that deps, items and results cross as they would cross
 * `postMessage` (typed arrays, `Map`, `Date`, `undefined` intact). Only task
 * names, inputs and results cross; never code.
 *
 * Jobs travel in batches: a {@linkcode Batch} carries the jobs a run queued
 * in one turn of its event loop, a {@linkcode Results} the outcomes a worker
 * had ready at once, an {@linkcode Events} its events; one message each
 * instead of one per tiny job. A batch still reads as one job of the format
 * before batches ({@linkcode LegacyWork}: its `job` is the batch's own id and
 * its `hash` carries {@linkcode PROTOCOL}), so that a worker from before
 * refuses it with an outcome for that id, which fails every job of the batch.
 *
 * @module
 */

import { deserialize, serialize } from "node:v8";
import type { SerializedError } from "../pool/_protocol.ts";

/** What a worker must do: a task's body, a chunk's `map`, or a shard step. */
export type WorkKind =
  | { kind: "run"; deps: Record<string, unknown> }
  | { kind: "chunk"; items: ArrayLike<unknown>; start: number }
  | { kind: "step"; step: "items" | "fold"; input: Record<string, unknown> | unknown[] };

/**
 * The message format's version, hashed with the task file (see
 * `_task_file_hash.ts`): peers of another format see another hash and
 * refuse each other's jobs.
 */
export const PROTOCOL = 2;

/**
 * The bytes past which a message of several jobs or outcomes goes as two:
 * the server refuses messages over its `max_payload` (1 MB by default),
 * which each job or result alone may stay under.
 */
export const MAX_MESSAGE_BYTES = 256 * 1024;

/** One job of a {@linkcode Batch}. */
export type Job = WorkKind & {
  /** The job's id within the run: a retry is a new job. */
  job: number;
  /** The task's name in the task file. */
  task: string;
  /** The run's arguments, for `context.args`. */
  args: readonly string[];
};

/** The fields every work message has had, batch or not: what a worker checks first. */
export interface WorkHeader {
  /** The run's id. */
  run: string;
  /** A job's id; for a batch, the batch's own (from the same counter as its jobs'). */
  job: number;
  /** A task's name; for a batch, its first job's. */
  task: string;
  /** The hash of the run's task file graph and {@linkcode PROTOCOL}; a worker with another refuses. */
  hash: string;
  /** The run's arguments. */
  args: readonly string[];
}

/** A message on the `SPOOL_WORK` stream: jobs of one run, acked together. */
export type Batch = WorkHeader & { jobs: Job[] };

/** A job as one message, the format before batches: refused, with an outcome in that format. */
export type LegacyWork = WorkHeader & WorkKind;

/** Where a job ran: the worker's machine, process and slot in its pool. */
export interface Place {
  /** The worker machine's host name. */
  machine: string;
  /** The `spool worker` process's id. */
  pid: number;
  /** The slot of its pool, from 0. */
  slot: number;
}

/** A job's outcome: one of a {@linkcode Results}, or alone in the format before batches. */
export type Outcome =
  & { job: number; place: Place }
  & (
    | { ok: true; value: unknown; ms: number }
    | {
      ok: false;
      error: SerializedError;
      /** `refused`: the worker would not run it; `crashed`: delivered too often. */
      why: "failed" | "refused" | "crashed";
    }
  );

/** Outcomes of one run's jobs, on `spool.result.<run>.<id>`. */
export interface Results {
  outcomes: Outcome[];
}

/** Progress: a job started, or printed. */
export type Event =
  | { type: "start"; job: number; place: Place }
  | { type: "output"; job: number; stream: "stdout" | "stderr"; text: string };

/** Events of one run's jobs, in order, on `spool.event.<run>`. */
export interface Events {
  events: Event[];
}

/** A worker's answer on `spool.presence` to a run's hello: how many slots it has. */
export interface Presence {
  machine: string;
  pid: number;
  slots: number;
}

/** On `spool.cancel.<run>`: stop one job, or all of the run's (`job` absent). */
export interface Cancel {
  job?: number;
}

/**
 * Encodes a message.
 *
 * @param message Any message above.
 * @returns Its bytes.
 */
export function encode(
  message: Batch | LegacyWork | Results | Outcome | Events | Cancel | Presence,
): Uint8Array {
  return serialize(message);
}

/**
 * Decodes a message.
 *
 * @param data Its bytes.
 * @returns The message; check its fields before use, as any peer may send.
 */
export function decode<
  T extends Batch | LegacyWork | Results | Outcome | Events | Event | Cancel | Presence,
>(data: Uint8Array): T {
  return deserialize(data) as T;
}

/** How a place reads for people: `build-3 pid 4121 slot 0`. */
export function describePlace(place: Place): string {
  return `${place.machine} pid ${place.pid} slot ${place.slot}`;
}
