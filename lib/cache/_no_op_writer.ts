/**
 * Writes the snapshot a no-op run reads (see `_no_op.ts`), at the end of a
 * run on the full path, when every planned task came from the cache or was
 * stored, every result is plain JSON, and every stamp stands for the content
 * the run's fingerprints and entries used. Otherwise it removes the run's
 * old snapshot, so that the next run takes the full path again.
 *
 * @module
 */

import { resolve, sep } from "node:path";
import type { Task } from "../declare/define.ts";
import type { FoundFile, FoundFiles } from "./_glob.ts";
import { sha256 } from "./_hash.ts";
import {
  baseDir,
  cacheDirOf,
  codeText,
  configStamps,
  type NoOpSnapshot,
  RACY_MS,
  runIdentity,
  snapshotPath,
  snapshotRelative,
  type Stamps,
} from "./_no_op.ts";
import { writeNoOpRecord } from "./_no_op_record_writer.ts";
import { recordIdentity, recordPath } from "./_no_op_record.ts";
import { isPlainJson, writeSealedJsonSync } from "./_sealed_file.ts";
import type { CacheStore, OutputFile } from "./cache_store.ts";

/** Above this, results are left to the entries: a snapshot is read on every run. */
const MAX_RESULT_CHARS = 4 * 1024 * 1024;

/**
 * How many snapshots a cache folder keeps (one per task file, targets,
 * arguments and working directory); past it the least recently written go.
 */
export const MAX_SNAPSHOTS = 16;

/** What a run knows at its end, for its snapshot. */
export interface NoOpRun {
  /** The task module's `file:` URL. */
  module: string;
  /** The cache folder as the run was given it. */
  dirOption: string | undefined;
  /** The run's arguments. */
  args: readonly string[];
  /** The planned tasks, in order. */
  planned: readonly Task[];
  /** The task file and the local modules it imports. */
  codeFiles: readonly string[];
  /** Each task's input listing, as its fingerprint saw it. */
  inputs: ReadonlyMap<string, FoundFiles>;
  /** Each task that came from the cache or was stored. */
  done: ReadonlyMap<
    string,
    { result: unknown; fingerprint: string; outputs: readonly OutputFile[] }
  >;
  /**
   * The targets named on the `spool` command line, for the record of its
   * no-op fast path (`_no_op_record.ts`); `undefined` for a run that did
   * not come from the command line.
   */
  targets?: readonly string[];
}

/**
 * Writes (or removes) the snapshot of a run. Never throws: a snapshot that
 * cannot be written costs the next run its fast path, nothing else.
 *
 * @param store The run's cache store.
 * @param run What the run saw.
 */
export function writeNoOpSnapshot(store: CacheStore, run: NoOpRun): void {
  const cacheDir = cacheDirOf(run.module, run.dirOption);
  const key = runIdentity(run.module, cacheDir, run.planned, run.args);
  const path = snapshotPath(cacheDir, key);
  let snapshot: NoOpSnapshot | undefined;
  try {
    snapshot = store.writable ? build(store, run, key) : undefined;
    if (snapshot === undefined) Deno.removeSync(path);
    else {
      Deno.mkdirSync(resolve(path, ".."), { recursive: true });
      writeSealedJsonSync(path, snapshot);
      prune(resolve(path, ".."));
    }
  } catch {
    // No snapshot: the next run takes the full path.
    snapshot = undefined;
  }
  if (run.targets === undefined) return;
  if (snapshot !== undefined) {
    const { module, args, planned, targets, codeFiles } = run;
    writeNoOpRecord({ module, cacheDir, targets, args, planned, snapshot, codeFiles });
    return;
  }
  try {
    Deno.removeSync(
      recordPath(cacheDir, recordIdentity(run.module, cacheDir, run.targets, run.args)),
    );
  } catch {
    // None.
  }
}

