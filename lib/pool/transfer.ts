/**
 * `transfer()`: marks a buffer to move to or from a worker instead of being
 * copied. Structured cloning a 64 MiB buffer costs tens of milliseconds on
 * the sending thread; moving it costs well under one, but leaves the sender
 * with a detached (empty) buffer, which is why spool moves only what the user
 * marks.
 *
 * @module
 */

import { transferMarks } from "./_protocol.ts";

/** What {@linkcode transfer} accepts: a buffer, or a view (typed array, `DataView`) on one. */
export type TransferableBuffer = ArrayBufferLike | ArrayBufferView;

/**
 * Marks a buffer so that the next message carrying it (a cpu task's
 * dependencies, its result, a chunk's results) moves it instead of copying
 * it. Marking a view moves its whole underlying buffer, which detaches every
 * other view on it; the sender must not use the buffer afterwards, so mark
 * only a value with a single consumer. A `SharedArrayBuffer` (or a view on
 * one) is returned unmarked: it is shared, never copied or moved.
 *
 * @param value An `ArrayBuffer`, a typed array or a `DataView`.
 * @returns `value` itself, marked.
 * @throws {TypeError} When `value` is not a buffer or a view, or its buffer
 * is already detached.
 * @example Return a large result without copying it
 * ```ts
 * import { cpu, transfer } from "@spool/spool";
 *
 * const noise = cpu({
 *   description: "64 MiB of pseudo-random bytes",
 *   run() {
 *     const bytes = new Uint8Array(64 * 1024 * 1024);
 *     for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24;
 *     return transfer(bytes);
 *   },
 * });
 * ```
 */
export function transfer<T extends TransferableBuffer>(value: T): T {
  const buffer = ArrayBuffer.isView(value) ? value.buffer : value;
  if (buffer instanceof SharedArrayBuffer) return value;
  if (!(buffer instanceof ArrayBuffer)) {
    throw new TypeError(
      `Cannot mark a value for transfer as 'value' must be an ArrayBuffer, a typed array or a DataView: current value is ${
        describe(value)
      }`,
    );
  }
  if (buffer.detached) {
    throw new TypeError(
      "Cannot mark a buffer for transfer as it is detached: it was already moved to another thread",
    );
  }
  const marks = transferMarks();
  if (!marks.buffers.has(buffer)) {
    marks.buffers.add(buffer);
    marks.pending++;
  }
  return value;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "object") return `an instance of ${value.constructor?.name ?? "Object"}`;
  return `${typeof value} ${String(value)}`;
}
