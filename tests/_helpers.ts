/**
 * Shared test helpers: the repository root, fixture paths, a disposable temp
 * directory, a capturing text sink, and a runner for spool (or any script) as
 * a real subprocess.
 *
 * @module
 */

import { fileURLToPath as fromFileUrl } from "node:url";

/** The repository root, as a path; subprocesses run here so deno.json applies. */
export const ROOT: string = fromFileUrl(new URL("../", import.meta.url)).replace(/\/$/, "");

/** The `spool` entry point. */
export const CLI: string = `${ROOT}/cli.ts`;

/**
 * The path of a file under `tests/fixtures/`.
 *
 * @param name The fixture's file name.
 * @returns Its absolute path.
 */
export function fixture(name: string): string {
  return fromFileUrl(new URL(`./fixtures/${name}`, import.meta.url));
}

/**
 * The URL of a file under `tests/fixtures/`.
 *
 * @param name The fixture's file name.
 * @returns Its `file:` URL.
 */
export function fixtureUrl(name: string): string {
  return new URL(`./fixtures/${name}`, import.meta.url).href;
}

/** A temporary directory removed on dispose. */
export interface TempDir extends AsyncDisposable {
  /** Its absolute path. */
  readonly path: string;
  /**
   * Writes a file into the directory.
   *
   * @param name File name inside the directory.
   * @param text Its contents.
   * @returns The file's absolute path.
   */
  write(name: string, text: string): Promise<string>;
}

/**
 * Creates a temporary directory, for `await using`.
 *
 * @returns The directory; disposing removes it.
 */
export async function tempDir(): Promise<TempDir> {
  const path = await Deno.makeTempDir({ prefix: "spool-test-" });
  return {
    path,
    async write(name, text) {
      const file = `${path}/${name}`;
      await Deno.writeTextFile(file, text);
      return file;
    },
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true });
    },
  };
}

/** A text sink that keeps what is written. */
export interface CaptureSink {
  /** Writes text. */
  write(text: string): void;
  /** Everything written so far. */
  readonly text: string;
}

/**
 * Creates a sink for `runCli`'s stdout or stderr.
 *
 * @returns The sink.
 */
export function captureSink(): CaptureSink {
  let text = "";
  return {
    write(chunk) {
      text += chunk;
    },
    get text() {
      return text;
    },
  };
}

/** What a finished subprocess left behind. */
export interface Finished {
  /** Its exit code. */
  code: number;
  /** Its stdout, decoded. */
  stdout: string;
  /** Its stderr, decoded. */
  stderr: string;
}

/** Options for {@linkcode deno} and {@linkcode spool}. */
export interface SubprocessOptions {
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Working directory; the repository root by default. */
  cwd?: string;
}

/**
 * Runs `deno <args>` to completion, with stdin closed.
 *
 * @param args The arguments after `deno`.
 * @param options Environment and working directory.
 * @returns Exit code and output.
 */
