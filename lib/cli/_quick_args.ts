/**
 * The fast path of `spool`'s command line: the common invocations (`run`,
 * `list`, `graph` with their usual flags) parsed without loading commander,
 * which costs more start-up than everything else `spool list` does. Anything
 * else (help, version, completion, an unknown or malformed flag, a bad
 * value) is left to commander, which gives the help text and the errors.
 *
 * @module
 */

import type { RunFlags } from "./_run_command.ts";

/** What the fast path understood. */
export type QuickCommand =
  | { command: "run"; file: string; patterns: string[]; flags: RunFlags & { envFile?: string } }
  | { command: "list"; file: string }
  | { command: "graph"; file: string; patterns: string[]; format: "dot" | "mermaid" };

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * A flag value that must be a positive integer.
 *
 * @throws {RangeError} Worded for the user, naming the flag and the value.
 */
export function positiveInt(name: string, value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) {
    throw new RangeError(`'${name}' must be a positive integer: current value is "${value}"`);
  }
  return n;
}

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

/**
 * A flag value that must be a size: `500MB`, `2GiB`, or a bare number of bytes.
 *
 * @throws {RangeError} Worded for the user, naming the flag and the value.
 */
export function byteSize(name: string, value: string): number {
  const match = value.trim().match(/^(\d+(?:\.\d+)?)\s*([a-z]*)$/i);
  const unit = SIZE_UNITS[match?.[2].toLowerCase() ?? "?"];
  const bytes = match === null || unit === undefined ? Number.NaN : Number(match[1]) * unit;
  if (!(bytes >= 1)) {
    throw new RangeError(
      `'${name}' must be a size such as 500MB or 2GiB (a bare number is bytes): current value is "${value}"`,
    );
  }
  return Math.floor(bytes);
}

/**
 * A flag value that must be a duration: `500ms`, `30s`, `2m`, `1h`, or a
 * bare number of ms.
 *
 * @throws {RangeError} Worded for the user, naming the flag and the value.
 */
export function duration(name: string, value: string): number {
  const match = value.trim().match(/^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/);
  const ms = match === null ? Number.NaN : Number(match[1]) * UNITS[match[2] ?? "ms"];
  if (!(ms > 0)) {
    throw new RangeError(
      `'${name}' must be a duration above 0 such as 500ms, 30s or 2m (a bare number is ms): current value is "${value}"`,
    );
  }
  return ms;
}

type Setter = (state: State, value: string) => void;
interface State {
  file: string;
  run: RunFlags & { envFile?: string };
  format: "dot" | "mermaid";
  used: Set<"run" | "graph">;
}

/** Flags that take a value, by every spelling, with the command they belong to. */
const VALUED: Record<string, [scope: "all" | "run" | "graph", set: Setter]> = {
  "-f": ["all", (s, v) => s.file = v],
  "--file": ["all", (s, v) => s.file = v],
  "-w": ["run", (s, v) => s.run.workers = positiveInt("--workers", v)],
  "--workers": ["run", (s, v) => s.run.workers = positiveInt("--workers", v)],
  "-c": ["run", (s, v) => s.run.concurrency = positiveInt("--concurrency", v)],
  "--concurrency": ["run", (s, v) => s.run.concurrency = positiveInt("--concurrency", v)],
  "--timeout": ["run", (s, v) => s.run.timeout = duration("--timeout", v)],
  "--isolation": ["run", (s, v) => {
    if (v !== "process" && v !== "worker") throw new RangeError(v);
    s.run.isolation = v;
  }],
  "--max-tasks-per-worker": [
    "run",
    (s, v) => s.run.maxTasksPerWorker = positiveInt("--max-tasks-per-worker", v),
  ],
  "--report-file": ["run", (s, v) => s.run.reportFile = v],
  "--nats": ["run", (s, v) => s.run.nats = v],
  "--nats-creds": ["run", (s, v) => s.run.natsCreds = v],
  "--nats-ca": ["run", (s, v) => s.run.natsCa = v],
  "--worker-timeout": ["run", (s, v) => s.run.workerTimeout = duration("--worker-timeout", v)],
  "--cache-dir": ["run", (s, v) => s.run.cacheDir = v],
  "--cache-max": ["run", (s, v) => s.run.cacheMax = byteSize("--cache-max", v)],
  "--trace": ["run", (s, v) => s.run.trace = v],
  "--report": ["run", (s, v) => {
    if (v !== "json") throw new RangeError(v);
    s.run.report = v;
  }],
  "--format": ["graph", (s, v) => {
    if (v !== "dot" && v !== "mermaid") throw new RangeError(v);
    s.format = v;
  }],
};

