/**
 * The one file that holds the NATS client libraries (`@nats-io/transport-node`
 * and `@nats-io/jetstream`): everything spool asks of NATS, as a few
 * operations on a {@linkcode NatsLink}. Swapping the client is a change to
 * this file alone.
 *
 * What lives on the server (JetStream, available since nats-server 2.9):
 *
 * - the stream `SPOOL_WORK` (subjects `spool.work.<run>`, work-queue
 *   retention): cpu tasks and shard chunks waiting for a worker;
 * - its durable pull consumer `spool-workers`, shared by every worker;
 * - the stream `SPOOL_RESULTS` (subjects `spool.result.<run>.<id>`, kept an
 *   hour): results, deduplicated by message id `<run>.<id>` (a publish sent
 *   again is stored once; a job run twice is counted once by its run);
 * - core subjects `spool.event.<run>` (a task started, printed) and
 *   `spool.cancel.<run>` (stop a job, or the whole run).
 *
 * @module
 */

import {
  connect,
  credsAuthenticator,
  type NatsConnection,
} from "npm:@nats-io/transport-node@3.4.0";
import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
  type JsMsg,
  RetentionPolicy,
} from "npm:@nats-io/jetstream@3.4.0";

/** The stream of queued work. */
export const WORK_STREAM = "SPOOL_WORK";
/** The stream of results. */
export const RESULT_STREAM = "SPOOL_RESULTS";
/** The workers' shared durable consumer. */
export const WORKER_CONSUMER = "spool-workers";

const NS = 1_000_000;

/** How to reach and authenticate to the server (passed through to the client). */
export interface NatsConnectOptions {
  /** The connection's name, shown by the server's monitoring. */
  name: string;
  /** A `.creds` file (JWT and NKey seed) for decentralized auth. */
  credsFile?: string;
  /** A CA certificate file to trust, for TLS to a server with a private CA. */
  tlsCaFile?: string;
  /** How long to try to connect, in ms. */
  timeoutMs?: number;
}

/** A pulled work message: its bytes, how often it was delivered, and its acks. */
export interface WorkMessage {
  /** The message's bytes. */
  data: Uint8Array;
  /** 1 on first delivery; more after a worker died holding it. */
  deliveryCount: number;
  /** Tells the server the worker is alive and busy with it (resets the ack wait). */
  working(): void;
  /** Done: the server drops it. */
  ack(): void;
  /** Give it back now, for another worker. */
  nak(): void;
}

/** One connection to NATS, with the operations spool needs. */
export class NatsLink {
  #nc: NatsConnection;
  #js: JetStreamClient;
  #jsm: JetStreamManager;
  #workers: ReturnType<JetStreamClient["consumers"]["get"]> | undefined;

  private constructor(nc: NatsConnection, jsm: JetStreamManager) {
    this.#nc = nc;
    this.#jsm = jsm;
    this.#js = jetstream(nc);
  }

  /**
   * Connects, and checks that JetStream is enabled.
   *
   * @param url The server's URL, `nats://host:4222` (or `tls://`).
   * @param options The name, credentials and TLS files, and a time limit.
   * @returns The link.
   * @throws The client's error when the server cannot be reached or has no JetStream.
   */
  static async connect(url: string, options: NatsConnectOptions): Promise<NatsLink> {
    const tls = options.tlsCaFile === undefined ? undefined : { caFile: options.tlsCaFile };
    const authenticator = options.credsFile === undefined
      ? undefined
      : credsAuthenticator(await Deno.readFile(options.credsFile));
    const nc = await connect({
      servers: url,
      name: options.name,
      timeout: options.timeoutMs ?? 5000,
      maxReconnectAttempts: -1,
      tls,
      authenticator,
    });
    try {
      const jsm = await jetstreamManager(nc);
      return new NatsLink(nc, jsm);
    } catch (error) {
      await nc.close();
      throw error;
    }
  }

