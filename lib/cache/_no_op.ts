/**
 * The no-op fast path of a cached run. A run whose every task came from the
 * cache or ran and was stored leaves a snapshot: the stamp (size, mtime,
 * inode) of every file its fingerprints and hits stood for (each input, each
 * output, each entry, the task file and its local imports), the stamp
 * (mtime, inode) of every folder whose listing said which files are inputs,
 * a digest of every task's declaration and code, and the tasks' results.
 * The next run of the same tasks with the same arguments reads that one
 * file, compares the digest, stats what it lists, and when nothing moved has
 * every task's result: no index, no entry, no hash of a file, no `node:`
 * module. Anything else (a stamp that moved, a result that is not plain
 * JSON, `--force`) takes the full path in `task_cache.ts`, which checks
 * contents and writes a new snapshot.
 *
 * What this trusts is what the index's stat table trusts, as Make and ninja
 * do: a file whose size, mtime and inode are unchanged has unchanged bytes
 * (a stamp is recorded only once its mtime is older than the moment its
 * content was hashed, by more than {@linkcode RACY_MS}), and a folder whose
 * mtime and inode are unchanged lists the same names.
 *
 * This module imports nothing: it is all a no-op run loads of the cache.
 *
 * @module
 */

import type { Task } from "../declare/define.ts";
import { SPOOL_VERSION } from "./_version.ts";
import { type StatStamp, statStamper } from "./_stat_stamp.ts";

/**
 * A stamp is trusted for a file's content only when the content was read
 * more than this many ms after the file's mtime: a write within the same
 * timestamp tick could otherwise leave the stamp as it was.
 */
export const RACY_MS = 2;

const SUM_BYTES = 32;
const JSON_MARK = 0x7b;
const WINDOWS = Deno.build.os === "windows";
const SEP = WINDOWS ? "\\" : "/";

/**
 * Stamps by folder (relative to the task file's folder when under it, `""`
 * for that folder itself), flat for a quick parse: for files, name, size,
 * mtime (ms), inode, then the next file; for listed folders, `""`, mtime,
 * inode.
 */
export type Stamps = Record<string, (string | number)[]>;

/** What a snapshot holds (paths under the task file's folder are relative to it). */
export interface NoOpSnapshot {
  /** Which run it stands for: see {@linkcode runIdentity}. */
  key: string;
  /** The digest of the tasks' declarations and code: see {@linkcode codeText}. */
  code: string;
  /** Files whose stamps must be unchanged, by folder. */
  files: Stamps;
  /** Folders listed, whose stamps must be unchanged: `[path, mtime, inode]` flat. */
  dirs: (string | number)[];
  /** Paths that must still not exist (inputs named but missing). */
  gone: string[];
  /** Each task's result, in a one-element array (empty for `undefined`). */
  results: Record<string, [unknown] | []>;
  /** The task file and the local code files it imports (as `files` holds their paths). */
  codeFiles?: string[];
  /** The stamps of the config files Deno could read: see {@linkcode configStamps}. */
  configs?: (string | number)[];
}

/** The folder the stamps' relative paths are relative to: the task file's. */
export function baseDir(module: string): string {
  const url = new URL(".", module);
  let path = decodeURIComponent(url.pathname);
  if (WINDOWS) {
    path = url.hostname !== "" ? `//${url.hostname}${path}` : path.slice(1);
    path = path.replaceAll("/", "\\");
  }
  return path.length > 1 && path.endsWith(SEP) ? path.slice(0, -1) : path;
}

/** The cache folder a run uses: `dir` as given (against the working directory), or `.spool/cache` beside the task file. */
export function cacheDirOf(module: string, dir: string | undefined): string {
  const base = baseDir(module);
  if (dir === undefined) return `${base.endsWith(SEP) ? base : base + SEP}.spool${SEP}cache`;
  const absolute = WINDOWS ? /^([a-zA-Z]:)?[\\/]/.test(dir) : dir.startsWith("/");
  return absolute ? dir : `${Deno.cwd()}${SEP}${dir}`;
}

