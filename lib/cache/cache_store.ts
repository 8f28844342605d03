/**
 * The cache on disk: one index (which file content each stat stands for,
 * each task's last fingerprint and what it was made of, each entry's size
 * and last use), entries named by fingerprint holding a task's result and
 * the list of its output files, and blobs named by their sha256 holding the
 * outputs' bytes. Every file is sealed by its checksum and written
 * atomically, so that a torn or corrupt file reads as absent; the index is
 * an accelerator, and losing it costs a re-hash, never a wrong result.
 *
 * @module
 */

import { dirname, join } from "node:path";
import type { FoundFile } from "./_glob.ts";
import { sha256 } from "./_hash.ts";
import { readSealedSync, writeSealedSync } from "./_sealed_file.ts";
import { writeFileAtomicSync } from "../report/_atomic_write.ts";
import { RACY_MS } from "./_no_op.ts";

/** The default bound of a cache folder, in bytes: 1 GiB. */
export const DEFAULT_CACHE_MAX: number = 1024 ** 3;

const INDEX_VERSION = 1;

/** What a task's fingerprint is made of; the index keeps it to say why a task runs. */
export interface FingerprintParts {
  /** spool's version. */
  version: string;
  /** The task's code: its body, its declaration, the modules its file imports. */
  code: string;
  /** The run's arguments. */
  args: string;
  /** Each declared env variable's value, hashed (`-` when unset). */
  env: Record<string, string>;
  /**
   * Each input file's sha256, by path relative to the task file's folder
   * (`-` when missing); a record in the index keeps a prefix of each.
   */
  inputs: Record<string, string>;
  /** Each dependency's result, hashed. */
  deps: Record<string, string>;
}

/** One output file as an entry records it. */
export interface OutputFile {
  /** Path relative to the task file's folder. */
  rel: string;
  /** The sha256 of its bytes: the blob that holds them. */
  sha: string;
  /** Its mode bits, when the platform has them. */
  mode: number | null;
}

/** A cache entry: what a task produced for one fingerprint. */
export interface CacheEntry {
  fingerprint: string;
  task: string;
  result: unknown;
  outputs: OutputFile[];
}

/** A task module's local code files and their hash, as the index keeps them. */
export interface CodeRecord {
  /** The files, absolute. */
  files: string[];
  /** The hash of their contents. */
  hash: string;
  /** The config files' stamps they were found under (`configStamps`, as JSON). */
  configs?: string;
}

/** A task's last fingerprint. */
export interface TaskRecord {
  fingerprint: string;
  parts: FingerprintParts;
}

type StatRow = [size: number, mtimeMs: number, ino: number, sha: string, hashedAt: number];

interface EntryMeta {
  task: string;
  bytes: number;
  usedAt: number;
  blobs: string[];
}

interface Index {
  version: number;
  tasks: Record<string, TaskRecord>;
  stats: Record<string, StatRow>;
  entries: Record<string, EntryMeta>;
  code: Record<string, CodeRecord>;
}

/** What `spool cache info` prints. */
export interface CacheInfo {
  /** The cache folder. */
  dir: string;
  /** How many entries it holds. */
  entries: number;
  /** Their size with their output files, in bytes. */
  bytes: number;
  /** The bound, in bytes. */
  maxBytes: number;
  /** How many tasks have a last fingerprint. */
  tasks: number;
}

/** How many hex digits of each input's sha256 a task's last record keeps. */
export const RECORD_SHA_DIGITS = 16;

/**
 * A record as the index keeps it: each input's sha256 cut to its first
 * {@linkcode RECORD_SHA_DIGITS} digits. The fingerprint has them whole; the
 * record only says which input changed (a task reads ten files; a thousand
 * tasks' full digests were half the index, read on every run).
 */
function compactRecord(record: TaskRecord): TaskRecord {
  const inputs: Record<string, string> = {};
  for (const [path, sha] of Object.entries(record.parts.inputs)) {
    inputs[path] = sha.slice(0, RECORD_SHA_DIGITS);
  }
  return { fingerprint: record.fingerprint, parts: { ...record.parts, inputs } };
}

function emptyIndex(): Index {
  return { version: INDEX_VERSION, tasks: {}, stats: {}, entries: {}, code: {} };
}

/** A cache folder, opened for one run: one index read, one index write. */
export class CacheStore {
  /** The folder. */
  readonly dir: string;
  /** The bound, in bytes; least recently used entries go past it. */
  readonly maxBytes: number;
  #index: Index;
  #dirty = false;
  #writable = true;
  #warn: (message: string) => void;
  #entryStamps = new Map<string, FoundFile>();

  /**
   * Opens a cache folder, creating nothing until something is written.
   *
   * @param dir The folder.
   * @param options The bound and where warnings go.
   */
  constructor(
    dir: string,
    options: { maxBytes?: number; onWarning?: (message: string) => void } = {},
  ) {
    this.dir = dir;
    this.maxBytes = options.maxBytes ?? DEFAULT_CACHE_MAX;
    this.#warn = options.onWarning ?? ((message) => console.error(`warning: ${message}`));
    const read = readSealedSync(join(dir, "index"));
    if (read === null) this.#warn(`The cache index in "${dir}" is corrupt: starting a new one`);
    const index = read as Index | undefined | null;
    this.#index = index?.version === INDEX_VERSION ? index : emptyIndex();
  }

