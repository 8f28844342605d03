/**
 * The stamps a no-op record holds (`_no_op_record.ts`), laid out for the
 * check that reads them: the paths grouped by folder (a folder's path once,
 * then its names, UTF-8, NUL-terminated), and one 64-bit hash of what every
 * path was when the record was written: its kind, and a file's size, mtime
 * and inode, a folder's mtime and inode, or that nothing was there. The
 * check stats every path in order and hashes what it finds the same way;
 * the record holds when the two hashes are equal.
 *
 * A no-op run of a large graph checks thirteen thousand paths. Read from
 * JSON text, each cost a name cut out of a string, encoded, and three
 * numbers parsed before its `statx`; here the check copies a name's bytes
 * after its folder's and hands `statx` their address, and allocates nothing
 * per path. Holding one hash rather than four numbers a path keeps the
 * block small (a tenth of the JSON it replaces), and on this VM every byte
 * read into fresh memory costs page faults.
 *
 * Equal hashes with different stamps happen by chance about once in 2^64
 * checks. What the hash does not protect against is what no stamp does: a
 * file rewritten with the same size and inode, its mtime set back.
 *
 * @module
 */

import {
  addressOf,
  denoStamp,
  isMissing,
  libcStatx,
  type Stamp,
  STATX,
  statxKind,
  statxUsable,
} from "./_stat_stamp.ts";

/** What a path was: a file (size, mtime, inode), a folder (mtime, inode), or nothing. */
export interface StampEntry {
  /** Its folder's path, with its trailing separator; `""` when `name` is the whole path. */
  folder: string;
  /** The rest of the path. */
  name: string;
  /** `gone`: no file or folder there (or none that can be stat-ed). */
  kind: "file" | "dir" | "gone";
  /** Size in bytes, for a file. */
  size: number;
  /** Last modification in ms since the epoch, as `Deno.FileInfo.mtime`. */
  mtime: number;
  /** The inode number, 0 where there is none. */
  ino: number;
}

/** "SPS3" in this machine's byte order: the first word says which. */
const MAGIC = 0x33535053;
// Magic, entry count, the hash's two halves; then the groups: a folder and
// a NUL, each name and a NUL, an empty name.
const HEADER_BYTES = 16;
const KIND_CODE = { file: 1, dir: 2, other: 3, gone: 4 } as const;
const WORD = STATX.word;

/**
 * Lays out stamps as a block. Entries of one folder should follow each
 * other: each run of them is one group.
 *
 * @param entries The stamps.
 * @returns The block, or `undefined` when a path holds a NUL (C would read
 * another path) or a name is empty.
 */
export function encodeStampBlock(entries: readonly StampEntry[]): Uint8Array | undefined {
  if (entries.some(({ folder, name }) => name === "" || `${folder}${name}`.includes("\0"))) {
    return undefined;
  }
  const hash = new StampHash();
  let text = "";
  let folder: string | undefined;
  for (const entry of entries) {
    if (entry.folder !== folder) {
      if (folder !== undefined) text += "\0";
      folder = entry.folder;
      text += `${folder}\0`;
    }
    text += `${entry.name}\0`;
    hash.add(entry.kind === "gone" ? undefined : entry);
  }
  if (folder !== undefined) text += "\0";
  const groups = new TextEncoder().encode(text);
  const block = new Uint8Array(HEADER_BYTES + groups.length);
  new Uint32Array(block.buffer, 0, 4).set([MAGIC, entries.length, ...hash.value()]);
  block.set(groups, HEADER_BYTES);
  return block;
}

/**
 * Whether every path in a block is still what it was when the block was
 * written.
 *
 * @param block From {@linkcode encodeStampBlock}.
 * @returns `false` when any path moved, or for a block this code did not write.
 */
