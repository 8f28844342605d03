/**
 * One command run: a shell process (`_shell_main.ts`) started in a process
 * group of its own with exactly the command's permissions, its output read
 * line by line as it comes, and its whole process tree ended when the task's
 * signal aborts (SIGTERM to the group, then SIGKILL after a grace period) or
 * when the command exits, so that nothing it started outlives it.
 *
 * @module
 */

import { flagFor, PERMISSION_NAMES, type Permissions } from "../declare/permissions.ts";
import { denoExecutable } from "../pool/_deno_executable.ts";

/** What the shell process reads from its argument. */
export interface ShellConfig {
  /** The command text, parsed by dax. */
  command: string;
  /** The working directory. */
  cwd: string;
  /** The only environment variables the command may see; all when absent. */
  env?: string[];
}

/** How a command ran. */
export interface ShellOutcome {
  /** The exit code; 128 + the signal's number when a signal ended it, 125 when the shell could not run it. */
  code: number;
  /** Everything written to stdout, when kept. */
  stdout: string;
  /** The last lines written to stderr. */
  stderrTail: string[];
  /** The shell's own complaint (a syntax error), when it had one. */
  shellError?: string;
}

/** Options of {@linkcode runShell}. */
export interface ShellOptions {
  /** The working directory. */
  cwd: string;
  /** The permissions of the shell process: `run` for the programs, the rest for builtins. */
  permissions: Permissions;
  /** Ends the command's process tree when aborted. */
  signal: AbortSignal;
  /** Receives each line of output as it comes. */
  onLine: (stream: "stdout" | "stderr", line: string) => void;
  /** Whether to keep stdout for the result. */
  keepStdout: boolean;
  /** Between SIGTERM and SIGKILL, in ms. */
  graceMs: number;
  /** The only environment variables the command may see; all when absent. */
  env?: string[];
}

/** How many lines of stderr a failure message quotes. */
export const TAIL_LINES = 10;
const SHELL_MAIN = new URL("./_shell_main.ts", import.meta.url).href;
const SHELL_ERROR = "spool-shell: ";

/**
 * Runs a command to its end, or until `signal` aborts.
 *
 * @param command The command text.
 * @param options Where, with which permissions, and where its output goes.
 * @returns The exit code, the kept stdout and the tail of stderr.
 */
export async function runShell(command: string, options: ShellOptions): Promise<ShellOutcome> {
  options.signal.throwIfAborted();
  const config: ShellConfig = {
    command,
    cwd: options.cwd,
    ...(options.env === undefined ? {} : { env: options.env }),
  };
  const child = new Deno.Command(denoExecutable() ?? Deno.execPath(), {
    args: ["run", ...shellFlags(options.permissions), SHELL_MAIN, JSON.stringify(config)],
    cwd: options.cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    // Its own process group: a signal to the group reaches every process
    // the command starts, whatever dax or a nested `sh` does with its children.
    detached: true,
  }).spawn();
  const group = -child.pid;
  let killTimer: ReturnType<typeof setTimeout> | undefined;
  const stop = () => {
    signalGroup(group, "SIGTERM");
    killTimer = setTimeout(() => signalGroup(group, "SIGKILL"), options.graceMs);
  };
  options.signal.addEventListener("abort", stop, { once: true });
  const stdout: string[] = [];
  const stderrTail: string[] = [];
  let shellError: string | undefined;
  try {
    const [status] = await Promise.all([
      child.status,
      readLines(child.stdout, (line) => {
        if (options.keepStdout) stdout.push(line);
        options.onLine("stdout", line);
      }),
      readLines(child.stderr, (line) => {
        if (line.startsWith(SHELL_ERROR)) {
          shellError = line.slice(SHELL_ERROR.length);
          return;
        }
        stderrTail.push(line);
        if (stderrTail.length > TAIL_LINES) stderrTail.shift();
        options.onLine("stderr", line);
      }),
    ]);
    return {
      code: status.signal === null ? status.code : 128 + signalNumber(status.signal),
      stdout: stdout.join("\n"),
      stderrTail,
      ...(shellError === undefined ? {} : { shellError }),
    };
  } finally {
    options.signal.removeEventListener("abort", stop);
    // What the command left running in the background ends with it.
    signalGroup(group, "SIGTERM");
    if (killTimer !== undefined && !options.signal.aborted) clearTimeout(killTimer);
  }
}

/** The deno flags of a shell process. */
export function shellFlags(permissions: Permissions): string[] {
  // Not --cached-only: the shell library is not in the task file's graph, so a first run
  // may fetch it.
  const flags = ["--no-prompt", "--quiet", "--no-config", "--no-lock"];
  for (const name of PERMISSION_NAMES) {
    const value = permissions[name];
    if (name === "env" || name === "read") continue;
    if (value === undefined || value === false) continue;
    flags.push(flagFor(name, value));
  }
  // dax reads the environment (its programs get it anyway) and looks
  // programs up on PATH; builtins read what the task declares.
  flags.push("--allow-env");
  const read = permissions.read;
  const run = permissions.run;
  // PATH's folders are read only to find programs: a task that may run none
  // gets no such read, or its builtins (`cat`) could read any file there.
  const programs = run === true || (Array.isArray(run) && run.length > 0) ? pathFolders() : [];
  if (read === true) flags.push("--allow-read");
  else {
    const scopes = [...programs, ...(Array.isArray(read) ? read : [])];
    if (scopes.length > 0) flags.push(flagFor("read", scopes));
  }
  return flags;
}

/**
 * The folders dax searches for programs: PATH's when this process may read
 * it, else the usual ones and deno's own.
 */
function pathFolders(): string[] {
  const readable = Deno.permissions.querySync({ name: "env", variable: "PATH" }).state ===
    "granted";
  const path = readable ? Deno.env.get("PATH") ?? "" : "";
  const folders = path.split(Deno.build.os === "windows" ? ";" : ":")
    .filter((folder) => folder !== "");
  if (folders.length > 0) return folders;
  const deno = (denoExecutable() ?? Deno.execPath()).replace(/[/\\][^/\\]*$/, "");
  return ["/usr/local/bin", "/usr/bin", "/bin", deno];
}

function signalGroup(group: number, signal: Deno.Signal): void {
  try {
    if (Deno.build.os === "windows") return;
    Deno.kill(group, signal);
  } catch {
    // The group is gone already.
  }
}

const SIGNALS: Record<string, number> = { SIGKILL: 9, SIGTERM: 15, SIGINT: 2, SIGHUP: 1 };
function signalNumber(signal: string): number {
  return SIGNALS[signal] ?? 0;
}

/** Calls `onLine` for each line of a stream; a last line without newline counts. */
async function readLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  let pending = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    pending += chunk;
    let newline: number;
    while ((newline = pending.indexOf("\n")) !== -1) {
      onLine(pending.slice(0, newline).replace(/\r$/, ""));
      pending = pending.slice(newline + 1);
    }
  }
  if (pending !== "") onLine(pending);
}
