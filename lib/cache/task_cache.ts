/**
 * A run's cache: for each task, whether it can be cached soundly, its
 * fingerprint (code, spool's version, arguments, env, input files,
 * dependencies' results), a hit (its result, its outputs put back) or the
 * first reason it runs, and storing what it produced.
 *
 * @module
 */

import { dirname, isAbsolute, relative, resolve } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";
import type { Task } from "../declare/define.ts";
import { SPOOL_VERSION } from "./_version.ts";
import { codePaths } from "../pool/_code_paths.ts";
import { findFiles, type FoundFiles, globToRegExp } from "./_glob.ts";
import { sha256, valueHash } from "./_hash.ts";
import {
  CacheStore,
  type FingerprintParts,
  type OutputFile,
  restoreFile,
  type TaskRecord,
} from "./cache_store.ts";
import { writeNoOpSnapshot } from "./_no_op_writer.ts";
import { cacheDirOf, configStamps } from "./_no_op.ts";

/** Options for the cache of a run. */
export interface CacheOptions {
  /** The cache folder. Default: `.spool/cache` beside the task file. */
  dir?: string;
  /** Its bound in bytes; least recently used entries are evicted past it. Default 1 GiB. */
  maxBytes?: number;
  /** Run every task, and store what it produced (`--force`). Default `false`. */
  force?: boolean;
  /** Where warnings go (a cache that cannot be written); default `console.error`. */
  onWarning?: (message: string) => void;
  /** Decide only: put back no output and write nothing (`--dry-run`). Default `false`. */
  readOnly?: boolean;
  /**
   * The targets named on the `spool` command line: the run also writes the
   * record of the command's no-op fast path (`_no_op_record.ts`). Default:
   * none, no record.
   */
  commandTargets?: readonly string[];
}

/** What the cache decided for a task about to start. */
export type CacheDecision =
  | { hit: true; why: "cached"; result: unknown }
  | { hit: false; why: string; record?: TaskRecord };

/** The folder `.spool/cache` beside a task file. */
export function defaultCacheDir(module: string): string {
  return cacheDirOf(module, undefined);
}

/** A run's view of the cache. */
export class TaskCache {
  /** The store. */
  readonly store: CacheStore;
  #module: string;
  #base: string;
  #args: string;
  #force: boolean;
  #readOnly: boolean;
  #helpers: string;
  #static = new Map<string, Omit<FingerprintParts, "deps"> | string>();
  #decided = new Map<string, { deps: string; decision: CacheDecision }>();
  #rawArgs: readonly string[];
  #dirOption: string | undefined;
  #codeFiles: readonly string[];
  #commandTargets: readonly string[] | undefined;
  /** Each task's input listing, as its fingerprint saw it. */
  #inputs = new Map<string, FoundFiles>();
  /** Each task that came from the cache or was stored: its result, entry and outputs. */
  #done = new Map<
    string,
    { result: unknown; fingerprint: string; outputs: readonly OutputFile[] }
  >();

  private constructor(
    store: CacheStore,
    module: string,
    args: readonly string[],
    force: boolean,
    helpers: { hash: string; files: readonly string[] },
    readOnly: boolean,
    dirOption: string | undefined,
    commandTargets: readonly string[] | undefined,
  ) {
    this.#commandTargets = commandTargets;
    this.#readOnly = readOnly;
    this.#rawArgs = args;
    this.#dirOption = dirOption;
    this.#codeFiles = helpers.files;
    this.store = store;
    this.#module = module;
    this.#base = dirname(fromFileUrl(module));
    this.#args = valueHash([...args]);
    this.#force = force;
    this.#helpers = helpers.hash;
  }

  /**
   * Opens the cache for a run of a task module: one index read, and the
   * module's imports (their code is part of every task's) from the index
   * unless a file of them changed.
   *
   * @param module The task module's `file:` URL.
   * @param args The run's arguments.
   * @param options Folder, bound, `force`, warnings.
   * @returns The run's cache.
   */
  static async open(
    module: string,
    args: readonly string[],
    options: CacheOptions = {},
  ): Promise<TaskCache> {
    const dir = resolve(options.dir ?? defaultCacheDir(module));
    const store = new CacheStore(dir, { maxBytes: options.maxBytes, onWarning: options.onWarning });
    const helpers = await helpersHash(store, module);
    return new TaskCache(
      store,
      module,
      args,
      options.force ?? false,
      helpers,
      options.readOnly ?? false,
      options.dir,
      options.commandTargets,
    );
  }

