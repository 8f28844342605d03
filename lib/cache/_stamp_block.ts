/**
 * The stamps a no-op record holds (`_no_op_record.ts`), laid out for the
 * check that reads them: every path once, absolute, UTF-8 and NUL-terminated
 * in one buffer, and what each must still be as numbers. A no-op run of a
 * large graph checks thirteen thousand of them; read from JSON text, each
 * cost a name cut out of a string, encoded, and three numbers parsed before
 * its `statx`. Here the check hands `statx` the path's address in the block
 * and compares four numbers, and nothing is allocated per path.
 *
 * The block is written and read on one machine, in its byte order: the
 * first word says which, and a block in another order does not hold.
 *
 * @module
 */

import { denoStamp, isMissing, libcStatx, type Stamp, stampOfStatx, STATX } from "./_stat_stamp.ts";

/** What a path must still be: a file (size, mtime, inode), a folder (mtime, inode), or nothing. */
export interface StampEntry {
  /** The absolute path. */
  path: string;
  /** `gone`: no file or folder there (or none that can be stat-ed). */
  kind: "file" | "dir" | "gone";
  /** Size in bytes, for a file. */
  size: number;
  /** Last modification in ms since the epoch, as `Deno.FileInfo.mtime`. */
  mtime: number;
  /** The inode number, 0 where there is none. */
  ino: number;
}

/** "SPS1" in this machine's byte order. */
const MAGIC = 0x31535053;
const KINDS = ["file", "dir", "gone"] as const;
const FILE = 0;
const DIR = 1;
const GONE = 2;
// Header: magic, count; then four float64 a path; then a uint32 offset a
// path, the byte after the last path's NUL last; then the paths.
const HEADER_BYTES = 8;

/**
 * Lays out stamps as a block.
 *
 * @param entries The stamps, paths absolute.
 * @returns The block, or `undefined` when a path holds a NUL (C would read
 * another path).
 */
export function encodeStampBlock(entries: readonly StampEntry[]): Uint8Array | undefined {
  const n = entries.length;
  const encoder = new TextEncoder();
  const paths = entries.map((entry) => encoder.encode(entry.path));
  if (paths.some((path) => path.includes(0))) return undefined;
  const pathBytes = paths.reduce((sum, path) => sum + path.length + 1, 0);
  const offsetsAt = HEADER_BYTES + n * 32;
  const pathsAt = offsetsAt + (n + 1) * 4;
  const block = new Uint8Array(pathsAt + pathBytes);
  const words = new Uint32Array(block.buffer, 0, 2);
  words[0] = MAGIC;
  words[1] = n;
  const numbers = new Float64Array(block.buffer, HEADER_BYTES, n * 4);
  const offsets = new Uint32Array(block.buffer, offsetsAt, n + 1);
  let at = 0;
  for (let i = 0; i < n; i++) {
    const entry = entries[i];
    numbers.set([KINDS.indexOf(entry.kind), entry.size, entry.mtime, entry.ino], i * 4);
    offsets[i] = at;
    block.set(paths[i], pathsAt + at);
    at += paths[i].length + 1;
  }
  offsets[n] = at;
  return block;
}

/** A block's parts, or `undefined` when it is not one this code wrote. */
function layout(block: Uint8Array) {
  if (block.byteOffset % 8 !== 0) block = block.slice();
  if (block.length < HEADER_BYTES) return undefined;
  const [magic, n] = new Uint32Array(block.buffer, block.byteOffset, 2);
  const offsetsAt = HEADER_BYTES + n * 32;
  const pathsAt = offsetsAt + (n + 1) * 4;
  if (magic !== MAGIC || pathsAt > block.length) return undefined;
  const offsets = new Uint32Array(block.buffer, block.byteOffset + offsetsAt, n + 1);
  if (pathsAt + offsets[n] !== block.length) return undefined;
  return {
    n,
    block,
    numbers: new Float64Array(block.buffer, block.byteOffset + HEADER_BYTES, n * 4),
    offsets,
    paths: block.subarray(pathsAt),
  };
}

/**
 * Whether every path in a block is still what it says: the same kind, and
 * the same size (files), mtime and inode; or still nothing there.
 *
 * @param block From {@linkcode encodeStampBlock}.
 * @returns `false` at the first path that moved, or for a block this code
 * did not write.
 */
export function stampBlockHolds(block: Uint8Array): boolean {
  const parts = layout(block);
  if (parts === undefined) return false;
  const decoder = new TextDecoder();
  // A path the fast loop cannot answer for: Deno's stat of it.
  const byDeno = (i: number) =>
    denoStamp(decoder.decode(parts.paths.subarray(parts.offsets[i], parts.offsets[i + 1] - 1)));
  const libc = libcStatx();
  if (libc === undefined) {
    for (let i = 0; i < parts.n; i++) if (!matches(parts.numbers, i, byDeno(i))) return false;
    return true;
  }
  return holdByStatx(parts, libc, byDeno);
}

/** The loop over `statx` by address: the paths stay where the block holds them. */
function holdByStatx(
  parts: NonNullable<ReturnType<typeof layout>>,
  libc: NonNullable<ReturnType<typeof libcStatx>>,
  byDeno: (i: number) => Stamp | undefined,
): boolean {
  const { n, numbers, offsets } = parts;
  const out = new Uint32Array(STATX.size / 4);
  const outAt = address(out);
  const pathsAt = address(parts.paths);
  const { statxAt } = libc;
  for (let i = 0; i < n; i++) {
    let stamp: Stamp | undefined;
    if (statxAt(STATX.atFdCwd, pathsAt + offsets[i], 0, STATX.mask, outAt) !== 0) {
      stamp = isMissing(libc.errno()) ? undefined : byDeno(i);
    } else {
      // Before 1970, or a field not filled in: Deno's answer, as the stamper's.
      stamp = stampOfStatx(out) ?? byDeno(i);
    }
    if (!matches(numbers, i, stamp)) return false;
  }
  return true;
}

/** Whether path `i`'s recorded numbers are what a stat gave now. */
function matches(numbers: Float64Array, i: number, stamp: Stamp | undefined): boolean {
  const kind = numbers[i * 4];
  if (kind === GONE) return stamp === undefined;
  if (
    stamp === undefined || stamp.mtime !== numbers[i * 4 + 2] || stamp.ino !== numbers[i * 4 + 3]
  ) {
    return false;
  }
  return kind === FILE
    ? stamp.kind === "file" && stamp.size === numbers[i * 4 + 1]
    : kind === DIR && stamp.kind === "dir";
}

/**
 * Where a buffer's bytes are, as a number (addresses fit in 53 bits). Both
 * buffers here live outside V8's heap (their `buffer` was taken, or they
 * are larger than V8 keeps inside it), so the collector never moves them.
 */
function address(buffer: Uint8Array | Uint32Array): number {
  return Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buffer)));
}
