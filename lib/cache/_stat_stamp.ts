/**
 * The stat the no-op checks make of every input, output and cache entry
 * (`_no_op.ts`, `_no_op_record.ts`): a path's kind, size, mtime and inode,
 * the same numbers `Deno.statSync` gives. A no-op run of a large graph
 * makes twelve thousand of them, and `Deno.statSync` spends most of its
 * time building a `Deno.FileInfo` (three `Date`s, twenty fields) that the
 * check reads four numbers of. On Linux, when the process may use FFI, this
 * calls libc's `statx` into one reused buffer instead; anywhere else, or
 * when that call fails for any reason, it asks `Deno.statSync`, so the
 * answer never depends on which one gave it.
 *
 * @module
 */

/** What a stat tells the no-op checks. */
export interface Stamp {
  /** A regular file, a folder, or something else. */
  kind: "file" | "dir" | "other";
  /** Size in bytes. */
  size: number;
  /** Last modification, in whole milliseconds since the epoch (as `Deno.FileInfo.mtime`). */
  mtime: number;
  /** The inode number (0 where the platform has none). */
  ino: number;
}

/**
 * Stats a path: `path`, or `path + name` (a folder's files one after
 * another: the folder's part is encoded once). The returned object is
 * reused by the next call: read it before stat-ing again.
 *
 * @param path The path (symbolic links followed), or its folder's part.
 * @param name The rest of the path, if any.
 * @returns Its stamp, or `undefined` when nothing is there (or it cannot be read).
 */
export type StatStamp = (path: string, name?: string) => Stamp | undefined;

/**
 * A {@linkcode StatStamp}: libc `statx` where it can be, `Deno.statSync`
 * otherwise.
 *
 * @returns The function.
 */
export function statStamper(): StatStamp {
  return libcStamper() ?? denoStamp;
}

const shared: Stamp = { kind: "other", size: 0, mtime: 0, ino: 0 };

/**
 * {@linkcode StatStamp} by `Deno.statSync`.
 *
 * @param path The path, or its folder's part.
 * @param name The rest of the path, if any.
 * @returns Its stamp, or `undefined` when `Deno.statSync` throws.
 */
export function denoStamp(path: string, name?: string): Stamp | undefined {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(name === undefined ? path : path + name);
  } catch {
    return undefined;
  }
  shared.kind = info.isFile ? "file" : info.isDirectory ? "dir" : "other";
  shared.size = info.size;
  shared.mtime = info.mtime?.getTime() ?? 0;
  shared.ino = info.ino ?? 0;
  return shared;
}

// struct statx (linux/stat.h), the same on every architecture.
const STATX_SIZE = 256;
const AT_FDCWD = -100;
const STATX_BASIC_STATS = 0x7ff;
// What the stamp reads: type, mtime, inode, size.
const STATX_NEEDED = 0x1 | 0x40 | 0x100 | 0x200;
// Where the fields are, in 32-bit words (a 64-bit field's low word; its
// high word follows).
const WORD = { mask: 0, mode: 7, ino: 8, size: 10, mtimeSec: 28, mtimeNsec: 30 } as const;
const ENOENT = 2;
const ENOTDIR = 20;
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;

/**
 * libc's `statx` by FFI, opened once per process, taking its path and its
 * answer by address (buffers that stay put: the stamper's, a stamp
 * block's), and the calling thread's `errno`.
 */
export interface Libc {
  /** `statx(dirfd, path, flags, mask, out)`, `path` NUL-terminated, both as addresses. */
  statxAt(dirfd: number, path: number, flags: number, mask: number, out: number): number;
  /** The `errno` the last failed call left on this thread. */
  errno(): number;
}

let opened: Libc | null | undefined;

/**
 * libc's `statx`, or `undefined` when this is not Linux on a little-endian
 * machine, FFI is not permitted, or libc has no `statx`.
 *
 * @returns The functions, the same object on every call.
 */
export function libcStatx(): Libc | undefined {
  if (opened === undefined) opened = openLibc() ?? null;
  return opened ?? undefined;
}

function openLibc(): Libc | undefined {
  if (Deno.build.os !== "linux") return undefined;
  // The fields are read as the machine lays them out; every Deno target is
  // little-endian, and this says so rather than assumes it.
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) return undefined;
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return undefined;
  try {
    const libc = Deno.dlopen("libc.so.6", {
      statxAt: {
        name: "statx",
        parameters: ["i32", "usize", "i32", "u32", "usize"],
        result: "i32",
      },
      __errno_location: { parameters: [], result: "pointer" },
    });
    // The calling thread's errno; this one thread makes every call.
    const errno = new Deno.UnsafePointerView(libc.symbols.__errno_location()!);
    return {
      // A usize argument may be a number (what Deno's types call a bigint):
      // a BigInt per call would cost more than the call.
      statxAt: libc.symbols.statxAt as unknown as Libc["statxAt"],
      errno: () => errno.getInt32(),
    };
  } catch {
    // No glibc (musl, say), or one older than statx: Deno.statSync does it.
    return undefined;
  }
}

