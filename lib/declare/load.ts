/**
 * Loading a task file: find it, import it, and check that its default export
 * is a task set. Every way this can go wrong becomes a `TaskFileError` that
 * names the file and the fix, so that a broken task file never ends spool
 * with a stack trace.
 *
 * @module
 */

import { isTaskSet, type TaskSet } from "./define.ts";
import { displayFile, SpoolError, TaskFileError } from "../errors.ts";

/** The default task file, looked up in the working directory. */
export const DEFAULT_TASK_FILE = "tasks.ts";

/** A loaded task file. */
export interface LoadedTaskFile {
  /** The task set it exports by default. */
  tasks: TaskSet;
  /** Its URL, which workers import. */
  url: string;
  /** The file as people read it. */
  file: string;
}

/** Options for {@linkcode loadTaskFile}. */
export interface LoadOptions {
  /**
   * How long the task file may take to load, in ms, before spool gives up on
   * it (a top-level `await` that never settles). Default: `SPOOL_LOAD_TIMEOUT`
   * (ms) when the process may read it, else 30000. Minimum: above 0.
   */
  timeoutMs?: number;
}

/**
 * Imports a task file and returns its task set.
 *
 * @param path A path (relative to the working directory) or a URL.
 * @param options How long loading may take.
 * @returns The task set, the module URL and a display name.
 * @throws {TaskFileError} When the file is missing, fails to load, throws
 * while loading, does not finish loading in time, or has no task set as its
 * default export.
 */
export async function loadTaskFile(
  path: string,
  options: LoadOptions = {},
): Promise<LoadedTaskFile> {
  const url = await toUrl(path);
  const file = displayFile(url);
  const timeoutMs = options.timeoutMs ?? defaultLoadTimeout();
  let module: Record<string, unknown>;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    // A top-level await that never settles would end the process with
    // Deno's own error (exit 1, no summary); the timer keeps it alive until
    // spool can say which file and why.
    const stalled = new Promise<never>((_, reject) => {
      timer = setTimeout(() =>
        reject(
          new TaskFileError(
            `Cannot load the task file: it did not finish loading within ${
              timeoutMs / 1000
            } s (a top-level await that never settles?): keep its top level free of work, or set SPOOL_LOAD_TIMEOUT (ms)`,
            { file },
          ),
        ), timeoutMs);
    });
    module = await Promise.race([importQuietly(url), stalled]);
  } catch (error) {
    clearTimeout(timer);
    if (error instanceof TaskFileError) {
      throw new TaskFileError(stripFile(error), { file, cause: error });
    }
    if (error instanceof SpoolError) throw error;
    const missing = await whyMissing(url);
    throw new TaskFileError(
      missing ?? `Cannot load the task file: ${describeLoadError(error, url)}`,
      {
        file,
        cause: error,
      },
    );
  }
  clearTimeout(timer);
  if (!("default" in module)) {
    throw new TaskFileError(
      `The task file has no default export: end it with "export default defineTasks({ ... })"`,
      { file },
    );
  }
  if (!isTaskSet(module.default)) {
    throw new TaskFileError(
      `The task file's default export is not a task set (got ${kindOf(module.default)}): ` +
        `export default defineTasks({ ... })`,
      { file },
    );
  }
  return { tasks: module.default, url, file };
}

function defaultLoadTimeout(): number {
  const variable = "SPOOL_LOAD_TIMEOUT";
  if (Deno.permissions.querySync({ name: "env", variable }).state !== "granted") return 30_000;
  const value = Number(Deno.env.get(variable));
  return Number.isFinite(value) && value > 0 ? value : 30_000;
}

const STDOUT_METHODS = ["log", "info", "debug", "dir", "dirxml", "table"] as const;

/**
 * Imports a module with what it prints through `console` to stdout sent to
 * stderr instead, for as long as the import takes: stdout may carry a JSON
 * report, a plan or a task list that a task file's top-level
 * `console.log("loading")` must not break.
 */
async function importQuietly(url: string): Promise<Record<string, unknown>> {
  const saved = STDOUT_METHODS.map((name) => [name, console[name]] as const);
  const toStderr = console.error;
  for (const name of STDOUT_METHODS) console[name] = toStderr;
  try {
    return await import(url);
  } finally {
    for (const [name, method] of saved) Object.assign(console, { [name]: method });
  }
}

/**
 * Why a task file that failed to import is not there, if that is the cause.
 * Checked only after a failure: a task file running itself may not have read
 * access to its own path, and needs none to be imported again.
 */
async function whyMissing(url: string): Promise<string | undefined> {
  if (!url.startsWith("file:")) return undefined;
  try {
    const stat = await Deno.stat(new URL(url));
    return stat.isFile ? undefined : "Cannot load the task file: it is not a file";
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return "Cannot find the task file: create it, or pass another with --file <path>";
    }
    return undefined;
  }
}

async function toUrl(path: string): Promise<string> {
  if (/^(file|https?|data):/.test(path)) return path;
  // Loaded here, not at the top: every worker imports this module through
  // mod.ts, and node: modules add to each worker's start-up.
  const [{ isAbsolute, resolve }, { pathToFileURL }] = await Promise.all([
    import("node:path"),
    import("node:url"),
  ]);
  return pathToFileURL(isAbsolute(path) ? path : resolve(Deno.cwd(), path)).href;
}

/** The message of a TaskFileError raised inside the task file, without its own file prefix. */
function stripFile(error: TaskFileError): string {
  if (error.file === undefined) return error.message;
  const prefix = `${displayFile(error.file)}: `;
  return error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message;
}

/**
 * Why an import failed, in one line. Deno reports a file that does not parse
 * (or imports a missing module) as a TypeError whose message carries a code
 * frame and an "at file:line:col" line that reads like a stack trace: the
 * frame is dropped (it would echo raw bytes from the file) and the place
 * becomes "(line 2, column 60)".
 */
function describeLoadError(error: unknown, url: string): string {
  let text = error instanceof Error
    ? `${error.name === "Error" ? "" : `${error.name}: `}${error.message}`
    : String(error);
  // deno-lint-ignore no-control-regex
  text = text.replace(/\x1b\[[0-9;]*m/g, "").replace(/^TypeError: (SyntaxError: )/, "$1");
  let where = "";
  const atLine = /\n\s+at (\S+?):(\d+):(\d+)\s*$/;
  for (let at = text.match(atLine); at !== null; at = text.match(atLine)) {
    text = text.slice(0, at.index);
    const place = `line ${at[2]}, column ${at[3]}`;
    // The innermost place, listed first, is the one that counts.
    where = at[1] === url ? ` (${place})` : ` (in ${displayFile(at[1])}, ${place})`;
  }
  const lines = text.split(/\n\s*\n/)[0].split("\n").filter((line) => !/^\s*\d*\s*\|/.test(line));
  const message = lines.join(" ").trim().replace(/\.$/, "")
    .replace(/file:\/\/[^\s"')]+/g, (found) => displayFile(found));
  return message + where;
}

function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  if (value instanceof Promise) return "a promise";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "function") return "a function";
  if (typeof value === "object") return "an object";
  return `a ${typeof value}`;
}
