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
  readSealed,
  sealedSumHolds,
  stampsHold,
} from "./_no_op.ts";
import { encodeStampBlock, stampBlockHolds, type StampEntry } from "./_stamp_block.ts";
import { SPOOL_VERSION } from "./_version.ts";

const SEP = Deno.build.os === "windows" ? "\\" : "/";

/**
 * The variable the `spool` command sets in a process it relaunches under the
 * task file's `deno.json`; left out of the environment's digest, so that
 * the relaunched process's record serves the command that relaunched it.
 */
export const RELAUNCH_VARIABLE = "SPOOL_RELAUNCHED";

/**
 * A planned task as the fast path reports it: name, kind, trusted (1) or
 * not (0), and its dependencies as indexes into the record's tasks.
 */
export type RecordedTask = [name: string, kind: "io" | "cpu", trusted: 0 | 1, deps: number[]];

/**
 * What a record holds in JSON. Its stamps (every input, output and entry,
 * every listed folder, every path that must still be missing) follow the
 * JSON text in the same sealed file, after a NUL, as a stamp block
 * (`_stamp_block.ts`); its results are JSON text, parsed only when printed:
 * a record of 10,000 files parses into a few thousand strings, not fifty
 * thousand values for the collector to copy.
 */
export interface NoOpRecord {
  /** The run's identity: see {@linkcode recordIdentity}. */
  key: string;
  /** The SHA-256 of the environment: see {@linkcode environmentText}. */
  env: string;
  /** The planned tasks, in order. */
  tasks: RecordedTask[];
  /** The order a run ends them in when all come from the cache, as indexes: see `cachedEndOrder`. */
  order: number[];
  /** The config stamps, as the snapshot holds them. */
  configs: (string | number)[];
  /** The snapshot's results, as JSON text. */
  results: string;
}

/**
 * A snapshot's stamps and results in a record's form.
 *
 * @param snapshot The snapshot.
 * @param module The task module's `file:` URL, which relative paths are relative to.
 * @returns The fields of a record that stand for it, and its stamp block;
 * `undefined` when a path cannot be put in a block.
 */
export function compactSnapshot(
  snapshot: NoOpSnapshot,
  module: string,
): { fields: Pick<NoOpRecord, "configs" | "results">; block: Uint8Array } | undefined {
  const base = baseDir(module);
  const prefix = base.endsWith(SEP) ? base : base + SEP;
  // Paths under the working directory are kept relative to it, as the check
  // stats them: a record is its working directory's (its key says so), and
  // a shorter path is fewer steps for the kernel to walk, thirteen thousand
  // times.
  const cwd = Deno.cwd();
  const here = cwd.endsWith(SEP) ? cwd : cwd + SEP;
  const full = (path: string) => {
    const absolute = isAbsolutePath(path) ? path : prefix + path;
    return absolute.startsWith(here) ? absolute.slice(here.length) : absolute;
  };
  const entries: StampEntry[] = [];
  for (let i = 0; i < snapshot.dirs.length; i += 3) {
    const [path, mtime, ino] = snapshot.dirs.slice(i, i + 3) as [string, number, number];
    entries.push({ folder: "", name: full(path), kind: "dir", size: 0, mtime, ino });
  }
  for (const dir in snapshot.files) {
    const folder = dir === "" ? full(prefix) : full(dir) + SEP;
    const files = snapshot.files[dir];
    for (let i = 0; i < files.length; i += 4) {
      const [name, size, mtime, ino] = files.slice(i, i + 4) as [string, number, number, number];
      entries.push({ folder, name, kind: "file", size, mtime, ino });
    }
  }
  for (const path of snapshot.gone) {
    entries.push({ folder: "", name: full(path), kind: "gone", size: 0, mtime: 0, ino: 0 });
  }
  const block = encodeStampBlock(entries);
  if (block === undefined) return undefined;
  return {
    fields: { configs: snapshot.configs ?? [], results: JSON.stringify(snapshot.results) },
    block,
  };
}

/**
 * The layout of a record's JSON and stamp block: raised with every change
 * to either, so that a record another build of the same version wrote is
 * never read as this one's.
 */
const RECORD_FORMAT = 3;

/**
 * What a record is for: spool's version, the record's format, the task module, the working
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
  return JSON.stringify([
    SPOOL_VERSION,
    RECORD_FORMAT,
    module,
    Deno.cwd(),
    cacheDir,
    targets,
    args,
  ]);
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
  // The sums are taken on another thread while this one checks the stamps;
  // nothing the record says is trusted until they agree.
  const sums = Promise.all([
    crypto.subtle.digest("SHA-256", sealed.body),
    crypto.subtle.digest("SHA-256", new TextEncoder().encode(environmentText())),
  ]);
  let record: NoOpRecord | undefined;
  let holds = false;
  try {
    // The JSON text, then a NUL (never in JSON text), then the stamp block.
    const end = sealed.body.indexOf(0);
    if (end >= 0) {
      record = JSON.parse(new TextDecoder().decode(sealed.body.subarray(0, end))) as NoOpRecord;
      // Reading an unchecked block only stats paths: it cannot act on them.
      holds = record.key === key &&
        stampsHold({ configs: record.configs, files: {}, dirs: [], gone: [] }, module) &&
        stampBlockHolds(sealed.body.subarray(end + 1));
    }
  } catch {
    // Not a record this code wrote: the sums will not agree either.
    holds = false;
  }
  const [sum, env] = await sums;
  if (!holds || !sealedSumHolds(sealed, sum) || record!.env !== hex(new Uint8Array(env))) {
    return undefined;
  }
  return record;
}