export async function deno(args: string[], options: SubprocessOptions = {}): Promise<Finished> {
  const output = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: options.cwd ?? ROOT,
    env: { NO_COLOR: "1", ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** spool's commands other than `run`, and the flags that print and exit. */
const NOT_RUN = new Set(["list", "graph", "cache", "worker", "completions", "complete", "help"]);
const INFO_FLAGS = new Set(["--help", "-h", "--version", "-V"]);
/** Flags whose value is the next argument (it is not the command). */
const VALUED = new Set([
  "-f",
  "--file",
  "-w",
  "--workers",
  "-c",
  "--concurrency",
  "--isolation",
  "--max-tasks-per-worker",
  "--timeout",
  "--report",
  "--report-file",
  "--trace",
  "--format",
  "--nats",
  "--nats-creds",
  "--nats-ca",
  "--worker-timeout",
]);
const CACHE_FLAGS = /^--(?:no-)?cache(?:-dir|-max)?(?:=|$)|^--(?:force|watch)$/;

/**
 * A spool command line with `--no-cache` added when it runs tasks and names
 * no cache flag. Fixtures are shared by many tests, which run them again and
 * again: with the cache on (spool's default) later runs would be `cached`,
 * and a test run would leave `.spool/` folders in the repository. Tests of
 * the cache name a cache flag, or run in a temporary directory.
 *
 * @param args spool's arguments.
 * @returns The same arguments, `--no-cache` added where it applies.
 */
export function uncached(args: readonly string[]): string[] {
  const end = args.indexOf("--");
  const own = end < 0 ? args : args.slice(0, end);
  const command = own.find((arg, i) => !arg.startsWith("-") && !VALUED.has(own[i - 1]));
  if (
    (command !== undefined && NOT_RUN.has(command)) ||
    own.some((arg) => INFO_FLAGS.has(arg) || CACHE_FLAGS.test(arg))
  ) return [...args];
  return end < 0 ? [...args, "--no-cache"] : [...own, "--no-cache", ...args.slice(end)];
}

/**
 * Runs `deno run --no-prompt <permissions> cli.ts <args>` to completion,
 * `--no-cache` added as {@linkcode uncached} says.
 *
 * @param args The spool arguments.
 * @param permissions Permission flags for the process; `-A` by default.
 * @param options Environment and working directory.
 * @returns Exit code and output.
 */
export function spool(
  args: string[],
  permissions: string[] = ["-A"],
  options: SubprocessOptions = {},
): Promise<Finished> {
  return deno(["run", "--no-prompt", ...permissions, CLI, ...uncached(args)], options);
}

/** A spool process running in the background, its stderr collected as it comes. */
export interface Background extends AsyncDisposable {
  readonly pid: number;
  /** Everything written to stderr so far. */
  readonly stderr: string;
  /** Resolves when the process has exited. */
  readonly status: Promise<Deno.CommandStatus>;
  /**
   * Waits until stderr matches `pattern`.
   *
   * @throws {Error} With what it wrote, when the process exits first.
   */
  until(pattern: RegExp): Promise<void>;
  /** Sends the process a signal; nothing when it has exited. */
  kill(signal: Deno.Signal): void;
}

/** Options for {@linkcode background}. */
export interface BackgroundOptions {
  /** Variables added to `NO_COLOR=1`. */
  env?: Record<string, string>;
  /** The module to run; `cli.ts` by default. */
  script?: string;
  /** How disposing stops the process; `SIGTERM` by default. */
  stopSignal?: Deno.Signal;
  /** Where it runs; the repository's root by default. */
  cwd?: string;
}

/**
 * Starts `deno run --no-prompt -A <script> <args>` (`--no-cache` added as
 * {@linkcode uncached} says) in the repository's root, in the background.
 *
 * @param args The spool arguments.
 * @param options Environment, script and how disposing stops it.
 * @returns The running process; disposing stops it and waits for its exit.
 */
export function background(args: string[], options: BackgroundOptions = {}): Background {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", "-A", options.script ?? CLI, ...uncached(args)],
    cwd: options.cwd ?? ROOT,
    env: { NO_COLOR: "1", ...options.env },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let stderr = "";
  // Waiters on stderr, woken by each chunk and by the end.
  let wake = () => {};
  const reading = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({
      write: (chunk) => {
        stderr += chunk;
        wake();
      },
    }),
  );
  let exited = false;
  const status = child.status.then(async (status) => {
    await reading;
    exited = true;
    wake();
    return status;
  });
  const kill = (signal: Deno.Signal) => {
    try {
      child.kill(signal);
    } catch {
      // It has exited.
    }
  };
  return {
    pid: child.pid,
    get stderr() {
      return stderr;
    },
    status,
    async until(pattern) {
      while (!pattern.test(stderr)) {
        if (exited) throw new Error(`spool ended before ${pattern}: ${stderr}`);
        await new Promise<void>((resolve) => wake = resolve);
      }
    },
    kill,
    async [Symbol.asyncDispose]() {
      kill(options.stopSignal ?? "SIGTERM");
      await status;
    },
  };
}

/**
 * The last non-empty line of some output.
 *
 * @param text The output.
 * @returns Its last non-empty line.
 */
export function lastLine(text: string): string {
  return text.trimEnd().split("\n").at(-1) ?? "";
}

/** The summary line `summaryLine()` prints, with any figures. */
export const SUMMARY: RegExp =
  /^\d+ tasks?: \d+ ok.* in [\d.]+ m?s wall, [\d.]+ m?s of task time, (?:speedup [\d.]+x|no speedup figure)(?: \(idle \d+% of the wall: [\w -]+\))?$/;
