/**
 * `denoTasks()`: the tasks of a `deno.json` or `deno.jsonc` as `sh()` tasks,
 * so that a Deno project gets spool's parallel graph, summary and trace
 * without writing a task file: `spool run --deno-json`, or spread into
 * `defineTasks` next to tasks of your own.
 *
 * @module
 */

import type { TaskDefinition } from "../declare/define.ts";
import { io } from "../declare/define.ts";
import { TaskFileError } from "../errors.ts";
import { sh } from "./sh.ts";

/** Options of {@linkcode denoTasks}. */
export interface DenoTasksOptions {
  /**
   * The config file, or the folder holding it (`deno.json`, else
   * `deno.jsonc`). Default: the current working directory.
   */
  path?: string;
}

/** One entry of a config's `tasks`: a command, or the object form. */
type DenoTaskEntry = string | {
  command?: string;
  description?: string;
  dependencies?: string[];
};

/**
 * Reads the `tasks` of a `deno.json`/`deno.jsonc` and declares each as an
 * `sh()` task that runs in the config's folder, as `deno task` does: a string
 * is the command; the object form gives `command`, `description` and
 * `dependencies` (an entry with dependencies and no command just groups them).
 *
 * @param options Where the config is.
 * @returns Task declarations by name, for `defineTasks`.
 * @throws {TaskFileError} When the config cannot be read or parsed, or a task
 * entry is malformed.
 * @example Run the project's deno.json tasks with spool, plus one of your own
 * ```ts ignore
 * import { defineTasks, denoTasks, sh } from "@spool/spool";
 *
 * export default defineTasks({
 *   ...denoTasks(),
 *   release: sh("git tag v1.0.0", { deps: ["test"] }),
 * });
 * ```
 */
export function denoTasks(
  options: DenoTasksOptions = {},
): Record<string, TaskDefinition<unknown, never>> {
  // A sandbox imports the task file again with only its task's permissions,
  // and never runs these tasks (they run on the runner's thread): where the
  // config cannot be read, there is nothing to declare.
  const where = options.path ?? cwdOrUndefined();
  if (where === undefined || !readable(where)) return {};
  const file = configFile(where);
  let config: { tasks?: Record<string, DenoTaskEntry> };
  try {
    config = JSON.parse(stripJsonc(Deno.readTextFileSync(file)));
  } catch (error) {
    throw new TaskFileError(
      `Cannot read the tasks of "${file}": ${
        error instanceof Error ? error.message : String(error)
      }`,
      { file, cause: error },
    );
  }
  const folder = file.replace(/[/\\][^/\\]*$/, "") || "/";
  const tasks: Record<string, TaskDefinition<unknown, never>> = {};
  for (const [name, entry] of Object.entries(config.tasks ?? {})) {
    const spec = typeof entry === "string" ? { command: entry } : entry;
    if (spec === null || typeof spec !== "object") {
      throw new TaskFileError(
        `Task "${name}" of "${file}" is invalid: expected a command or { command, description, dependencies }`,
        { file },
      );
    }
    const deps = spec.dependencies ?? [];
    const description = spec.description;
    tasks[name] = (spec.command === undefined || spec.command.trim() === ""
      ? io({
        deps,
        description: description ?? `runs ${deps.join(", ")}`,
        // Nothing to sandbox: it only waits for its dependencies.
        trusted: true,
        run: () => undefined,
      })
      : sh(spec.command, {
        deps,
        cwd: folder,
        ...(description === undefined ? {} : { description }),
      })) as TaskDefinition<unknown, never>;
  }
  if (Object.keys(tasks).length === 0) {
    throw new TaskFileError(`"${file}" has no tasks: add a "tasks" object to it`, { file });
  }
  return tasks;
}

function configFile(path: string): string {
  let stat: Deno.FileInfo | undefined;
  try {
    stat = Deno.statSync(path);
  } catch {
    stat = undefined;
  }
  if (stat?.isFile) return path;
  for (const name of ["deno.json", "deno.jsonc"]) {
    const candidate = `${path.replace(/[/\\]$/, "")}/${name}`;
    try {
      if (Deno.statSync(candidate).isFile) return candidate;
    } catch {
      // Try the next name.
    }
  }
  throw new TaskFileError(
    `Cannot find deno.json or deno.jsonc in "${path}": run spool in the project's folder, or pass its path`,
  );
}

/** JSONC to JSON: comments and trailing commas removed, strings left alone. */
function stripJsonc(text: string): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      const start = i;
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === "\\") i++;
      out += text.slice(start, i + 1);
    } else if (c === "/" && text[i + 1] === "/") {
      while (i < text.length && text[i] !== "\n") i++;
      out += "\n";
    } else if (c === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      i = end === -1 ? text.length : end + 1;
    } else out += c;
  }
  return out.replace(/,(\s*[}\]])/g, "$1");
}

function cwdOrUndefined(): string | undefined {
  try {
    return Deno.cwd();
  } catch {
    return undefined;
  }
}

function readable(path: string): boolean {
  return Deno.permissions.querySync({ name: "read", path }).state === "granted";
}
