/**
 * Messages between the runner and a sandbox host process, over a loopback
 * TCP connection: each frame is a 4-byte big-endian length and the message in
 * V8's structured-clone format (`node:v8`), so that what crosses is what
 * `postMessage` would carry. Both sides import this file.
 *
 * Not stdin/stdout: a task can write to its process's file descriptors
 * directly (`node:fs` `writeSync(1)`), so a channel on them could be forged or
 * torn by task code. The connection belongs to the host's main isolate, which
 * runs no task code; tasks run in a worker inside it and cannot reach it.
 *
 * @module
 */

import { deserialize, Serializer } from "node:v8";

/**
 * V8's serializer, refusing shared memory: a view on a SharedArrayBuffer would
 * otherwise arrive as a copy, and writes to it would be lost without a word.
 */
class FrameSerializer extends Serializer {
  _getSharedArrayBufferId(): never {
    throw new TypeError(
      '#<SharedArrayBuffer> could not be cloned: shared memory cannot cross into a sandbox process (give the task isolation "worker" to share it)',
    );
  }
}

function serialize(value: unknown): Uint8Array {
  const serializer = new FrameSerializer();
  serializer.writeHeader();
  serializer.writeValue(value);
  return serializer.releaseBuffer();
}

/** The largest frame either side accepts: 1 GiB. */
const MAX_FRAME = 1 << 30;

/**
 * Writes messages to a connection. The messages of one tick go out as one
 * frame holding their array: one serialization (a few hundred ns a message
 * instead of about 10 µs each) and one write.
 */
export class FrameWriter {
  #conn: Deno.Conn;
  #queue: unknown[] = [];
  #writing: Promise<void> = Promise.resolve();
  #scheduled = false;
  #failed = false;
  #onUnsendable: (message: unknown, error: Error) => void;
  #pack: (batch: unknown[]) => unknown[];

  /**
   * Wraps a connection.
   *
   * @param conn The connection to write to.
   * @param onUnsendable Called with each message that cannot be serialized
   * (a function, a symbol, shared memory) and V8's error; the others go.
   * @param pack Rewrites a tick's messages before they are serialized
   * (`packRuns` in `_protocol.ts`); what it packs must always serialize.
   */
  constructor(
    conn: Deno.Conn,
    onUnsendable: (message: unknown, error: Error) => void = () => {},
    pack: (batch: unknown[]) => unknown[] = (batch) => batch,
  ) {
    this.#conn = conn;
    this.#onUnsendable = onUnsendable;
    this.#pack = pack;
  }

  /**
   * Queues one message; it is serialized and written at the end of the tick.
   *
   * @param message A structured-cloneable value.
   */
  write(message: unknown): void {
    if (this.#failed) return;
    this.#queue.push(message);
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => this.#flush());
  }

  #flush(): void {
    this.#scheduled = false;
    const batch = this.#queue;
    this.#queue = [];
    let body: Uint8Array;
    try {
      body = serialize(this.#pack(batch));
    } catch {
      // Find the messages that cannot go; send the rest.
      const good: unknown[] = [];
      for (const message of batch) {
        try {
          serialize(message);
          good.push(message);
        } catch (error) {
          this.#onUnsendable(message, error as Error);
        }
      }
      if (good.length === 0) return;
      body = serialize(good);
    }
    const bytes = new Uint8Array(4 + body.byteLength);
    new DataView(bytes.buffer).setUint32(0, body.byteLength);
    bytes.set(body, 4);
    this.#writing = this.#writing.then(async () => {
      if (this.#failed) return;
      try {
        for (let done = 0; done < bytes.byteLength;) {
          done += await this.#conn.write(bytes.subarray(done));
        }
      } catch {
        // The reader on the same connection sees it end; that is where it is reported.
        this.#failed = true;
      }
    });
  }
}

/**
 * Reads frames from a connection until it ends.
 *
 * @param conn The connection to read from.
 * @param onMessage Called with each message, in order (a frame holds an array of them).
 * @returns Resolves when the connection ends; rejects when a frame is malformed.
 */
export async function readFrames(
  conn: Deno.Conn,
  onMessage: (message: unknown) => void,
): Promise<void> {
  let buffer = new Uint8Array(64 * 1024);
  let start = 0;
  let end = 0;
  for (;;) {
    // Everything whole in the buffer goes out before the next read.
    while (end - start >= 4) {
      const length = new DataView(buffer.buffer, buffer.byteOffset + start, 4).getUint32(0);
      if (length > MAX_FRAME) throw new RangeError(`Frame of ${length} bytes is over the limit`);
      if (end - start - 4 < length) break;
      const body = buffer.subarray(start + 4, start + 4 + length);
      start += 4 + length;
      for (const message of deserialize(body) as unknown[]) onMessage(message);
    }
    if (start === end) start = end = 0;
    const need = end - start >= 4
      ? 4 + new DataView(buffer.buffer, buffer.byteOffset + start, 4).getUint32(0)
      : 4;
    if (buffer.byteLength - start < need || buffer.byteLength - end < 16 * 1024) {
      const next = new Uint8Array(Math.max(buffer.byteLength, need + 64 * 1024));
      next.set(buffer.subarray(start, end));
      end -= start;
      start = 0;
      buffer = next;
    }
    const n = await conn.read(buffer.subarray(end));
    if (n === null) return;
    end += n;
  }
}