function build(store: CacheStore, run: NoOpRun, key: string): NoOpSnapshot | undefined {
  const text = codeText(run.planned);
  if (text === undefined) return undefined;
  // A config changed since this process started may not be the one it ran under.
  const configs = configStamps(run.module);
  for (let i = 0; i < configs.length; i += 4) {
    if (configs[i + 1] !== -1 && (configs[i + 2] as number) >= performance.timeOrigin - RACY_MS) {
      return undefined;
    }
  }
  const base = baseDir(run.module);
  const prefix = base.endsWith(sep) ? base : base + sep;
  const files = new Map<string, FoundFile>();
  const dirs = new Map<string, [number, number]>();
  const gone = new Set<string>();
  const addFile = (file: FoundFile): boolean => {
    const known = files.get(file.path);
    files.set(file.path, file);
    return known === undefined ||
      (known.size === file.size && known.mtimeMs === file.mtimeMs && known.ino === file.ino);
  };
  // The task file and its imports, as the run's code digest saw them.
  for (const path of run.codeFiles) {
    const file = stampOf(path);
    if (file === undefined || store.trustedSha(file) === undefined || !addFile(file)) {
      return undefined;
    }
  }
  const results: Record<string, [unknown] | []> = {};
  let chars = 0;
  const outputs: { file: string; sha: string }[] = [];
  for (const task of run.planned) {
    const done = run.done.get(task.name);
    const inputs = run.inputs.get(task.name);
    if (done === undefined || inputs === undefined || !inputs.stampable) return undefined;
    for (const file of inputs.files) {
      if (store.trustedSha(file) === undefined || !addFile(file)) return undefined;
    }
    for (const dir of inputs.dirs) {
      if (dir.mtimeMs + RACY_MS >= dir.listedAt) return undefined;
      dirs.set(dir.path, [dir.mtimeMs, dir.ino]);
    }
    for (const path of inputs.missing) gone.add(snapshotRelative(prefix, path));
    // Entries are only ever replaced by a rename: their stamp is their content.
    const entry = store.entryStamp(done.fingerprint);
    if (entry === undefined || !addFile(entry)) return undefined;
    for (const output of done.outputs) {
      outputs.push({ file: resolve(base, output.rel), sha: output.sha });
    }
    if (done.result === undefined) results[task.name] = [];
    else if (!isPlainJson(done.result)) return undefined;
    else {
      chars += JSON.stringify(done.result).length;
      if (chars > MAX_RESULT_CHARS) return undefined;
      results[task.name] = [done.result];
    }
  }
  // Outputs as they are now (put back or just written): hashed again when
  // their stamp is too recent to stand for their content, once it is not.
  let stamped = outputs.map(({ file, sha }) => ({ file: stampOf(file), sha }));
  const latest = Math.max(0, ...stamped.map(({ file }) => file?.mtimeMs ?? 0));
  if (latest + RACY_MS >= Date.now()) {
    waitUntil(latest + RACY_MS + 1);
    stamped = outputs.map(({ file, sha }) => ({ file: stampOf(file), sha }));
  }
  for (const { file, sha } of stamped) {
    if (file === undefined || store.fileSha(file) !== sha) return undefined;
    if (store.trustedSha(file) === undefined || !addFile(file)) return undefined;
  }
  for (const path of gone) if (files.has(resolve(base, path))) return undefined;
  const byDir: Stamps = {};
  for (const file of files.values()) {
    const cut = file.path.lastIndexOf(sep);
    const dir = snapshotRelative(prefix, file.path.slice(0, cut));
    (byDir[file.path.slice(0, cut + 1) === prefix ? "" : dir] ??= []).push(
      file.path.slice(cut + 1),
      file.size,
      file.mtimeMs,
      file.ino,
    );
  }
  const listed: (string | number)[] = [];
  for (const [path, [mtimeMs, ino]] of dirs) {
    listed.push(snapshotRelative(prefix, path), mtimeMs, ino);
  }
  return {
    key,
    code: sha256(text),
    files: byDir,
    dirs: listed,
    gone: [...gone],
    results,
    codeFiles: run.codeFiles.map((path) => snapshotRelative(prefix, path)),
    configs,
  };
}

/** Keeps the {@linkcode MAX_SNAPSHOTS} most recently written snapshots. */
function prune(dir: string): void {
  const names = [...Deno.readDirSync(dir)].filter((entry) => entry.isFile);
  if (names.length <= MAX_SNAPSHOTS) return;
  const written = names.map(({ name }) => {
    try {
      return { name, at: Deno.statSync(resolve(dir, name)).mtime?.getTime() ?? 0 };
    } catch {
      return { name, at: 0 };
    }
  }).sort((a, b) => b.at - a.at);
  for (const { name } of written.slice(MAX_SNAPSHOTS)) {
    try {
      Deno.removeSync(resolve(dir, name));
    } catch {
      // Gone already.
    }
  }
}

function stampOf(path: string): FoundFile | undefined {
  try {
    const info = Deno.statSync(path);
    if (!info.isFile) return undefined;
    return {
      path,
      rel: path,
      size: info.size,
      mtimeMs: info.mtime?.getTime() ?? 0,
      ino: info.ino ?? 0,
    };
  } catch {
    return undefined;
  }
}

/** A few ms at most, at the end of a run that wrote files: no timer to wait on. */
function waitUntil(ms: number): void {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  while (Date.now() < ms) Atomics.wait(cell, 0, 0, Math.max(1, ms - Date.now()));
}
