/**
 * Connecting to NATS for a run or a worker, with the client's failures
 * turned into a {@linkcode NatsError} that names the URL and the way out.
 *
 * @module
 */

import { NatsError } from "../errors.ts";
import { NatsLink } from "./_nats.ts";

/** Connects, turning the client's errors into a {@linkcode NatsError} that names the URL. */
export async function connectOrExplain(
  url: string,
  options: { name: string; credsFile?: string; tlsCaFile?: string; timeoutMs?: number },
): Promise<NatsLink> {
  try {
    return await NatsLink.connect(url, options);
  } catch (error) {
    const message = (error as Error).message ?? String(error);
    const hint = /jetstream/i.test(message)
      ? "start it with JetStream enabled (nats-server -js)"
      : "check that it runs and that --nats names it";
    throw new NatsError(url, `${message}: ${hint}`, { cause: error });
  }
}