/** `statx`'s arguments and answer, for callers that read it themselves. */
export const STATX = {
  /** `AT_FDCWD`: a relative path is the working directory's. */
  atFdCwd: AT_FDCWD,
  /** The mask to ask with. */
  mask: STATX_BASIC_STATS,
  /** The answer's size in bytes. */
  size: STATX_SIZE,
  /** Where its fields are, in 32-bit words: a 64-bit field's low word, its high word next. */
  word: WORD,
} as const;

/**
 * Whether a `statx` answer can stand for `Deno.statSync`'s: it has every
 * field a stamp reads, and an mtime from 1970 on.
 *
 * @param u32 The answer as 32-bit words.
 * @returns `false`: ask `Deno.statSync` instead.
 */
export function statxUsable(u32: Uint32Array): boolean {
  return (u32[WORD.mask] & STATX_NEEDED) === STATX_NEEDED && u32[WORD.mtimeSec + 1] < 2 ** 31;
}

/**
 * What a `statx` answer says the path is.
 *
 * @param u32 The answer as 32-bit words.
 * @returns A regular file, a folder, or something else.
 */
export function statxKind(u32: Uint32Array): Stamp["kind"] {
  const type = u32[WORD.mode] & S_IFMT;
  return type === S_IFREG ? "file" : type === S_IFDIR ? "dir" : "other";
}

/**
 * Reads a `statx` answer into the shared stamp, as `Deno.statSync` would
 * give it.
 *
 * @param u32 The answer as 32-bit words.
 * @returns The stamp, or `undefined` when the answer lacks a field or its
 * mtime is before 1970: ask `Deno.statSync` then.
 */
export function stampOfStatx(u32: Uint32Array): Stamp | undefined {
  if (!statxUsable(u32)) return undefined;
  shared.kind = statxKind(u32);
  shared.size = u32[WORD.size + 1] * 2 ** 32 + u32[WORD.size];
  shared.mtime = (u32[WORD.mtimeSec + 1] * 2 ** 32 + u32[WORD.mtimeSec]) * 1000 +
    Math.floor(u32[WORD.mtimeNsec] / 1_000_000);
  shared.ino = u32[WORD.ino + 1] * 2 ** 32 + u32[WORD.ino];
  return shared;
}

/** A path not there, by `errno`: what `Deno.statSync` says by throwing NotFound. */
export function isMissing(errno: number): boolean {
  return errno === ENOENT || errno === ENOTDIR;
}

/** `statx` through FFI, or `undefined` when {@linkcode libcStatx} is. */
function libcStamper(): StatStamp | undefined {
  const libc = libcStatx();
  if (libc === undefined) return undefined;
  const { statxAt } = libc;
  const encoder = new TextEncoder();
  let pathBytes = new Uint8Array(4096);
  let pathAt = addressOf(pathBytes);
  const out = new Uint8Array(STATX_SIZE);
  const outAt = addressOf(out);
  // The folder part last encoded, and its length in bytes.
  let folder: string | undefined;
  let folderBytes = 0;
  const encode = (path: string, name: string | undefined): boolean => {
    // UTF-8 takes at most three bytes per UTF-16 unit, and one for the NUL.
    const most = (path.length + (name?.length ?? 0)) * 3 + 1;
    if (most > pathBytes.length) {
      pathBytes = new Uint8Array(most);
      pathAt = addressOf(pathBytes);
      folder = undefined;
    }
    // A path with a NUL of its own names a different file to C: Deno's answer then.
    if (path.includes("\0") || name?.includes("\0")) return false;
    if (name === undefined) {
      pathBytes[encoder.encodeInto(path, pathBytes).written] = 0;
      folder = undefined;
      return true;
    }
    if (path !== folder) {
      folderBytes = encoder.encodeInto(path, pathBytes).written;
      folder = path;
    }
    // A name in ASCII (most are) is its UTF-16 units; any other, encoded.
    let at = folderBytes;
    for (let i = 0; i < name.length; i++) {
      const unit = name.charCodeAt(i);
      if (unit >= 0x80) {
        at = folderBytes + encoder.encodeInto(name, pathBytes.subarray(folderBytes)).written;
        break;
      }
      pathBytes[at++] = unit;
    }
    pathBytes[at] = 0;
    return true;
  };
  const words = new Uint32Array(out.buffer);
  return (path, name) => {
    if (!encode(path, name)) return denoStamp(path, name);
    if (statxAt(AT_FDCWD, pathAt, 0, STATX_BASIC_STATS, outAt) !== 0) {
      // Nothing there (errno read straight after the call): what Deno.statSync
      // says by throwing NotFound, an error that costs more to build than the stat.
      return isMissing(libc.errno()) ? undefined : denoStamp(path, name);
    }
    // Before 1970, or a field not filled in: Deno's answer, whatever it makes of it.
    return stampOfStatx(words) ?? denoStamp(path, name);
  };
}

/**
 * Where a buffer's bytes are, as a number (addresses fit in 53 bits). The
 * buffers given are larger than V8 keeps inside its heap, so the collector
 * never moves them.
 *
 * @param buffer A buffer of more than 64 bytes.
 * @returns Its address.
 */
export function addressOf(buffer: Uint8Array | Uint32Array): number {
  return Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buffer)));
}
