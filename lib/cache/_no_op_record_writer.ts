/**
 * Writes the record the `spool` command's no-op fast path reads (see
 * `_no_op_record.ts`), beside a run's no-op snapshot, when the run came
 * from the command line and the task file's declarations are a function of
 * its code alone. That last condition is checked once per version of the
 * code: the task file is imported again in a process that may read only
 * its code files (`_pure_import_main.ts`), and the tasks it declares there
 * must be the ones this process declared. The answer is kept under the
 * cache folder, keyed by the code files' and config files' stamps, so that
 * a run after an input changed does not ask again.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import type { Task } from "../declare/define.ts";
import { denoExecutable } from "../pool/_deno_executable.ts";
import { resolutionFlags } from "../pool/_endpoint.ts";
import { sha256 } from "./_hash.ts";
import { codeText, fileName, type NoOpSnapshot, RACY_MS } from "./_no_op.ts";
import {
  compactSnapshot,
  environmentText,
  type NoOpRecord,
  type RecordedTask,
  recordIdentity,
  recordPath,
  UNDIGESTED,
} from "./_no_op_record.ts";
import { readSealedSync, writeSealedJsonSync } from "./_sealed_file.ts";
import { cachedEndOrder } from "../report/_all_cached.ts";
import { SPOOL_VERSION } from "./_version.ts";

const SEP = Deno.build.os === "windows" ? "\\" : "/";
const PURE_MAIN = new URL("./_pure_import_main.ts", import.meta.url);
/** spool's own code, which the checking process reads to run. */
const SPOOL_LIB = new URL("..", import.meta.url);

/** How many records (and answers of the check) a cache folder keeps. */
export const MAX_RECORDS = 16;

/** What a run from the command line knows at its end, for its record. */
export interface NoOpRecordRun {
  /** The task module's `file:` URL. */
  module: string;
  /** The cache folder (`cacheDirOf`). */
  cacheDir: string;
  /** The targets named on the command line, patterns expanded. */
  targets: readonly string[];
  /** The task arguments. */
  args: readonly string[];
  /** The planned tasks, in order. */
  planned: readonly Task[];
  /** The run's snapshot, as written. */
  snapshot: NoOpSnapshot;
  /** The task file and the local code files it imports, absolute. */
  codeFiles: readonly string[];
}

/**
 * Writes (or removes) the record of a run. Never throws: without a record
 * the command takes its normal path.
 *
 * @param run What the run saw.
 */
export function writeNoOpRecord(run: NoOpRecordRun): void {
  const key = recordIdentity(run.module, run.cacheDir, run.targets, run.args);
  const path = recordPath(run.cacheDir, key);
  try {
    const built = build(run, key);
    if (built === undefined) Deno.removeSync(path);
    else {
      const dir = path.slice(0, path.lastIndexOf(SEP));
      Deno.mkdirSync(dir, { recursive: true });
      writeSealedJsonSync(path, built.record, built.block);
      prune(dir);
    }
  } catch {
    // No record: the next run takes the normal path.
  }
}