/**
 * What a snapshot is for: the task module, the working directory (which
 * permission scopes are relative to), the cache folder, the run's targets
 * as planned (in order) and its arguments.
 */
export function runIdentity(
  module: string,
  cacheDir: string,
  planned: readonly Task[],
  args: readonly string[],
): string {
  return JSON.stringify([
    SPOOL_VERSION,
    module,
    Deno.cwd(),
    cacheDir,
    planned.map((task) => task.name),
    args,
  ]);
}

/** Where the snapshot of a run lives. */
export function snapshotPath(cacheDir: string, key: string): string {
  return `${cacheDir}${SEP}no-op${SEP}${fileName(key)}`;
}

/**
 * A file name for a key: FNV-1a, 2 x 32 bits, a name, not a proof (the
 * file holds the whole key).
 *
 * @param key The key.
 * @returns 16 hex digits.
 */
export function fileName(key: string): string {
  let a = 0x811c9dc5, b = 0x01000193 ^ key.length;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
  }
  const hex = (n: number) => (n >>> 0).toString(16).padStart(8, "0");
  return `${hex(a)}${hex(b)}`;
}

/**
 * Everything about the planned tasks that their fingerprints hold besides
 * files and dependencies' results: each one's declaration, body, cache
 * setting and env values. `undefined` when a task's code cannot be told
 * apart as text (a shard over items that are not plain JSON).
 *
 * @param planned The planned tasks, in order.
 * @param withValues Include the values of the env variables the tasks
 * declare; without them, the text is the declarations alone.
 * @returns The text, or `undefined`.
 */
export function codeText(planned: readonly Task[], withValues = true): string | undefined {
  const parts: string[] = [];
  for (const task of planned) {
    const { name, kind, deps, permissions, inputs, outputs, env, trusted, cache, shard } = task;
    let body: string;
    if (shard === undefined) body = String(task.run);
    else {
      const items = typeof shard.items === "function" ? String(shard.items) : plain(shard.items);
      const initial = shard.hasInitial ? plain(shard.initial) : "";
      if (items === undefined || initial === undefined) return undefined;
      body = [items, String(shard.map), String(shard.reduce), initial].join("\n");
    }
    const names = !withValues ? [] : env ?? (Array.isArray(permissions.env) ? permissions.env : []);
    const values = names.map((variable) => {
      try {
        return Deno.env.get(variable) ?? null;
      } catch {
        return null;
      }
    });
    parts.push(
      JSON.stringify([name, kind, deps, permissions, inputs, outputs, env, trusted, cache, values]),
      body,
    );
  }
  return parts.join("\n");
}

function plain(value: unknown): string | undefined {
  try {
    const text = JSON.stringify(value);
    return text !== undefined && JSON.stringify(JSON.parse(text)) === text ? text : undefined;
  } catch {
    return undefined;
  }
}

/** What {@linkcode noOpResults} found. */
export interface NoOpHit {
  /** Each planned task's result, by name. */
  results: Map<string, unknown>;
  /** The snapshot that gave them. */
  snapshot: NoOpSnapshot;
}

/**
 * Reads a run's snapshot and answers with every planned task's result when
 * nothing it stands for changed, else `undefined`.
 *
 * @param cacheDir The cache folder ({@linkcode cacheDirOf}).
 * @param module The task module's `file:` URL.
 * @param planned The planned tasks, in order.
 * @param args The run's arguments.
 * @returns Each task's result by name and the snapshot, or `undefined`:
 * take the full path.
 */
export async function noOpResults(
  cacheDir: string,
  module: string,
  planned: readonly Task[],
  args: readonly string[],
): Promise<NoOpHit | undefined> {
  const key = runIdentity(module, cacheDir, planned, args);
  const sealed = readSealed(snapshotPath(cacheDir, key));
  if (sealed === undefined) return undefined;
  const text = codeText(planned);
  if (text === undefined) return undefined;
  const [sum, code] = await Promise.all([
    crypto.subtle.digest("SHA-256", sealed.body),
    crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)),
  ]);
  const snapshot = parseSealed<NoOpSnapshot>(sealed, sum);
  if (snapshot === undefined) return undefined;
  if (snapshot.key !== key || snapshot.code !== hex(new Uint8Array(code))) return undefined;
  if (!stampsHold(snapshot, module)) return undefined;
  const results = new Map<string, unknown>();
  for (const task of planned) {
    const result = snapshot.results[task.name];
    if (result === undefined) return undefined;
    results.set(task.name, result[0]);
  }
  return { results, snapshot };
}

