/**
 * The `spool` command line: flag parsing (commander, kept behind this one
 * file), the `run`, `list` and `graph` commands, and the mapping of errors to
 * exit codes. `cli.ts` and a task file's `main()` are thin wrappers around
 * {@linkcode runCli}.
 *
 * @module
 */

import { SpoolError, UsageError } from "../errors.ts";
import { DEFAULT_TASK_FILE, loadTaskFile } from "../declare/load.ts";
import { safeLine, safeText } from "../report/_sanitize.ts";
import type { TaskSet } from "../declare/define.ts";
import type { Permissions } from "../declare/permissions.ts";
import type { TextSink } from "../report/plain.ts";
import { ExitCode } from "./_exit_code.ts";
import type { Handlers } from "./_program.ts";
import { quickParse } from "./_quick_args.ts";
import type { RunFlags } from "./_run_command.ts";
import type { WorkerFlags } from "./_worker_command.ts";

export { ExitCode };

/**
 * \`run()\`'s default io concurrency (\`DEFAULT_CONCURRENCY\`), written out so
 * that \`--help\` need not load the scheduler; a test holds the two equal.
 */
const DEFAULT_CONCURRENCY = 64;

/** Where the CLI writes, and what can stop it; tests pass their own. */
export interface CliOptions {
  /** Machine output: JSON reports, `list`, `graph`. Default: the process's stdout. */
  stdout?: TextSink;
  /** Human output: progress, summary, errors. Default: the process's stderr. */
  stderr?: TextSink;
  /** Cancels a run, as Ctrl-C does. */
  signal?: AbortSignal;
  /** Listen for SIGINT and SIGTERM while a run is going. Default `true`. */
  handleSignals?: boolean;
  /** Colour in human output. Default: stderr is a terminal and `NO_COLOR` is unset. */
  color?: boolean;
}

const encoder = new TextEncoder();
function fdSink(file: { writeSync(p: Uint8Array): number }): TextSink {
  return {
    write(text) {
      const bytes = encoder.encode(text);
      let written = 0;
      while (written < bytes.length) written += file.writeSync(bytes.subarray(written));
    },
  };
}

/**
 * Runs the spool command line and returns its exit code; it never exits the
 * process itself.
 *
 * @param args The arguments, without the program name.
 * @param options Output sinks, a cancel signal, signal handling, colour.
 * @returns The exit code: 0 all passed, 1 a task failed, 2 usage or task-file
 * error, 130 interrupted, 143 terminated.
 */
export async function runCli(args: readonly string[], options: CliOptions = {}): Promise<number> {
  const stdout = options.stdout ?? fdSink(Deno.stdout);
  const stderr = options.stderr ?? fdSink(Deno.stderr);
  const color = options.color ?? (!Deno.noColor && Deno.stderr.isTerminal());
  let exitCode: number = ExitCode.Ok;
  // What follows the first "--" is for the tasks (`context.args`), not spool;
  // but `spool complete -- <words>` is the shell asking for completions.
  const completing = args[0] === "complete" && args[1] === "--";
  const dashes = completing ? -1 : args.indexOf("--");
  const spoolArgs = dashes < 0 ? args : args.slice(0, dashes);
  const taskArgs = dashes < 0 ? [] : args.slice(dashes + 1);

  const handlers: Handlers = {
    async run(file: string, patterns: string[], flags: RunFlags & { envFile?: string }) {
      if (flags.envFile !== undefined) {
        const { relaunchWithEnvFile } = await import("./_project_config.ts");
        const code = await relaunchWithEnvFile(flags.envFile, args);
        if (code !== undefined) {
          exitCode = code;
          return;
        }
      }
      const loaded = await loadTaskFile(file);
      const targets = expandTargets(patterns, loaded.tasks);
      const { runCommand } = await import("./_run_command.ts");
      exitCode = await runCommand(loaded, targets, flags, {
        stdout,
        stderr,
        color,
        customStdout: options.stdout !== undefined,
        customStderr: options.stderr !== undefined,
        signal: options.signal,
        handleSignals: options.handleSignals,
        taskArgs,
      });
    },
    async cache(file, action, flags) {
      const { cacheCommand } = await import("./_cache_command.ts");
      const { pathToFileURL } = await import("node:url");
      const { resolve } = await import("node:path");
      await cacheCommand(action, pathToFileURL(resolve(file)).href, {
        dir: flags.cacheDir,
        maxBytes: flags.cacheMax,
        stdout,
      });
    },
    async list(file: string) {
      const { tasks } = await loadTaskFile(file);
      const rows = [...tasks.tasks.values()].map((t) => [
        safeLine(t.name),
        t.command !== undefined ? "io (sh)" : t.trusted ? "io (trusted)" : t.kind,
        t.deps.length === 0 ? "-" : safeLine(t.deps.join(",")),
        safeLine(describePermissions(t.permissions)),
        safeLine(t.description),
      ]);
      stdout.write(table([["TASK", "KIND", "DEPS", "PERMISSIONS", "DESCRIPTION"], ...rows]));
    },
    async graph(file: string, patterns: string[], format: "dot" | "mermaid") {
      const { tasks } = await loadTaskFile(file);
      const names = tasks.graph.select(expandTargets(patterns, tasks));
      stdout.write(format === "dot" ? tasks.graph.toDot(names) : tasks.graph.toMermaid(names));
    },
    async worker(file: string, flags: WorkerFlags) {
      const { workerCommand } = await import("./_worker_command.ts");
      exitCode = await workerCommand(file, flags, {
        stderr,
        signal: options.signal,
        handleSignals: options.handleSignals,
      });
    },
    taskNames,
  };

  try {
    const help = completing ? undefined : helpAsked(spoolArgs);
    if (help === "version") {
      const { default: config } = await import("../../deno.json", { with: { type: "json" } });
      stdout.write(`${config.version}\n`);
      return ExitCode.Ok;
    }
    if (help !== undefined) {
      const { HELP } = await import("./_help.ts");
      stdout.write(HELP[help]);
      return ExitCode.Ok;
    }
    const quick = completing ? undefined : quickParse(spoolArgs, {
      workers: navigator.hardwareConcurrency,
      concurrency: DEFAULT_CONCURRENCY,
      file: DEFAULT_TASK_FILE,
    });
    if (quick === undefined) {
      const { parseWithCommander } = await import("./_program.ts");
      const code = await parseWithCommander(
        spoolArgs,
        handlers,
        { stdout, stderr, defaultConcurrency: DEFAULT_CONCURRENCY },
        completing ? args.slice(2) : undefined,
      );
      return code === ExitCode.Ok ? exitCode : code;
    }
    if (quick.command === "run") await handlers.run(quick.file, quick.patterns, quick.flags);
    else if (quick.command === "list") await handlers.list(quick.file);
    else await handlers.graph(quick.file, quick.patterns, quick.format);
    return exitCode;
  } catch (error) {
    if (error instanceof SpoolError) {
      stderr.write(`error: ${safeText(error.message)}\n`);
      return error.exitCode;
    }
    stderr.write(
      `error: ${
        safeText(error instanceof Error ? (error.stack ?? error.message) : String(error))
      }\n`,
    );
    return ExitCode.TaskFailed;
  }
}

