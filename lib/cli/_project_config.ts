/**
 * The installed `spool` command runs a user's task file with the user's
 * configuration. Deno reads one `deno.json` per process, found from the main
 * module's folder: for an installed `spool` that is spool's own folder, so a
 * project's import map, npm and JSR aliases would not resolve in its task
 * file. When the task file's folder (or a parent) holds a `deno.json` that is
 * not the one this process started with, spool runs itself again under
 * `--config` set to it, with the same flags, and passes on the exit code;
 * unless that file holds nothing that changes how a module runs (only
 * `tasks`, `fmt`, `lint`, ...), as the deno.json of a project of tasks.
 *
 * `--env-file` works the same way: Deno reads it, in a relaunched process.
 *
 * @module
 */

import { UsageError } from "../errors.ts";

const CONFIG_NAMES = ["deno.json", "deno.jsonc"];
/** Set in the relaunched process, so that it never relaunches again. */
const RELAUNCHED = "SPOOL_RELAUNCHED";
/** Set in a process relaunched with `--env-file`. */
const ENV_LOADED = "SPOOL_ENV_FILE";

/**
 * Runs spool again under the task file's `deno.json`, when it has one that
 * this process did not start with.
 *
 * @param args spool's arguments.
 * @param cli The URL of the `spool` entry module.
 * @returns The relaunched process's exit code, or `undefined` when this
 * process should run the command itself.
 */
export async function relaunchUnderProjectConfig(
  args: readonly string[],
  cli: string,
): Promise<number | undefined> {
  if (!granted({ name: "env", variable: RELAUNCHED }) || Deno.env.get(RELAUNCHED) !== undefined) {
    return undefined;
  }
  const denoArgs = ownDenoArgs();
  if (denoArgs === undefined || !granted({ name: "run", command: Deno.execPath() })) {
    return undefined;
  }
  // Help, the version and completion scripts load no task file.
  const ours = args.indexOf("--") < 0 ? args : args.slice(0, args.indexOf("--"));
  const command = ours.find((arg, i) => !arg.startsWith("-") && !/^(-f|--file)$/.test(ours[i - 1]));
  if (
    ours.some((arg) => /^(-h|--help|-V|--version)$/.test(arg)) ||
    command === "help" || command === "completions"
  ) {
    return undefined;
  }
  const file = taskFileArg(args);
  if (/^[a-z]+:/i.test(file) && !file.startsWith("file:")) return undefined;
  const taskFile = pathOf(file);
  try {
    if (!Deno.statSync(taskFile).isFile) return undefined;
  } catch {
    // Missing: spool itself says so, naming the file.
    return undefined;
  }
  const wanted = findConfig(dirname(taskFile));
  if (wanted === undefined) return undefined;
  const named = configOf(denoArgs);
  const current = named !== undefined
    ? pathOf(named)
    : cli.startsWith("file:")
    ? findConfig(dirname(pathOf(cli)))
    : undefined;
  if (current === wanted || changesNothing(wanted)) return undefined;

  const flags = denoArgs.filter((arg, i) =>
    !/^(-c|--config)(=|$)/.test(arg) && arg !== "--no-config" &&
    !/^(-c|--config)$/.test(denoArgs[i - 1] ?? "")
  );
  return await relaunch([...flags, `--config=${wanted}`], cli, args);
}

/**
 * Runs spool again with Deno's own `--env-file`, so that a `.env` file is
 * read with exactly Deno's semantics; the variables land in the process
 * environment, and each sandbox can read only those its task declares in
 * `env`.
 *
 * @param envFile The file, as given to `--env-file`.
 * @param args spool's arguments, passed on unchanged.
 * @returns The relaunched process's exit code, or `undefined` when this is
 * the relaunched process.
 * @throws {UsageError} When spool cannot know its own flags, or may not start
 * `deno`.
 */
export async function relaunchWithEnvFile(
  envFile: string,
  args: readonly string[],
): Promise<number | undefined> {
  if (granted({ name: "env", variable: ENV_LOADED }) && Deno.env.get(ENV_LOADED) !== undefined) {
    return undefined;
  }
  const denoArgs = ownDenoArgs();
  if (denoArgs === undefined || !granted({ name: "run", command: Deno.execPath() })) {
    throw new UsageError(
      `Cannot read the env file "${envFile}": spool reads it by starting deno again with --env-file, which needs all permissions (-A); or run "deno run --env-file=${envFile} ..." yourself`,
    );
  }
  return await relaunch([...denoArgs, `--env-file=${envFile}`], Deno.mainModule, args, {
    [ENV_LOADED]: envFile,
  });
}

