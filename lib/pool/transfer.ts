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
import {
  bufferDetached,
  dataViewBuffer,
  isInstance,
  isView,
  NativeArrayBuffer,
  NativeDataView,
  NativeSharedArrayBuffer,
  typedArrayBuffer,
  weakSetAdd,
  weakSetHas,
} from "./_intrinsics.ts";

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
  // The original built-ins (_intrinsics.ts): in a worker, another task may
  // have replaced the realm's, and would get the buffer.
  const buffer: unknown = isView(value)
    ? isInstance(value, NativeDataView) ? dataViewBuffer(value) : typedArrayBuffer(value)
    : value;
  if (NativeSharedArrayBuffer !== undefined && isInstance(buffer, NativeSharedArrayBuffer)) {
    return value;
  }
  if (!isInstance(buffer, NativeArrayBuffer)) {
    throw new TypeError(
      `Cannot mark a value for transfer as 'value' must be an ArrayBuffer, a typed array or a DataView: current value is ${
        describe(value)
      }`,
    );
  }
  if (bufferDetached(buffer)) {
    throw new TypeError(
      "Cannot mark a buffer for transfer as it is detached: it was already moved to another thread",
    );
  }
  const marks = transferMarks();
  if (!weakSetHas(marks.buffers, buffer)) {
    weakSetAdd(marks.buffers, buffer);
    marks.pending++;
  }
  return value;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "object") return `an instance of ${value.constructor?.name ?? "Object"}`;
  return `${typeof value} ${String(value)}`;
}
