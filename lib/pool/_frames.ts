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

/** Writes frames to a connection, coalescing the frames of one tick into one write. */
export class FrameWriter {
  #conn: Deno.Conn;
  #pending: Uint8Array[] = [];
  #size = 0;
  #flushing: Promise<void> | undefined;
  #failed: unknown;

  /**
   * Wraps a connection.
   *
   * @param conn The connection to write to.
   */
  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /**
   * Queues one message.
   *
   * @param message A structured-cloneable value.
   * @throws {Error} When the value cannot be cloned (a function, a symbol, a
   * SharedArrayBuffer), with V8's message.
   */
  write(message: unknown): void {
    if (this.#failed !== undefined) return;
    const body = serialize(message);
    const head = new Uint8Array(4);
    new DataView(head.buffer).setUint32(0, body.byteLength);
    this.#pending.push(head, body);
    this.#size += 4 + body.byteLength;
    this.#flushing ??= Promise.resolve().then(() => this.#flush());
  }

  async #flush(): Promise<void> {
    try {
      while (this.#pending.length > 0) {
        const parts = this.#pending;
        const bytes = new Uint8Array(this.#size);
        let offset = 0;
        for (const part of parts) {
          bytes.set(part, offset);
          offset += part.byteLength;
        }
        this.#pending = [];
        this.#size = 0;
        for (let done = 0; done < bytes.byteLength;) {
          done += await this.#conn.write(bytes.subarray(done));
        }
      }
    } catch (error) {
      // The reader on the same connection sees it end; that is where it is reported.
      this.#failed = error;
      this.#pending = [];
    } finally {
      this.#flushing = undefined;
    }
  }
}

/**
 * Reads frames from a connection until it ends.
 *
 * @param conn The connection to read from.
 * @param onMessage Called with each message, in order.
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
      onMessage(deserialize(body));
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
