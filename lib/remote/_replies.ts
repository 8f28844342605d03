/**
 * What a worker sends back to runs, gathered: the outcomes and events of
 * jobs that end or start within {@linkcode LINGER_MS} of each other go out as
 * one message per run (a {@linkcode Results}, an {@linkcode Events}), instead
 * of a JetStream publish and its ack per tiny job. An outcome's promise
 * settles once the server stored the message that holds it: only then may
 * the work message of its job be acked.
 *
 * @module
 */

import { serializeError } from "../pool/_protocol.ts";
import { encode, type Event, MAX_MESSAGE_BYTES, type Outcome, type Results } from "./_messages.ts";
import type { NatsLink } from "./_nats.ts";

/** How long a reply waits for others to join it, in ms. */
export const LINGER_MS = 1;
/** Replies that go out at once, without waiting for the linger. */
const MAX_REPLIES = 256;

interface Waiting {
  outcomes: Outcome[];
  stored: { resolve: () => void; reject: (error: Error) => void }[];
  events: Event[];
}

/** A worker's replies, batched per run. */
export class Replies {
  #link: NatsLink;
  #id = crypto.randomUUID().slice(0, 8);
  #sent = 0;
  #waiting = new Map<string, Waiting>();
  #count = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #storing = new Set<Promise<void>>();

  /** @param link The connection replies go out on. */
  constructor(link: NatsLink) {
    this.#link = link;
  }

  /**
   * Queues a job's outcome.
   *
   * @param run The job's run.
   * @param outcome Its outcome.
   * @returns Resolves once the server stored it; rejects when it could not.
   */
  outcome(run: string, outcome: Outcome): Promise<void> {
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    const waiting = this.#for(run);
    waiting.outcomes.push(outcome);
    waiting.stored.push({ resolve, reject });
    this.#added();
    return promise;
  }

  /**
   * Queues an event: sent with the next outcomes, before them.
   *
   * @param run The job's run.
   * @param event A job started, or printed.
   */
  event(run: string, event: Event): void {
    this.#for(run).events.push(event);
    this.#added();
  }

  #for(run: string): Waiting {
    let waiting = this.#waiting.get(run);
    if (waiting === undefined) {
      waiting = { outcomes: [], stored: [], events: [] };
      this.#waiting.set(run, waiting);
    }
    return waiting;
  }

  #added(): void {
    if (++this.#count >= MAX_REPLIES) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), LINGER_MS);
  }

  /** Sends what waits now. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#count = 0;
    const waiting = this.#waiting;
    this.#waiting = new Map();
    for (const [run, { outcomes, stored, events }] of waiting) {
      // A job whose outcome goes in this flush needs no start event: the
      // outcome names where it ran.
      const done = new Set(outcomes.map((outcome) => outcome.job));
      const sent = events.filter((event) => event.type !== "start" || !done.has(event.job));
      if (sent.length > 0) this.#link.send(`spool.event.${run}`, encode({ events: sent }));
      if (outcomes.length > 0) this.#publish(run, outcomes, stored);
    }
  }

  #publish(run: string, outcomes: Outcome[], stored: Waiting["stored"]): void {
    const data = encodeAll(outcomes);
    if (data.length > MAX_MESSAGE_BYTES && outcomes.length > 1) {
      // Each result alone may fit the server's max_payload; together they may not.
      const half = Math.ceil(outcomes.length / 2);
      this.#publish(run, outcomes.slice(0, half), stored.slice(0, half));
      this.#publish(run, outcomes.slice(half), stored.slice(half));
      return;
    }
    const storing = this.#link.publishResult(run, `${this.#id}-${this.#sent++}`, data)
      .then(
        () => stored.forEach(({ resolve }) => resolve()),
        (error) => stored.forEach(({ reject }) => reject(error)),
      ).finally(() => this.#storing.delete(storing));
    this.#storing.add(storing);
  }

  /** Sends what waits and waits for the server to store it. */
  async drain(): Promise<void> {
    this.flush();
    await this.#link.flush().catch(() => {});
    await Promise.all(this.#storing);
  }
}

/** Encodes outcomes; one whose value cannot cross becomes a failure, not a lost batch. */
function encodeAll(outcomes: Outcome[]): Uint8Array {
  try {
    return encode({ outcomes } satisfies Results);
  } catch {
    return encode(
      {
        outcomes: outcomes.map((outcome): Outcome => {
          try {
            encode(outcome);
            return outcome;
          } catch (error) {
            return {
              ok: false,
              job: outcome.job,
              place: outcome.place,
              why: "failed",
              error: serializeError(
                new TypeError(
                  `Cannot send the task's result to its run: ${(error as Error).message}`,
                ),
              ),
            };
          }
        }),
      } satisfies Results,
    );
  }
}
