/**
 * The cache's files on disk: a value in V8's structured serialization behind
 * its own sha256, written to a temporary file and renamed into place. A file
 * cut short (a process killed mid-write, a disk that filled up) or changed
 * on disk fails its checksum and reads as absent; it is never used.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { deserialize, serialize } from "node:v8";
import { writeFileAtomicSync } from "../report/_atomic_write.ts";

const SUM_BYTES = 32;
/** Marks a JSON body; a V8 serialization starts with 0xff. */
const JSON_MARK = 0x7b;

function digest(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(data).digest());
}

/**
 * Writes a value sealed by its checksum, atomically.
 *
 * @param path The file.
 * @param value A structured-cloneable value.
 * @returns The number of bytes written.
 */
export function writeSealedSync(path: string, value: unknown): number {
  if (isPlainJson(value)) return writeSealedJsonSync(path, value);
  const body = new Uint8Array(serialize(value));
  const data = new Uint8Array(SUM_BYTES + body.length);
  data.set(digest(body), 0);
  data.set(body, SUM_BYTES);
  writeFileAtomicSync(path, data);
  return data.length;
}

/**
 * Whether a value survives JSON unchanged: `null`, booleans, finite numbers,
 * strings, and plain arrays and objects of them.
 *
 * @param value Any value.
 * @returns `true` when `JSON.parse(JSON.stringify(value))` gives it back.
 */
export function isPlainJson(value: unknown): boolean {
  if (value === null || typeof value === "string" || typeof value === "boolean") return true;
  if (typeof value === "number") return Number.isFinite(value) && !Object.is(value, -0);
  if (typeof value !== "object") return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      if (!(i in value) || !isPlainJson(value[i])) return false;
    }
    return Object.getPrototypeOf(value) === Array.prototype;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  for (const key in value) {
    if (key === "__proto__" || !isPlainJson((value as Record<string, unknown>)[key])) return false;
  }
  return Object.getOwnPropertySymbols(value).length === 0;
}

/**
 * Writes plain JSON data sealed by its checksum, atomically: V8's
 * deserializer is much slower than JSON.parse, and the index is read on
 * every run.
 *
 * @param path The file.
 * @param value Plain JSON data (see {@linkcode isPlainJson}).
 * @param tail Bytes to seal with it, after the JSON text and a NUL.
 * @returns The number of bytes written.
 */
export function writeSealedJsonSync(path: string, value: unknown, tail?: Uint8Array): number {
  const text = new TextEncoder().encode(JSON.stringify(value));
  const body = tail === undefined ? text : new Uint8Array(text.length + 1 + tail.length);
  if (tail !== undefined) {
    body.set(text);
    body.set(tail, text.length + 1);
  }
  const data = new Uint8Array(SUM_BYTES + 1 + body.length);
  data.set(digest(body), 0);
  data[SUM_BYTES] = JSON_MARK;
  data.set(body, SUM_BYTES + 1);
  writeFileAtomicSync(path, data);
  return data.length;
}

/**
 * Reads a sealed value.
 *
 * @param path The file.
 * @returns The value; `undefined` when the file is absent; `null` when it is
 * there but torn or corrupt.
 */
export function readSealedSync(path: string): unknown {
  let data: Uint8Array;
  try {
    data = Deno.readFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    // Missing access is the caller's to report, not a corrupt file.
    if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
      throw error;
    }
    return null;
  }
  if (data.length < SUM_BYTES) return null;
  const json = data[SUM_BYTES] === JSON_MARK;
  const body = data.subarray(json ? SUM_BYTES + 1 : SUM_BYTES);
  const sum = digest(body);
  for (let i = 0; i < SUM_BYTES; i++) if (sum[i] !== data[i]) return null;
  try {
    return json ? JSON.parse(new TextDecoder().decode(body)) : deserialize(body);
  } catch {
    return null;
  }
}