/** Boolean flags of `run`, by every spelling. */
const SWITCHES: Record<string, keyof RunFlags> = {
  "-k": "keepGoing",
  "--keep-going": "keepGoing",
  "-q": "quiet",
  "--quiet": "quiet",
  "--dry-run": "dryRun",
  "--show-results": "showResults",
  "--verbose": "verbose",
  "--cache": "cache",
  "--force": "force",
  "--watch": "watch",
};

/** The task file of `--deno-json`: spool's own, which reads the working directory's deno.json. */
export const DENO_JSON_TASK_FILE: string =
  new URL("../commands/_deno_json_file.ts", import.meta.url).href;

/** Every long flag the fast path knows, for the test that holds it to commander's. */
export const QUICK_LONG_FLAGS: readonly string[] = [
  ...Object.keys(VALUED),
  ...Object.keys(SWITCHES),
  "--no-cache",
  "--env-file",
  "--deno-json",
].filter((flag) => flag.startsWith("--"));

/**
 * Parses a common command line, or gives up.
 *
 * @param args spool's arguments, without what follows `--`.
 * @param defaults The defaults of `--workers`, `--concurrency` and `--file`.
 * @returns The command, or `undefined` for commander to handle.
 */
export function quickParse(
  args: readonly string[],
  defaults: { workers: number; concurrency: number; file: string },
): QuickCommand | undefined {
  const state: State = {
    file: defaults.file,
    run: {
      workers: defaults.workers,
      concurrency: defaults.concurrency,
      keepGoing: false,
      isolation: "process",
      quiet: false,
      dryRun: false,
      showResults: false,
      verbose: false,
    },
    format: "dot",
    used: new Set(),
  };
  const positionals: string[] = [];
  let denoJson = false;
  try {
    for (let i = 0; i < args.length; i++) {
      const arg = args[i];
      if (!arg.startsWith("-") || arg === "-") {
        positionals.push(arg);
        continue;
      }
      const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
      const name = eq < 0 ? arg : arg.slice(0, eq);
      if (name === "--env-file") {
        // An optional value: only the "=" spelling is unambiguous here.
        if (eq < 0) return undefined;
        state.run.envFile = arg.slice(eq + 1);
        state.used.add("run");
        continue;
      }
      if (name === "--deno-json") {
        if (eq >= 0) return undefined;
        denoJson = true;
        continue;
      }
      if (name === "--no-cache") {
        if (eq >= 0) return undefined;
        state.run.cache = false;
        state.used.add("run");
        continue;
      }
      const switched = SWITCHES[name];
      if (switched !== undefined) {
        if (eq >= 0) return undefined;
        (state.run[switched] as boolean) = true;
        state.used.add("run");
        continue;
      }
      const valued = VALUED[name];
      if (valued === undefined) return undefined;
      let value: string;
      if (eq >= 0) value = arg.slice(eq + 1);
      else if (i + 1 < args.length) value = args[++i];
      else return undefined;
      const [scope, set] = valued;
      set(state, value);
      if (scope !== "all") state.used.add(scope);
    }
  } catch {
    // A bad value: commander words the error.
    return undefined;
  }
  if (denoJson) state.file = DENO_JSON_TASK_FILE;
  const [first, ...rest] = positionals;
  const command = first === "run" || first === "list" || first === "graph" ? first : undefined;
  if (
    command === undefined &&
    (first === "help" || first === "completions" || first === "complete" || first === "worker" ||
      first === "cache")
  ) {
    return undefined;
  }
  const patterns = command === undefined ? positionals : rest;
  switch (command ?? "run") {
    case "run":
      if (state.used.has("graph")) return undefined;
      return { command: "run", file: state.file, patterns, flags: state.run };
    case "list":
      if (state.used.size > 0 || rest.length > 0) return undefined;
      return { command: "list", file: state.file };
    default:
      if (state.used.has("run")) return undefined;
      return { command: "graph", file: state.file, patterns, format: state.format };
  }
}