/** A sealed JSON file as read (see `_sealed_file.ts`): its body and the sum it holds. */
export interface SealedBody {
  /** The JSON text's bytes. */
  body: Uint8Array<ArrayBuffer>;
  /** The SHA-256 the file holds for them. */
  sum: Uint8Array;
}

/**
 * Reads a sealed JSON file, whose sum is still to be checked with
 * {@linkcode parseSealed}.
 *
 * @param path The file.
 * @returns Its body and sum, or `undefined` when it is missing or not a
 * sealed JSON file.
 */
export function readSealed(path: string): SealedBody | undefined {
  let data: Uint8Array<ArrayBuffer>;
  try {
    data = readWhole(path);
  } catch {
    return undefined;
  }
  if (data.length <= SUM_BYTES || data[SUM_BYTES] !== JSON_MARK) return undefined;
  return { body: data.subarray(SUM_BYTES + 1), sum: data.subarray(0, SUM_BYTES) };
}

/**
 * A file's bytes, read into a buffer of its size: `Deno.readFileSync` took
 * about twice as long for a file of a few hundred KB, measured in a fresh
 * process.
 */
function readWhole(path: string): Uint8Array<ArrayBuffer> {
  using file = Deno.openSync(path);
  const data = new Uint8Array(file.statSync().size);
  let at = 0;
  while (at < data.length) {
    const read = file.readSync(data.subarray(at));
    if (read === null || read === 0) break;
    at += read;
  }
  // A file cut short while it was read reads as torn: its sum will not agree.
  return at === data.length ? data : data.slice(0, at);
}

/**
 * A sealed file's value, when `digest` (the SHA-256 of its body) is the sum
 * it holds: a torn or corrupt file gives `undefined`.
 *
 * @param sealed From {@linkcode readSealed}.
 * @param digest The SHA-256 of `sealed.body`.
 * @returns The value, or `undefined`.
 */
export function parseSealed<T>(sealed: SealedBody, digest: ArrayBuffer): T | undefined {
  if (!sealedSumHolds(sealed, digest)) return undefined;
  try {
    return JSON.parse(new TextDecoder().decode(sealed.body)) as T;
  } catch {
    return undefined;
  }
}

/**
 * Whether a sealed file's body is what its sum says: not torn, not changed.
 *
 * @param sealed From {@linkcode readSealed}.
 * @param digest The SHA-256 of `sealed.body`.
 * @returns `true` when they agree.
 */
export function sealedSumHolds(sealed: SealedBody, digest: ArrayBuffer): boolean {
  const sum = new Uint8Array(digest);
  if (sum.length !== SUM_BYTES) return false;
  for (let i = 0; i < SUM_BYTES; i++) if (sealed.sum[i] !== sum[i]) return false;
  return true;
}

/** Files whose presence or content changes how Deno resolves the task file's imports. */
const CONFIG_NAMES = ["deno.json", "deno.jsonc", "deno.lock", "package.json"];

/**
 * The config files Deno could read for a run: each of `deno.json`,
 * `deno.jsonc`, `deno.lock` and `package.json` in the task file's folder
 * and every folder above it, and in the working directory and every folder
 * above it.
 *
 * @param module The task module's `file:` URL.
 * @returns Absolute paths, each once.
 */
export function configCandidates(module: string): string[] {
  const paths = new Set<string>();
  for (const start of [baseDir(module), Deno.cwd()]) {
    // "/a/b", "/a", "/"; or "C:\\a\\b", "C:\\a", "C:".
    for (let at = start;;) {
      const prefix = at.endsWith(SEP) ? at : at + SEP;
      for (const name of CONFIG_NAMES) paths.add(prefix + name);
      const cut = at.lastIndexOf(SEP);
      if (cut < 0) break;
      const up = at.slice(0, cut) || SEP;
      if (up === at) break;
      at = up;
    }
  }
  return [...paths];
}

