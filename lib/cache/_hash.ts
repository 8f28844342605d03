/**
 * sha256 of bytes, text and structured-cloneable values, as hex. Values are
 * hashed through V8's serializer, which tells a Map from an object and a
 * typed array from an array, as the structured clone a dependant receives does.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { serialize } from "node:v8";
import { isPlainJson } from "./_sealed_file.ts";

/**
 * The sha256 of bytes or text.
 *
 * @param data What to hash.
 * @returns 64 hex digits.
 */
export function sha256(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/**
 * The sha256 of a value's structured serialization; a value that cannot be
 * cloned hashes by its JSON form.
 *
 * @param value Any value.
 * @returns 64 hex digits.
 */
export function valueHash(value: unknown): string {
  // JSON first: V8's serializer is slow here, and most results are plain data.
  if (isPlainJson(value)) return sha256(`j:${JSON.stringify(value)}`);
  try {
    return sha256(serialize(value));
  } catch {
    return sha256(`json:${JSON.stringify(value, (_k, v) => typeof v === "bigint" ? `${v}n` : v)}`);
  }
}