function build(
  run: NoOpRecordRun,
  key: string,
): { record: NoOpRecord; block: Uint8Array } | undefined {
  if (Deno.permissions.querySync({ name: "env" }).state !== "granted") return undefined;
  // A service's run has a life of its own; a task the snapshot lacks cannot
  // be answered; one that may read a variable the digest leaves out could
  // have a new result.
  const readsUndigested = (task: Task) => {
    const env = task.permissions.env;
    return env === true || [...(task.env ?? []), ...(Array.isArray(env) ? env : [])]
      .some((name) => UNDIGESTED.includes(name));
  };
  if (
    run.planned.some((task) =>
      task.service === true || !(task.name in run.snapshot.results) || readsUndigested(task)
    )
  ) return undefined;
  const configs = run.snapshot.configs;
  if (configs === undefined) return undefined;
  // A code file changed since this process read it may not be what it ran.
  const settled = performance.timeOrigin - RACY_MS;
  const code: (string | number)[] = [];
  for (const path of run.codeFiles) {
    const info = Deno.statSync(path);
    const mtime = info.mtime?.getTime() ?? 0;
    if (mtime >= settled) return undefined;
    code.push(path, info.size, mtime, info.ino ?? 0);
  }
  const declared = codeText(run.planned, false);
  if (declared === undefined) return undefined;
  const check = JSON.stringify([SPOOL_VERSION, run.module, Deno.cwd(), run.targets, code, configs]);
  if (!declaredByCodeAlone(run, check, sha256(declared))) return undefined;
  const compact = compactSnapshot(run.snapshot, run.module);
  if (compact === undefined) return undefined;
  // A plan holds every task's dependencies: an index for each.
  const index = new Map(run.planned.map((task, i) => [task.name, i]));
  const tasks: RecordedTask[] = run.planned.map((task) => [
    task.name,
    task.kind,
    task.trusted ? 1 : 0,
    task.deps.map((name) => index.get(name) ?? -1),
  ]);
  if (tasks.some(([, , , deps]) => deps.includes(-1))) return undefined;
  const record: NoOpRecord = {
    key,
    env: sha256(environmentText()),
    tasks,
    order: cachedEndOrder(tasks),
    ...compact.fields,
  };
  return { record, block: compact.block };
}

/**
 * Whether the task file declares the planned tasks as `digest` says when
 * imported with nothing but its code: asked once per `check` (the code and
 * config stamps), the answer kept.
 */
function declaredByCodeAlone(run: NoOpRecordRun, check: string, digest: string): boolean {
  const path = `${run.cacheDir}${SEP}no-op${SEP}pure${SEP}${fileName(check)}`;
  const known = readSealedSync(path) as { check?: string; digest?: string } | null | undefined;
  if (known?.check === check) return known.digest === digest;
  const sandboxed = pureDigest(run);
  const dir = path.slice(0, path.lastIndexOf(SEP));
  Deno.mkdirSync(dir, { recursive: true });
  writeSealedJsonSync(path, { check, digest: sandboxed ?? null });
  prune(dir);
  return sandboxed === digest;
}

/** The digest of the declarations when imported with nothing but the code, or `undefined` when that fails. */
function pureDigest(run: NoOpRecordRun): string | undefined {
  const deno = denoExecutable() ?? Deno.execPath();
  if (Deno.permissions.querySync({ name: "run", command: deno }).state !== "granted") {
    return undefined;
  }
  if (!PURE_MAIN.href.startsWith("file:")) return undefined;
  const reads = [...new Set([fileURLToPath(SPOOL_LIB), ...run.codeFiles])];
  // A comma would split a path in the flag.
  if (reads.some((path) => path.includes(","))) return undefined;
  const { code, stdout } = new Deno.Command(deno, {
    args: [
      "run",
      "--no-prompt",
      "--cached-only",
      ...resolutionFlags(),
      `--allow-read=${reads.join(",")}`,
      PURE_MAIN.href,
      run.module,
      JSON.stringify(run.targets),
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).outputSync();
  const text = new TextDecoder().decode(stdout).trim();
  return code === 0 && /^[0-9a-f]{64}$/.test(text) ? text : undefined;
}

/** Keeps the {@linkcode MAX_RECORDS} most recently written files of a folder. */
function prune(dir: string): void {
  const names = [...Deno.readDirSync(dir)].filter((entry) => entry.isFile);
  if (names.length <= MAX_RECORDS) return;
  const written = names.map(({ name }) => {
    try {
      return { name, at: Deno.statSync(`${dir}${SEP}${name}`).mtime?.getTime() ?? 0 };
    } catch {
      return { name, at: 0 };
    }
  }).sort((a, b) => b.at - a.at);
  for (const { name } of written.slice(MAX_RECORDS)) {
    try {
      Deno.removeSync(`${dir}${SEP}${name}`);
    } catch {
      // Gone already.
    }
  }
}
