/**
 * The record the `spool` command's no-op fast path reads (see
 * `lib/cli/_no_op_fast.ts`): a run's no-op snapshot (`_no_op.ts`) plus what
 * lets the command answer without importing the task file at all. The
 * snapshot alone needs the planned tasks, which only the task file's top
 * level can declare; the record holds them (names, kinds, dependencies, in
 * order) and the conditions under which that top level cannot have declared
 * anything else:
 *
 * - the run's identity: spool's version, the task file, the working
 *   directory, the cache folder, the targets and the task arguments;
 * - the stamps of the task file and every local code file it imports, and
 *   of each `deno.json`, `deno.jsonc`, `deno.lock` and `package.json` that
 *   Deno could find from the task file's folder or the working directory up
 *   (or that there is none), all in the snapshot;
 * - a digest of the whole environment;
 * - that the declarations are a function of that code alone: the writer
 *   imported the task file once more in a process that may read only its
 *   code and may not read the environment, the clock or random numbers, and
 *   it declared the same tasks (`_no_op_record_writer.ts`).
 *
 * Like `_no_op.ts`, this module imports nothing that a `spool` start-up
 * does not need: no `node:` module, no task file.
 *
 * @module
 */

import {
  baseDir,
  fileName,
  hex,
  isAbsolutePath,
  type NoOpSnapshot,
  parseSealed,
  readSealed,
  stamper,
  stampsHold,
} from "./_no_op.ts";
import { SPOOL_VERSION } from "./_version.ts";

const SEP = Deno.build.os === "windows" ? "\\" : "/";

/**
 * The variable the `spool` command sets in a process it relaunches under the
 * task file's `deno.json`; left out of the environment's digest, so that
 * the relaunched process's record serves the command that relaunched it.
 */
export const RELAUNCH_VARIABLE = "SPOOL_RELAUNCHED";

/** A planned task as the fast path reports it: name, kind, trusted (1) or not (0), dependencies. */
export type RecordedTask = [name: string, kind: "io" | "cpu", trusted: 0 | 1, deps: string[]];

/**
 * What a record holds: the snapshot's stamps in a compact form (a string
 * per folder rather than four JSON values per file), and its results as
 * JSON text, parsed only when printed: a record of 10,000 files parses into
 * a few thousand strings, not fifty thousand values for the collector to
 * copy.
 */
export interface NoOpRecord {
  /** The run's identity: see {@linkcode recordIdentity}. */
  key: string;
  /** The SHA-256 of the environment: see {@linkcode environmentText}. */
  env: string;
  /** The planned tasks, in order. */
  tasks: RecordedTask[];
  /** The config stamps, as the snapshot holds them. */
  configs: (string | number)[];
  /** File stamps by folder (as the snapshot names folders): `name/size/mtime/inode/name/...`. */
  files: Record<string, string>;
  /** Listed folders' stamps by path: `mtime/inode`. */
  dirs: Record<string, string>;
  /** Paths that must still not exist. */
  gone: string[];
  /** The snapshot's results, as JSON text. */
  results: string;
}

/**
 * A snapshot's stamps and results in a record's form.
 *
 * @param snapshot The snapshot.
 * @returns The fields of a record that stand for it.
 */
export function compactSnapshot(
  snapshot: NoOpSnapshot,
): Pick<NoOpRecord, "configs" | "files" | "dirs" | "gone" | "results"> {
  const files: Record<string, string> = {};
  for (const dir in snapshot.files) files[dir] = snapshot.files[dir].join("/");
  const dirs: Record<string, string> = {};
  for (let i = 0; i < snapshot.dirs.length; i += 3) {
    dirs[snapshot.dirs[i] as string] = `${snapshot.dirs[i + 1]}/${snapshot.dirs[i + 2]}`;
  }
  return {
    configs: snapshot.configs ?? [],
    files,
    dirs,
    gone: snapshot.gone,
    results: JSON.stringify(snapshot.results),
  };
}

/**
 * What a record is for: spool's version, the task module, the working
 * directory, the cache folder, the targets as given (patterns expanded) and
 * the task arguments.
 *
 * @param module The task module's `file:` URL.
 * @param cacheDir The cache folder (`cacheDirOf`).
 * @param targets The targets named on the command line.
 * @param args The task arguments (after `--`).
 * @returns The key.
 */
export function recordIdentity(
  module: string,
  cacheDir: string,
  targets: readonly string[],
  args: readonly string[],
): string {
  return JSON.stringify([SPOOL_VERSION, module, Deno.cwd(), cacheDir, targets, args]);
}