  /**
   * Reports a problem with the cache, where the run's warnings go.
   *
   * @param message The warning.
   */
  warn(message: string): void {
    this.#warn(message);
  }

  /** `false` once a write failed: the run goes on uncached. */
  get writable(): boolean {
    return this.#writable;
  }

  /**
   * A file's sha256, from the index when its size, mtime and inode are the
   * ones it had when it was hashed (and it was not modified within the same
   * millisecond as that hash), else read and hashed.
   *
   * @param file The file, as listed.
   * @returns Its sha256, or `-` when it cannot be read.
   */
  fileSha(file: FoundFile): string {
    const row = this.#index.stats[file.path];
    if (
      row !== undefined && row[0] === file.size && row[1] === file.mtimeMs &&
      row[2] === file.ino && file.mtimeMs + RACY_MS < row[4]
    ) return row[3];
    let sha: string;
    try {
      sha = sha256(Deno.readFileSync(file.path));
    } catch {
      return "-";
    }
    this.#index.stats[file.path] = [file.size, file.mtimeMs, file.ino, sha, Date.now()];
    this.#dirty = true;
    return sha;
  }

  /** The sha256 the index holds for a file, whatever its stat now. */
  knownSha(path: string): string | undefined {
    return this.#index.stats[path]?.[3];
  }

  /** The last fingerprint of a task, by its key. */
  record(key: string): TaskRecord | undefined {
    return this.#index.tasks[key];
  }

  /** The code files and hash last found for a task module, and the config stamps they were found under. */
  code(module: string): CodeRecord | undefined {
    return this.#index.code[module];
  }

  /** Remembers a task module's code files and hash. */
  setCode(module: string, code: CodeRecord): void {
    this.#index.code[module] = code;
    this.#dirty = true;
  }

  /**
   * An entry by fingerprint.
   *
   * @returns The entry; `undefined` when there is none; `null` when it is
   * torn or corrupt (it is then forgotten, and replaced when the task runs).
   */
  entry(fingerprint: string): CacheEntry | undefined | null {
    const path = this.#entryPath(fingerprint);
    // Stamped before it is read: a change after the stamp shows next time.
    this.#stampEntry(fingerprint, path);
    const entry = readSealedSync(path) as CacheEntry | undefined | null;
    if (entry === undefined) return undefined;
    if (entry === null || entry.fingerprint !== fingerprint) {
      delete this.#index.entries[fingerprint];
      this.#dirty = true;
      return null;
    }
    // Recency to the minute is enough for eviction, and spares a no-op run
    // writing the index.
    const meta = this.#index.entries[fingerprint];
    const now = Date.now();
    if (meta !== undefined && now - meta.usedAt > 60_000) {
      meta.usedAt = now;
      this.#dirty = true;
    }
    return entry;
  }

  /**
   * The stamp of an entry's file as this run read or wrote it.
   *
   * @param fingerprint The entry's fingerprint.
   * @returns Its path, size, mtime and inode; `undefined` when unknown.
   */
  entryStamp(fingerprint: string): FoundFile | undefined {
    return this.#entryStamps.get(fingerprint);
  }