async function relaunch(
  flags: readonly string[],
  module: string,
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<number> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...flags, module, ...args],
    env: { [RELAUNCHED]: "1", ...env },
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  // The terminal sends Ctrl-C to both processes; the child handles it.
  const ignore = () => {};
  const forward = () => child.kill("SIGTERM");
  Deno.addSignalListener("SIGINT", ignore);
  Deno.addSignalListener("SIGTERM", forward);
  try {
    return (await child.status).code;
  } finally {
    Deno.removeSignalListener("SIGINT", ignore);
    Deno.removeSignalListener("SIGTERM", forward);
  }
}

/** The task file among spool's arguments: `-f`/`--file`, else `tasks.ts`. */
function taskFileArg(args: readonly string[]): string {
  for (let i = 0; i < args.length && args[i] !== "--"; i++) {
    const arg = args[i];
    if ((arg === "-f" || arg === "--file") && i + 1 < args.length) return args[i + 1];
    if (arg.startsWith("--file=")) return arg.slice("--file=".length);
    if (arg.startsWith("-f") && arg.length > 2) return arg.slice(2);
  }
  return "tasks.ts";
}

/** The nearest `deno.json` or `deno.jsonc` from `dir` up, as Deno finds it. */
/** Fields of a deno.json that do not change how `deno run` loads and runs a module. */
const INERT_FIELDS = new Set([
  "$schema",
  "name",
  "version",
  "license",
  "description",
  "exports",
  "tasks",
  "fmt",
  "lint",
  "test",
  "bench",
  "publish",
  "exclude",
]);

/**
 * Whether a config holds only fields that do not change how the task file
 * runs (a deno.json of tasks, say): then a relaunch, a whole process start,
 * would change nothing. A config spool cannot read or parse (JSONC) is
 * taken to matter.
 */
function changesNothing(config: string): boolean {
  try {
    const fields = JSON.parse(Deno.readTextFileSync(config));
    return typeof fields === "object" && fields !== null && !Array.isArray(fields) &&
      Object.keys(fields).every((field) => INERT_FIELDS.has(field));
  } catch {
    return false;
  }
}

function findConfig(dir: string): string | undefined {
  for (let at = dir;; at = dirname(at)) {
    for (const name of CONFIG_NAMES) {
      const path = `${at === "/" ? "" : at}/${name}`;
      try {
        if (Deno.statSync(path).isFile) return path;
      } catch {
        // Not here, or not readable: look further up.
      }
    }
    if (dirname(at) === at) return undefined;
  }
}

/**
 * An absolute path for a path or `file:` URL, with `.` and `..` resolved.
 * URL arithmetic rather than node:path, which would add to every start-up.
 */
function pathOf(pathOrUrl: string): string {
  const base = `file://${encodeURI(Deno.cwd())}/`;
  return decodeURIComponent(
    new URL(pathOrUrl.startsWith("file:") ? pathOrUrl : encodeURI(pathOrUrl), base).pathname,
  );
}

function dirname(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash <= 0 ? "/" : path.slice(0, slash);
}

/** The config named by `--config`/`-c` among Deno's own flags. */
function configOf(denoArgs: readonly string[]): string | undefined {
  for (let i = 0; i < denoArgs.length; i++) {
    const match = denoArgs[i].match(/^(?:-c|--config)(?:=(.*))?$/);
    if (match !== null) return match[1] ?? denoArgs[i + 1];
  }
  return undefined;
}

/**
 * The flags this process was started with, between `deno run` and the
 * script: read from `/proc/self/cmdline` where the process may (Linux, with
 * all permissions), else rebuilt as `--no-prompt -A` when every permission
 * is granted. `undefined` when they cannot be known: relaunching could then
 * grant less, or more, than the user gave.
 */
function ownDenoArgs(): string[] | undefined {
  const path = "/proc/self/cmdline";
  if (granted({ name: "read", path })) {
    try {
      const argv = Deno.readTextFileSync(path).split("\0");
      const run = argv.indexOf("run");
      const script = argv.findIndex((arg, i) =>
        i > run && !arg.startsWith("-") && !/^(-c|--config)$/.test(argv[i - 1])
      );
      if (run > 0 && script > run) return argv.slice(run + 1, script);
    } catch {
      // Fall back to the grants.
    }
  }
  const all = (["read", "write", "net", "env", "run", "sys", "ffi", "import"] as const)
    .every((name) => granted({ name }));
  return all ? ["--no-prompt", "-A"] : undefined;
}

function granted(descriptor: Deno.PermissionDescriptor): boolean {
  return Deno.permissions.querySync(descriptor).state === "granted";
}