/**
 * Where the record of a run lives, under the cache folder.
 *
 * @param cacheDir The cache folder.
 * @param key From {@linkcode recordIdentity}.
 * @returns The path.
 */
export function recordPath(cacheDir: string, key: string): string {
  return `${cacheDir}${SEP}no-op${SEP}fast${SEP}${fileName(key)}`;
}

/**
 * Variables left out of the environment's digest: {@linkcode RELAUNCH_VARIABLE},
 * and `_`, which a shell sets to the path of the command it starts (`time
 * spool run` and `spool run` differ only there). A run whose tasks may
 * read either gets no record (`_no_op_record_writer.ts`).
 */
export const UNDIGESTED = [RELAUNCH_VARIABLE, "_"];

/**
 * The environment as the digest sees it: every variable but
 * {@linkcode UNDIGESTED}, sorted.
 *
 * @returns JSON text.
 */
export function environmentText(): string {
  const entries = Object.entries(Deno.env.toObject())
    .filter(([name]) => !UNDIGESTED.includes(name))
    .sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0);
  return JSON.stringify(entries);
}

/**
 * Reads the record of a run and returns it when every condition it holds is
 * still true, else `undefined` (a missing, torn or corrupt record too).
 *
 * @param cacheDir The cache folder.
 * @param module The task module's `file:` URL.
 * @param targets The targets named on the command line.
 * @param args The task arguments.
 * @returns The record, or `undefined`: take the normal path.
 */
export async function readNoOpRecord(
  cacheDir: string,
  module: string,
  targets: readonly string[],
  args: readonly string[],
): Promise<NoOpRecord | undefined> {
  const key = recordIdentity(module, cacheDir, targets, args);
  const sealed = readSealed(recordPath(cacheDir, key));
  if (sealed === undefined) return undefined;
  const [sum, env] = await Promise.all([
    crypto.subtle.digest("SHA-256", sealed.body),
    crypto.subtle.digest("SHA-256", new TextEncoder().encode(environmentText())),
  ]);
  const record = parseSealed<NoOpRecord>(sealed, sum);
  if (record === undefined || record.key !== key || record.env !== hex(new Uint8Array(env))) {
    return undefined;
  }
  return recordHolds(record, module) ? record : undefined;
}

/** {@linkcode stampsHold} for a record's compact stamps. */
function recordHolds(record: NoOpRecord, module: string): boolean {
  if (!stampsHold({ configs: record.configs, files: {}, dirs: [], gone: record.gone }, module)) {
    return false;
  }
  const base = baseDir(module);
  const prefix = base.endsWith(SEP) ? base : base + SEP;
  const full = (path: string) => isAbsolutePath(path) ? path : prefix + path;
  const stamp = stamper();
  for (const dir in record.dirs) {
    const info = stamp(full(dir));
    if (info?.kind !== "dir" || `${info.mtime}/${info.ino}` !== record.dirs[dir]) return false;
  }
  // Read in place, not split: splitting 12,000 files' stamps into 48,000
  // strings took longer than reading the numbers out of the text.
  for (const dir in record.files) {
    const at = dir === "" ? prefix : full(dir) + SEP;
    const text = record.files[dir];
    for (let pos = 0; pos < text.length;) {
      const nameEnd = text.indexOf("/", pos);
      if (nameEnd < 0) return false;
      const info = stamp(at, text.slice(pos, nameEnd));
      if (info?.kind !== "file") return false;
      const sizeEnd = fieldEnd(text, nameEnd + 1);
      if (info.size !== numberIn(text, nameEnd + 1, sizeEnd)) return false;
      const mtimeEnd = fieldEnd(text, sizeEnd + 1);
      if (info.mtime !== numberIn(text, sizeEnd + 1, mtimeEnd)) return false;
      const inoEnd = fieldEnd(text, mtimeEnd + 1);
      if (info.ino !== numberIn(text, mtimeEnd + 1, inoEnd)) return false;
      pos = inoEnd + 1;
    }
  }
  return true;
}

/** Where the field that starts at `from` ends: its `/`, or the text's end. */
function fieldEnd(text: string, from: number): number {
  const end = text.indexOf("/", from);
  return end < 0 ? text.length : end;
}

/** The number written from `from` up to `end`, as `+text.slice(from, end)` reads it. */
function numberIn(text: string, from: number, end: number): number {
  // Up to 15 digits is exact in a double, read as it goes; anything else
  // (a sign, more digits, none) as `+` reads it.
  if (end === from || end - from > 15) return +text.slice(from, end);
  let value = 0;
  for (let i = from; i < end; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return +text.slice(from, end);
    value = value * 10 + digit;
  }
  return value;
}