  #stampEntry(fingerprint: string, path: string): void {
    try {
      const info = Deno.statSync(path);
      this.#entryStamps.set(fingerprint, {
        path,
        rel: path,
        size: info.size,
        mtimeMs: info.mtime?.getTime() ?? 0,
        ino: info.ino ?? 0,
      });
    } catch {
      this.#entryStamps.delete(fingerprint);
    }
  }

  /**
   * The sha256 the index holds for a file when its row has exactly this
   * stamp and was hashed after the file's mtime had passed by more than
   * {@linkcode RACY_MS}: a stamp that stands for the content.
   *
   * @param file The file and its stamp.
   * @returns The sha256, or `undefined` when the stamp is not trusted.
   */
  trustedSha(file: FoundFile): string | undefined {
    const row = this.#index.stats[file.path];
    return row !== undefined && row[0] === file.size && row[1] === file.mtimeMs &&
        row[2] === file.ino && file.mtimeMs + RACY_MS < row[4]
      ? row[3]
      : undefined;
  }

  /**
   * Sets a task's last fingerprint, with no entry to write.
   *
   * @param key The task's key.
   * @param record Its fingerprint and parts.
   */
  setRecord(key: string, record: TaskRecord): void {
    this.#index.tasks[key] = compactRecord(record);
    this.#dirty = true;
  }

  /**
   * An output's bytes, checked against their sha256.
   *
   * @returns The bytes, or `undefined` when the blob is gone or corrupt.
   */
  blob(sha: string): Uint8Array | undefined {
    try {
      const data = Deno.readFileSync(join(this.dir, "blobs", sha));
      return sha256(data) === sha ? data : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Stores what a task produced: its output files' bytes, then its entry,
   * then (in {@linkcode flush}) the index. A write that fails (a full disk)
   * turns the cache off for the rest of the run, with a warning.
   *
   * @param key The task's key.
   * @param record Its fingerprint and parts.
   * @param result Its result.
   * @param outputs Its output files, as listed after it ran.
   * @returns The output files as the entry lists them, or `undefined` when
   * the entry was not stored.
   */
  put(
    key: string,
    record: TaskRecord,
    result: unknown,
    outputs: FoundFile[],
  ): OutputFile[] | undefined {
    this.setRecord(key, record);
    if (!this.#writable) return undefined;
    try {
      Deno.mkdirSync(join(this.dir, "blobs"), { recursive: true });
      Deno.mkdirSync(join(this.dir, "entries"), { recursive: true });
      let bytes = 0;
      const files: OutputFile[] = [];
      for (const file of outputs) {
        const data = Deno.readFileSync(file.path);
        const sha = sha256(data);
        this.#index.stats[file.path] = [file.size, file.mtimeMs, file.ino, sha, Date.now()];
        const blob = join(this.dir, "blobs", sha);
        if (!exists(blob)) writeFileAtomicSync(blob, data);
        bytes += data.length;
        let mode: number | null = null;
        try {
          mode = Deno.statSync(file.path).mode;
        } catch {
          // No mode on this platform.
        }
        files.push({ rel: file.rel, sha, mode });
      }
      const entry: CacheEntry = {
        fingerprint: record.fingerprint,
        task: key,
        result,
        outputs: files,
      };
      const path = this.#entryPath(record.fingerprint);
      bytes += writeSealedSync(path, entry);
      this.#stampEntry(record.fingerprint, path);
      this.#index.entries[record.fingerprint] = {
        task: key,
        bytes,
        usedAt: Date.now(),
        blobs: files.map((file) => file.sha),
      };
      return files;
    } catch (error) {
      this.#fail(error);
      return undefined;
    }
  }

  /**
   * Evicts the least recently used entries past the bound, then writes the
   * index, atomically, if anything changed.
   */
  flush(): void {
    if (!this.#dirty || !this.#writable) return;
    this.#evict();
    try {
      Deno.mkdirSync(this.dir, { recursive: true });
      writeSealedSync(join(this.dir, "index"), this.#index);
      this.#dirty = false;
    } catch (error) {
      this.#fail(error);
    }
  }

  /** The folder's size and counts. */
  info(): CacheInfo {
    const entries = Object.values(this.#index.entries);
    return {
      dir: this.dir,
      entries: entries.length,
      bytes: entries.reduce((sum, meta) => sum + meta.bytes, 0),
      maxBytes: this.maxBytes,
      tasks: Object.keys(this.#index.tasks).length,
    };
  }

  #evict(): void {
    const entries = Object.entries(this.#index.entries).sort((a, b) => a[1].usedAt - b[1].usedAt);
    let total = entries.reduce((sum, [, meta]) => sum + meta.bytes, 0);
    const dropped: string[] = [];
    for (const [fingerprint, meta] of entries) {
      if (total <= this.maxBytes) break;
      total -= meta.bytes;
      dropped.push(fingerprint);
      delete this.#index.entries[fingerprint];
      if (isName(fingerprint)) removeQuietly(this.#entryPath(fingerprint));
    }
    if (dropped.length === 0) return;
    const kept = new Set(Object.values(this.#index.entries).flatMap((meta) => meta.blobs));
    for (const fingerprint of dropped) {
      for (const sha of entries.find(([fp]) => fp === fingerprint)![1].blobs) {
        if (!kept.has(sha) && isName(sha)) removeQuietly(join(this.dir, "blobs", sha));
      }
    }
  }

  #fail(error: unknown): void {
    this.#writable = false;
    this.#warn(
      `Cannot write the cache in "${this.dir}" (${
        error instanceof Error ? error.message : String(error)
      }): the run goes on uncached; free some space or pass --cache-dir`,
    );
  }

  #entryPath(fingerprint: string): string {
    return join(this.dir, "entries", fingerprint);
  }
}

/**
 * Whether a name from the index is a fingerprint or a sha256, as every file
 * spool writes there is named. The index names the files eviction removes,
 * and whoever may write the cache folder may write the index: a name like
 * `../../tasks.ts` must not reach a path outside it.
 */
function isName(name: string): boolean {
  return /^[0-9a-f]{64}$/.test(name);
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function removeQuietly(path: string): void {
  try {
    Deno.removeSync(path);
  } catch {
    // Gone already.
  }
}

/**
 * Puts a file back from its bytes, atomically, creating its folder.
 *
 * @param path The file.
 * @param data Its bytes.
 * @param mode Its mode bits, when known.
 */
export function restoreFile(path: string, data: Uint8Array, mode: number | null): void {
  Deno.mkdirSync(dirname(path), { recursive: true });
  writeFileAtomicSync(path, data);
  if (mode !== null) {
    try {
      Deno.chmodSync(path, mode & 0o7777);
    } catch {
      // No modes on this platform.
    }
  }
}
