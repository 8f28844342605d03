/**
 * Every message between a run (`nats_lane.ts`) and `spool worker`
 * (`worker.ts`), one discriminated union per direction, and their encoding:
 * V8's serializer, so that deps, items and results cross as they would cross
 * `postMessage` (typed arrays, `Map`, `Date`, `undefined` intact). Only task
 * names, inputs and results cross; never code.
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

/** A unit of work on the `SPOOL_WORK` stream. */
export type Work = WorkKind & {
  /** The run's id. */
  run: string;
  /** The job's id within the run: a retry is a new job. */
  job: number;
  /** The task's name in the task file. */
  task: string;
  /** The hash of the run's task file graph; a worker with another refuses. */
  hash: string;
  /** The run's arguments, for `context.args`. */
  args: readonly string[];
};

/** Where a job ran: the worker's machine, process and slot in its pool. */
export interface Place {
  /** The worker machine's host name. */
  machine: string;
  /** The `spool worker` process's id. */
  pid: number;
  /** The slot of its pool, from 0. */
  slot: number;
}

/** A job's outcome, on `spool.result.<run>.<job>`. */
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

/** Progress on `spool.event.<run>`: a job started, or printed. */
export type Event =
  | { type: "start"; job: number; place: Place }
  | { type: "output"; job: number; stream: "stdout" | "stderr"; text: string };

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
export function encode(message: Work | Outcome | Event | Cancel | Presence): Uint8Array {
  return serialize(message);
}

/**
 * Decodes a message.
 *
 * @param data Its bytes.
 * @returns The message; check its fields before use, as any peer may send.
 */
export function decode<T extends Work | Outcome | Event | Cancel | Presence>(data: Uint8Array): T {
  return deserialize(data) as T;
}

/** How a place reads for people: `build-3 pid 4121 slot 0`. */
export function describePlace(place: Place): string {
  return `${place.machine} pid ${place.pid} slot ${place.slot}`;
}