/**
 * The help the command line asks for (`""` for the top level, or a command),
 * `"version"` for the version, or `undefined`: only the plain spellings,
 * anything else goes through commander.
 */
function helpAsked(all: readonly string[]): string | undefined {
  // A task file that runs itself passes its own --file first.
  const args = all[0] === "--file" || all[0] === "-f" ? all.slice(2) : all;
  const isHelp = (arg: string | undefined) => arg === "-h" || arg === "--help";
  const commands = ["run", "list", "graph", "worker", "completions"];
  if (args.length === 1) {
    if (args[0] === "-V" || args[0] === "--version") return "version";
    if (isHelp(args[0]) || args[0] === "help") return "";
  }
  if (args.length === 2 && commands.includes(args[0]) && isHelp(args[1])) return args[0];
  if (args.length === 2 && args[0] === "help" && commands.includes(args[1])) return args[1];
  return undefined;
}

/**
 * Task names with glob patterns expanded: \`*\` matches any run of
 * characters, \`?\` one character, and a pattern that matches no task is a
 * usage error. Plain names pass through for \`run()\` to check.
 */
function expandTargets(patterns: readonly string[], tasks: TaskSet): string[] {
  const names = [...tasks.tasks.keys()];
  const out: string[] = [];
  for (const pattern of patterns) {
    if (!/[*?]/.test(pattern)) {
      out.push(pattern);
      continue;
    }
    const source = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replaceAll("*", ".*")
      .replaceAll("?", ".");
    const regex = new RegExp(`^${source}$`);
    const matched = names.filter((name) => regex.test(name));
    if (matched.length === 0) {
      throw new UsageError(
        `No task matches the pattern "${pattern}": run "spool list" to see the tasks`,
      );
    }
    out.push(...matched);
  }
  return [...new Set(out)];
}

/** A task's permissions as \`spool list\` shows them: \`net=a.com read=./data\`, or \`-\`. */
function describePermissions(permissions: Permissions): string {
  const parts = Object.entries(permissions)
    .filter(([, value]) => value !== undefined && value !== false)
    .map(([name, value]) => value === true ? name : `${name}=${(value as string[]).join(",")}`);
  return parts.length === 0 ? "-" : parts.join(" ");
}

/**
 * The tasks of the task file named among the words being completed, by name
 * with their descriptions; none when it does not load.
 */
async function taskNames(words: readonly string[]): Promise<Map<string, string>> {
  let file = DEFAULT_TASK_FILE;
  for (let i = 0; i < words.length - 1; i++) {
    if (words[i] === "-f" || words[i] === "--file") file = words[i + 1];
    else if (words[i].startsWith("--file=")) file = words[i].slice("--file=".length);
  }
  try {
    const { tasks } = await loadTaskFile(file);
    return new Map([...tasks.tasks.values()].map((task) => [task.name, task.description]));
  } catch {
    return new Map();
  }
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  return rows.map((row) =>
    row.map((cell, i) => i === row.length - 1 ? cell : cell.padEnd(widths[i])).join("  ").trimEnd()
  ).join("\n") + "\n";
}