  /**
   * Decides whether a task runs: a hit restores its outputs and gives its
   * result; a miss says why.
   *
   * @param task The task.
   * @param deps Its dependencies' results.
   * @returns The decision.
   */
  check(task: Task, deps: Record<string, unknown>): CacheDecision {
    const depHashes: Record<string, string> = {};
    for (const dep of task.deps) depHashes[dep] = valueHash(deps[dep]);
    const depsKey = JSON.stringify(depHashes);
    const known = this.#decided.get(task.name);
    if (known !== undefined && known.deps === depsKey) return known.decision;
    let decision: CacheDecision;
    try {
      decision = this.#decide(task, depHashes);
    } catch (error) {
      // An input spool's process may not read: the task runs, uncached.
      decision = { hit: false, why: `not cached: ${(error as Error).message}` };
    }
    this.#decided.set(task.name, { deps: depsKey, decision });
    return decision;
  }

  /**
   * Stores what a task produced for the fingerprint it ran with.
   *
   * @param task The task.
   * @param decision What {@linkcode check} decided.
   * @param result Its result.
   */
  save(task: Task, decision: CacheDecision, result: unknown): void {
    if (decision.hit || decision.record === undefined || this.#readOnly) return;
    try {
      const outputs = this.#files(task, "outputs").files;
      const stored = this.store.put(this.#key(task), decision.record, result, outputs);
      if (stored !== undefined) {
        const { fingerprint } = decision.record;
        this.#done.set(task.name, { result, fingerprint, outputs: stored });
      }
    } catch (error) {
      this.store.warn(`Cannot store task "${task.name}" in the cache: ${(error as Error).message}`);
    }
  }

  /**
   * Writes the index; call once the run is over. Given the run's planned
   * tasks, also writes the snapshot a no-op run of them reads (see
   * `_no_op.ts`) when every one came from the cache or was stored.
   *
   * @param planned The run's planned tasks, in order.
   */
  flush(planned?: readonly Task[]): void {
    if (this.#readOnly) return;
    if (planned !== undefined) {
      writeNoOpSnapshot(this.store, {
        module: this.#module,
        dirOption: this.#dirOption,
        args: this.#rawArgs,
        planned,
        codeFiles: [fromFileUrl(this.#module), ...this.#codeFiles],
        inputs: this.#inputs,
        done: this.#done,
        targets: this.#commandTargets,
      });
    }
    this.store.flush();
  }

  #decide(task: Task, deps: Record<string, string>): CacheDecision {
    this.#done.delete(task.name);
    const fixed = this.#staticParts(task);
    if (typeof fixed === "string") return { hit: false, why: fixed };
    const parts: FingerprintParts = { ...fixed, deps };
    const fingerprint = sha256(JSON.stringify(parts));
    const record = { fingerprint, parts };
    if (this.#force) return { hit: false, why: "--force", record };
    const previous = this.store.record(this.#key(task));
    const entry = this.store.entry(fingerprint);
    if (entry === null) return { hit: false, why: "cache entry corrupt", record };
    if (entry !== undefined) {
      const restored = this.#restore(task, entry.outputs);
      if (restored !== undefined) return { hit: false, why: restored, record };
      if (previous?.fingerprint !== fingerprint && !this.#readOnly) {
        this.store.setRecord(this.#key(task), record);
      }
      this.#done.set(task.name, { result: entry.result, fingerprint, outputs: entry.outputs });
      return { hit: true, why: "cached", result: entry.result };
    }
    return { hit: false, why: whyChanged(previous?.parts, parts, task), record };
  }

  /** Puts back outputs that are missing or changed; a reason when it cannot. */
  #restore(
    task: Task,
    outputs: readonly { rel: string; sha: string; mode: number | null }[],
  ): string | undefined {
    // An entry names its files; whoever may write the cache folder could name
    // any, and the runner writes with its own permissions, not the task's:
    // an entry naming a path outside the task's declared outputs is not used.
    if (!outputs.every((output) => this.#isOutput(task, resolve(this.#base, output.rel)))) {
      return "cache entry corrupt";
    }
    for (const output of outputs) {
      const path = resolve(this.#base, output.rel);
      let current: string | undefined;
      try {
        const info = Deno.statSync(path);
        current = this.store.fileSha({
          path,
          rel: output.rel,
          size: info.size,
          mtimeMs: info.mtime?.getTime() ?? 0,
          ino: info.ino ?? 0,
        });
      } catch {
        current = undefined;
      }
      if (current === output.sha) continue;
      const data = this.store.blob(output.sha);
      if (data === undefined) return `output ${output.rel} is gone from the cache`;
      if (this.#readOnly) continue;
      try {
        restoreFile(path, data, output.mode);
      } catch (error) {
        return `output ${output.rel} cannot be restored: ${(error as Error).message}`;
      }
    }
    return undefined;
  }

  /** Code, version, args, env and inputs: what does not change during a run. */
  #staticParts(task: Task): Omit<FingerprintParts, "deps"> | string {
    let parts = this.#static.get(task.name);
    if (parts !== undefined) return parts;
    const reason = uncacheableReason(task);
    if (reason !== undefined) parts = `not cached: ${reason}`;
    else {
      const env: Record<string, string> = {};
      for (const name of envNames(task)) {
        const value = readEnv(name);
        env[name] = value === undefined ? "-" : sha256(value);
      }
      const inputs: Record<string, string> = {};
      const found = this.#files(task, "inputs");
      this.#inputs.set(task.name, found);
      const { files, missing } = found;
      for (const file of files) inputs[file.rel] = this.store.fileSha(file);
      for (const path of missing) inputs[path] = "-";
      parts = {
        version: SPOOL_VERSION,
        code: sha256(`${this.#helpers}\n${bodyCode(task)}`),
        args: this.#args,
        env,
        inputs,
      };
    }
    this.#static.set(task.name, parts);
    return parts;
  }

  /** A task's input or output files; inputs leave out its outputs and the cache. */
  #files(task: Task, which: "inputs" | "outputs"): FoundFiles {
    const declared = task[which];
    const scope = task.permissions[which === "inputs" ? "read" : "write"];
    // Declared paths are relative to the task file; permission scopes are
    // relative to the working directory, as Deno reads them.
    const patterns = declared !== undefined
      ? declared.map((path) => isAbsolute(path) ? path : resolve(this.#base, path))
      : Array.isArray(scope)
      ? scope.map((path) => resolve(path))
      : [];
    const cacheDir = this.store.dir;
    const outputs = which === "inputs" ? this.#outputRoots(task) : [];
    const exclude = (path: string) =>
      within(path, cacheDir) || outputs.some((root) => within(path, root));
    return findFiles(this.#base, patterns, exclude);
  }

  /** Whether a path is one that the task's declared outputs name (not in the cache folder). */
  #isOutput(task: Task, path: string): boolean {
    if (within(path, this.store.dir)) return false;
    const scope = task.outputs ??
      (Array.isArray(task.permissions.write) ? task.permissions.write : []);
    return scope.some((pattern) => {
      const absolute = task.outputs !== undefined ? resolve(this.#base, pattern) : resolve(pattern);
      return /[*?[{]/.test(pattern)
        ? globToRegExp(absolute.replaceAll("\\", "/")).test(path.replaceAll("\\", "/"))
        : within(path, absolute);
    });
  }

  #outputRoots(task: Task): string[] {
    const scope = task.outputs ??
      (Array.isArray(task.permissions.write) ? task.permissions.write : []);
    return scope.filter((path) => !/[*?[{]/.test(path)).map((path) =>
      task.outputs !== undefined ? resolve(this.#base, path) : resolve(path)
    );
  }

  #keyPrefix: string | undefined;

  #key(task: Task): string {
    this.#keyPrefix ??= `${relative(dirname(this.store.dir), fromFileUrl(this.#module))}#`;
    return this.#keyPrefix + task.name;
  }
}

function within(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith("/") ? root : `${root}/`);
}

/**
 * Why a task cannot be cached soundly, or `undefined` when it can: it
 * declares its inputs, or it is pure (no net, run, ffi or sys access, no
 * env or file access beyond what it names). `cache` overrides both ways.
 */
export function uncacheableReason(task: Task): string | undefined {
  if (task.cache === false) return "it sets cache: false";
  if (task.cache === true || task.inputs !== undefined) return undefined;
  const p = task.permissions;
  const fix = "declare its inputs, or set cache: true";
  if (task.trusted) return `it is trusted, so it holds every permission spool has: ${fix}`;
  for (const name of ["net", "run", "ffi", "sys"] as const) {
    if (p[name] !== undefined && p[name] !== false) return `it has ${name} access: ${fix}`;
  }
  if (p.env === true) return `it may read any env variable: ${fix}`;
  if (p.read === true) return `it may read any file: ${fix}`;
  if (p.write === true && task.outputs === undefined) {
    return "it may write any file: declare its outputs, or set cache: true";
  }
  return undefined;
}

function envNames(task: Task): readonly string[] {
  if (task.env !== undefined) return task.env;
  return Array.isArray(task.permissions.env) ? task.permissions.env : [];
}

function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/** A body's own code and its declaration: what editing the task changes. */
function bodyCode(task: Task): string {
  const { kind, permissions, inputs, outputs, env, trusted } = task;
  const declaration = JSON.stringify({ kind, permissions, inputs, outputs, env, trusted });
  const shard = task.shard;
  if (shard === undefined) return `${declaration}\n${String(task.run)}`;
  const items = typeof shard.items === "function" ? String(shard.items) : valueHash(shard.items);
  return [
    declaration,
    items,
    String(shard.map),
    String(shard.reduce),
    valueHash(shard.initial),
    String(shard.hasInitial),
  ].join("\n");
}

/**
 * The code of the modules a task file imports (its local helpers), hashed:
 * part of every task's code, since a body may call any of them. From the
 * index while none of those files (nor the task file, which says what is
 * imported) changed; else from `deno info`.
 */
async function helpersHash(
  store: CacheStore,
  module: string,
): Promise<{ hash: string; files: readonly string[] }> {
  const own = fromFileUrl(module);
  const known = store.code(module);
  // An import map, a lock file or a package.json can change which files the module imports.
  const configs = JSON.stringify(configStamps(module));
  if (known !== undefined && known.configs === configs && unchanged(store, [own, ...known.files])) {
    return known;
  }
  const workerSide = new URL("../pool/worker_main.ts", import.meta.url).href;
  const files = (await codePaths(module, workerSide)).paths.filter((path) => path !== own).filter(
    (path) => {
      try {
        return Deno.statSync(path).isFile;
      } catch {
        return false;
      }
    },
  ).sort();
  const shas = files.map((path) => `${path} ${shaOf(store, path)}`);
  unchanged(store, [own]);
  const hash = sha256(shas.join("\n"));
  store.setCode(module, { files, hash, configs });
  return { hash, files };
}

function shaOf(store: CacheStore, path: string): string {
  try {
    const info = Deno.statSync(path);
    return store.fileSha({
      path,
      rel: path,
      size: info.size,
      mtimeMs: info.mtime?.getTime() ?? 0,
      ino: info.ino ?? 0,
    });
  } catch {
    return "-";
  }
}

/** Whether files still have the content the index last saw (it records what it sees). */
function unchanged(store: CacheStore, files: string[]): boolean {
  let same = true;
  for (const path of files) {
    const before = store.knownSha(path);
    if (shaOf(store, path) !== before) same = false;
  }
  return same;
}

/** The first reason a task runs, from what changed since its last fingerprint. */
export function whyChanged(
  previous: FingerprintParts | undefined,
  next: FingerprintParts,
  task: Task,
): string {
  if (previous === undefined) return "no previous run";
  if (previous.code !== next.code) return "task code changed";
  for (const [path, sha] of Object.entries(next.inputs)) {
    const before = previous.inputs[path];
    if (before === undefined) return `input ${path} added`;
    // The index keeps a prefix of each digest (see cache_store.ts).
    if (before !== sha.slice(0, before.length)) {
      return sha === "-" ? `input ${path} removed` : `input ${path} changed`;
    }
  }
  for (const path of Object.keys(previous.inputs)) {
    if (!(path in next.inputs)) return `input ${path} removed`;
  }
  for (const dep of task.deps) {
    if (previous.deps[dep] !== next.deps[dep]) return `dependency ${dep} re-ran with a new result`;
  }
  for (const [name, value] of Object.entries(next.env)) {
    if (previous.env[name] !== value) return `env ${name} changed`;
  }
  if (previous.args !== next.args) return "arguments changed";
  if (previous.version !== next.version) return "spool version changed";
  return "no cache entry for this fingerprint (evicted or cleaned)";
}