/**
 * The stamps of {@linkcode configCandidates}: whether each is there, and
 * as it is. An import map, a lock file or a `package.json` appearing,
 * going or changing can change which code a task file runs.
 *
 * @param module The task module's `file:` URL.
 * @returns Path, size (`-1` when missing), mtime, inode, flat.
 */
export function configStamps(module: string): (string | number)[] {
  const out: (string | number)[] = [];
  const stamp = stamper();
  for (const path of configCandidates(module)) {
    const info = stamp(path);
    if (info === undefined) out.push(path, -1, 0, 0);
    else out.push(path, info.kind === "file" ? info.size : -2, info.mtime, info.ino);
  }
  return out;
}

/**
 * Whether every stamp a snapshot holds is as it was: each config file's,
 * each file's size, mtime and inode, each listed folder's mtime and inode,
 * and each missing path still missing.
 *
 * @param snapshot The snapshot.
 * @param module The task module's `file:` URL (relative paths are under its folder).
 * @returns `true` when nothing moved.
 */
export function stampsHold(
  snapshot: Pick<NoOpSnapshot, "files" | "dirs" | "gone" | "configs">,
  module: string,
): boolean {
  const then = snapshot.configs;
  if (then === undefined) return false;
  const now = configStamps(module);
  if (now.length !== then.length) return false;
  for (let i = 0; i < now.length; i++) if (now[i] !== then[i]) return false;
  const base = baseDir(module);
  const prefix = base.endsWith(SEP) ? base : base + SEP;
  const full = (path: string) => isAbsolutePath(path) ? path : prefix + path;
  const stamp = stamper();
  const dirs = snapshot.dirs;
  for (let i = 0; i < dirs.length; i += 3) {
    const info = stamp(full(dirs[i] as string));
    if (info?.kind !== "dir" || info.mtime !== dirs[i + 1] || info.ino !== dirs[i + 2]) {
      return false;
    }
  }
  for (const dir in snapshot.files) {
    const at = dir === "" ? prefix : full(dir) + SEP;
    const files = snapshot.files[dir];
    for (let i = 0; i < files.length; i += 4) {
      const info = stamp(at + files[i]);
      if (
        info?.kind !== "file" || info.size !== files[i + 1] || info.mtime !== files[i + 2] ||
        info.ino !== files[i + 3]
      ) return false;
    }
  }
  // Still missing.
  return snapshot.gone.every((path) => stamp(full(path)) === undefined);
}

let cachedStamper: StatStamp | undefined;
/**
 * The process's {@linkcode statStamper}, made once: opening libc is not free.
 *
 * @returns The stamp function every no-op check uses.
 */
export function stamper(): StatStamp {
  return cachedStamper ??= statStamper();
}

/**
 * Whether a path is absolute, on this platform's terms.
 *
 * @param path A path.
 * @returns `true` for `/a` (POSIX), `C:\\a` or `\\a` (Windows).
 */
export function isAbsolutePath(path: string): boolean {
  return WINDOWS ? /^([a-zA-Z]:)?[\\/]/.test(path) : path.startsWith("/");
}

/**
 * A path as a snapshot holds it: relative to the task file's folder when
 * under it.
 *
 * @param prefix The task file's folder, with a trailing separator.
 * @param path An absolute path.
 * @returns The path to store.
 */
export function snapshotRelative(prefix: string, path: string): string {
  return path.startsWith(prefix) ? path.slice(prefix.length) : path;
}

/**
 * Bytes as lower-case hex.
 *
 * @param bytes The bytes (a digest).
 * @returns Two hex digits a byte.
 */
export function hex(bytes: Uint8Array): string {
  let out = "";
  for (const byte of bytes) out += byte.toString(16).padStart(2, "0");
  return out;
}