export function stampBlockHolds(block: Uint8Array): boolean {
  if (block.byteOffset % 4 !== 0) block = block.slice();
  if (block.length < HEADER_BYTES) return false;
  const [magic, count, low, high] = new Uint32Array(block.buffer, block.byteOffset, 4);
  if (magic !== MAGIC) return false;
  const groups = block.subarray(HEADER_BYTES);
  const libc = libcStatx();
  const hash = new StampHash();
  const seen = libc === undefined
    ? eachPath(groups, (path) => hash.add(denoStamp(path)))
    : hashByStatx(groups, libc, hash);
  const [nowLow, nowHigh] = hash.value();
  return seen === count && nowLow === low && nowHigh === high;
}

/**
 * Calls `visit` with every path of the groups, decoded.
 *
 * @returns How many, or -1 when the groups are cut short.
 */
function eachPath(groups: Uint8Array, visit: (path: string) => void): number {
  const decoder = new TextDecoder();
  let seen = 0;
  for (let at = 0; at < groups.length;) {
    const folderEnd = groups.indexOf(0, at);
    if (folderEnd < 0) return -1;
    const folder = decoder.decode(groups.subarray(at, folderEnd));
    for (at = folderEnd + 1;;) {
      const end = groups.indexOf(0, at);
      if (end < 0) return -1;
      if (end === at) break;
      visit(folder + decoder.decode(groups.subarray(at, end)));
      seen++;
      at = end + 1;
    }
    at++;
  }
  return seen;
}

/**
 * {@linkcode eachPath} by `statx`: each path is put together in one buffer,
 * its folder's bytes copied once, and stat-ed at that buffer's address.
 */
function hashByStatx(
  groups: Uint8Array,
  libc: NonNullable<ReturnType<typeof libcStatx>>,
  hash: StampHash,
): number {
  const out = new Uint32Array(STATX.size / 4);
  const outAt = addressOf(out);
  // The groups, then room for a path put together from a folder and a name
  // (never longer than the groups, plus its NUL): one buffer, so that the
  // bytes move by copyWithin, natively, before V8 has compiled this loop.
  const end = groups.length;
  const buffer = new Uint8Array(Math.max(2 * end + 1, 4096));
  buffer.set(groups);
  const pathAt = addressOf(buffer) + end;
  const { statxAt } = libc;
  const decoder = new TextDecoder();
  // Deno's answer for the path of `length` bytes, where statx gave none.
  const byDeno = (length: number) => denoStamp(decoder.decode(buffer.subarray(end, end + length)));
  let seen = 0;
  for (let at = 0; at < end;) {
    const folderEnd = buffer.indexOf(0, at);
    if (folderEnd < 0 || folderEnd >= end) return -1;
    const folderLength = folderEnd - at;
    buffer.copyWithin(end, at, folderEnd);
    at = folderEnd + 1;
    for (;;) {
      const nameEnd = buffer.indexOf(0, at);
      if (nameEnd < 0 || nameEnd >= end) return -1;
      if (nameEnd === at) break;
      const length = folderLength + nameEnd - at;
      buffer.copyWithin(end + folderLength, at, nameEnd);
      buffer[end + length] = 0;
      at = nameEnd + 1;
      if (statxAt(STATX.atFdCwd, pathAt, 0, STATX.mask, outAt) !== 0) {
        hash.add(isMissing(libc.errno()) ? undefined : byDeno(length));
      } else if (!hash.addStatx(out)) {
        // Before 1970, or a field not filled in: Deno's answer, as the stamper's.
        hash.add(byDeno(length));
      }
      seen++;
    }
    at++;
  }
  return seen;
}

/**
 * A 64-bit hash of stamps in order: two 32-bit lanes of MurmurHash3's mix,
 * each number fed as its low and high 32 bits. Not a cryptographic hash:
 * it tells a changed stamp from an unchanged one, which is all a stamp
 * can tell.
 */