  /** Creates the streams when they are missing. */
  async ensureStreams(): Promise<void> {
    await this.#addStream({
      name: WORK_STREAM,
      subjects: ["spool.work.>"],
      retention: RetentionPolicy.Workqueue,
    });
    await this.#addStream({
      name: RESULT_STREAM,
      subjects: ["spool.result.>"],
      max_age: 3600 * 1000 * NS,
      duplicate_window: 120 * 1000 * NS,
    });
  }

  async #addStream(config: Parameters<JetStreamManager["streams"]["add"]>[0]): Promise<void> {
    try {
      await this.#jsm.streams.info(config.name!);
    } catch {
      try {
        await this.#jsm.streams.add(config);
      } catch (error) {
        // Another process created it meanwhile.
        await this.#jsm.streams.info(config.name!).catch(() => Promise.reject(error));
      }
    }
  }

  /**
   * Creates (or updates) the workers' shared consumer.
   *
   * @param ackWaitMs How long a delivered message may go without an ack or a
   * heartbeat before the server gives it to another worker.
   */
  async ensureWorkerConsumer(ackWaitMs: number): Promise<void> {
    const config = {
      durable_name: WORKER_CONSUMER,
      ack_policy: AckPolicy.Explicit,
      ack_wait: ackWaitMs * NS,
      max_ack_pending: 100_000,
    };
    try {
      await this.#jsm.consumers.add(WORK_STREAM, config);
    } catch {
      await this.#jsm.consumers.update(WORK_STREAM, WORKER_CONSUMER, { ack_wait: config.ack_wait });
    }
  }

  /**
   * Queues a work message.
   *
   * @returns Its sequence number in the work stream.
   */
  async queue(run: string, data: Uint8Array): Promise<number> {
    const ack = await this.#js.publish(`spool.work.${run}`, data);
    return ack.seq;
  }

  /** Removes a queued message, if no worker took it yet. */
  async unqueue(seq: number): Promise<void> {
    await this.#jsm.streams.deleteMessage(WORK_STREAM, seq, false).catch(() => {});
  }

  /** How many jobs wait in the work stream, every run's. */
  async queuedCount(): Promise<number> {
    return (await this.#jsm.streams.info(WORK_STREAM)).state.messages;
  }

  /** Drops a run's queued work and its results. */
  async purgeRun(run: string): Promise<void> {
    await this.#jsm.streams.purge(WORK_STREAM, { filter: `spool.work.${run}` }).catch(() => {});
    await this.#jsm.streams.purge(RESULT_STREAM, { filter: `spool.result.${run}.>` })
      .catch(() => {});
  }

  /**
   * Publishes results, once per id however often they are sent.
   *
   * @param id A subject token naming the message, unique within the run.
   * @returns Resolves when the server stored it (or knew it already).
   */
  async publishResult(run: string, id: string, data: Uint8Array): Promise<void> {
    await this.#js.publish(`spool.result.${run}.${id}`, data, { msgID: `${run}.${id}` });
  }

  /**
   * Delivers a run's results, from the first, across reconnections.
   *
   * @returns Stops the delivery.
   */
  async onResults(run: string, receive: (data: Uint8Array) => void): Promise<() => void> {
    const info = await this.#jsm.consumers.add(RESULT_STREAM, {
      filter_subject: `spool.result.${run}.>`,
      ack_policy: AckPolicy.None,
      deliver_policy: DeliverPolicy.All,
      inactive_threshold: 60 * 1000 * NS,
    });
    const consumer = await this.#js.consumers.get(RESULT_STREAM, info.name);
    const messages = await consumer.consume({ max_messages: 1000 });
    (async () => {
      for await (const message of messages) receive(message.data);
    })().catch(() => {});
    return () => {
      messages.stop();
      this.#jsm.consumers.delete(RESULT_STREAM, info.name).catch(() => {});
    };
  }

  /**
   * Asks for up to `max` work messages and yields them as they come: one
   * pull request for the lot, which ends when all came or `expiresMs` passed.
   *
   * @param max How many at most.
   * @param expiresMs How long the request waits for messages.
   * @param signal Ends it early.
   */
  async *pull(max: number, expiresMs: number, signal: AbortSignal): AsyncGenerator<WorkMessage> {
    if (signal.aborted) return;
    this.#workers ??= this.#js.consumers.get(WORK_STREAM, WORKER_CONSUMER);
    const consumer = await this.#workers;
    const batch = await consumer.fetch({ max_messages: max, expires: expiresMs });
    const stop = () => batch.stop();
    signal.addEventListener("abort", stop, { once: true });
    try {
      for await (const message of batch) yield workMessage(message);
    } finally {
      signal.removeEventListener("abort", stop);
    }
  }

  /** Publishes on a core subject (no storage: lost when nobody listens). */
  send(subject: string, data: Uint8Array): void {
    this.#nc.publish(subject, data);
  }

  /**
   * Listens on a core subject.
   *
   * @returns Stops listening.
   */
  listen(subject: string, receive: (subject: string, data: Uint8Array) => void): () => void {
    const subscription = this.#nc.subscribe(subject, {
      callback: (error, message) => {
        if (error === null) receive(message.subject, message.data);
      },
    });
    return () => subscription.unsubscribe();
  }

  /** Sends what is buffered, and waits for the server to have it. */
  async flush(): Promise<void> {
    await this.#nc.flush();
  }

  /** Resolves when the connection closes for good (with its error, if any). */
  get closed(): Promise<void | Error> {
    return this.#nc.closed();
  }

  /** Flushes and closes. */
  async close(): Promise<void> {
    if (this.#nc.isClosed()) return;
    await this.#nc.drain().catch(() => this.#nc.close());
  }
}

function workMessage(message: JsMsg): WorkMessage {
  return {
    data: message.data,
    deliveryCount: message.info.deliveryCount,
    working: () => message.working(),
    ack: () => message.ack(),
    nak: () => message.nak(),
  };
}