class StampHash {
  #a = 0x9747b28c;
  #b = 0x2545f491;
  // Words wait here and are mixed a few thousand at a time, in one tight
  // loop: a no-op check adds thirteen thousand stamps, the first thousands
  // before V8 has compiled the loop that adds them, and mixing each stamp's
  // words as it came took most of that loop's time.
  #queue = new Uint32Array(8192);
  #length = 0;

  /** Adds a path's stamp, or `undefined` for nothing there. */
  add(stamp: Pick<Stamp, "size" | "mtime" | "ino"> & { kind: string } | undefined): void {
    if (this.#length > this.#queue.length - 8) this.#mix();
    const queue = this.#queue;
    let n = this.#length;
    if (stamp === undefined) {
      queue[n++] = KIND_CODE.gone;
      this.#length = n;
      return;
    }
    const kind = stamp.kind === "file"
      ? KIND_CODE.file
      : stamp.kind === "dir"
      ? KIND_CODE.dir
      : KIND_CODE.other;
    queue[n++] = kind;
    // A folder's size is not part of its stamp: its mtime tells a change of names.
    if (kind === KIND_CODE.file) {
      queue[n++] = stamp.size;
      queue[n++] = Math.floor(stamp.size / 2 ** 32);
    }
    // The mtime as statx gives it: seconds (two words), then milliseconds.
    const seconds = Math.floor(stamp.mtime / 1000);
    queue[n++] = seconds;
    queue[n++] = Math.floor(seconds / 2 ** 32);
    queue[n++] = stamp.mtime - seconds * 1000;
    queue[n++] = stamp.ino;
    queue[n++] = Math.floor(stamp.ino / 2 ** 32);
    this.#length = n;
  }

  /**
   * Adds the stamp of a `statx` answer, its words as they are: what
   * {@linkcode add} adds for the stamp `stampOfStatx` makes of it.
   *
   * @returns `false` when `stampOfStatx` would give none (a field missing,
   * an mtime before 1970): add Deno's stamp then.
   */
  addStatx(out: Uint32Array): boolean {
    if (!statxUsable(out)) return false;
    if (this.#length > this.#queue.length - 8) this.#mix();
    const queue = this.#queue;
    let n = this.#length;
    const kind = statxKind(out);
    if (kind === "file") {
      queue[n++] = KIND_CODE.file;
      queue[n++] = out[WORD.size];
      queue[n++] = out[WORD.size + 1];
    } else {
      queue[n++] = KIND_CODE[kind];
    }
    queue[n++] = out[WORD.mtimeSec];
    queue[n++] = out[WORD.mtimeSec + 1];
    queue[n++] = Math.floor(out[WORD.mtimeNsec] / 1_000_000);
    queue[n++] = out[WORD.ino];
    queue[n++] = out[WORD.ino + 1];
    this.#length = n;
    return true;
  }

  /** The hash: two 32-bit halves, finished. */
  value(): [number, number] {
    this.#mix();
    return [finish(this.#a), finish(this.#b)];
  }

  /** Two lanes of MurmurHash3's 32-bit body over the words waiting. */
  #mix(): void {
    const queue = this.#queue;
    const count = this.#length;
    let a = this.#a;
    let b = this.#b;
    for (let i = 0; i < count; i++) {
      const word = queue[i] | 0;
      let k = Math.imul(word, 0xcc9e2d51);
      k = (k << 15) | (k >>> 17);
      a ^= Math.imul(k, 0x1b873593);
      a = (a << 13) | (a >>> 19);
      a = (Math.imul(a, 5) + 0xe6546b64) | 0;
      k = Math.imul(word, 0x85ebca77);
      k = (k << 15) | (k >>> 17);
      b ^= Math.imul(k, 0xc2b2ae3d);
      b = (b << 13) | (b >>> 19);
      b = (Math.imul(b, 5) + 0xe6546b64) | 0;
    }
    this.#a = a;
    this.#b = b;
    this.#length = 0;
  }
}

/** MurmurHash3's finaliser. */
function finish(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
