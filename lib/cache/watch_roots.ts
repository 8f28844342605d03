/**
 * What `spool run --watch` watches: the folders and files that the selected
 * tasks' inputs live under, and what to ignore there (their outputs and the
 * cache folder, which a run writes itself).
 *
 * @module
 */

import { dirname, isAbsolute, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Task } from "../declare/define.ts";

const GLOB_CHARS = /[*?[{]/;

/** The part of a path before its first glob character. */
function fixedPart(path: string): string {
  const parts = path.split("/");
  const index = parts.findIndex((part) => GLOB_CHARS.test(part));
  return index < 0 ? path : parts.slice(0, index).join("/") || ".";
}

/**
 * The paths to watch and the paths to ignore for a set of tasks.
 *
 * @param tasks The selected tasks.
 * @param module The task module's `file:` URL: declared paths are relative to its folder.
 * @param cacheDir The cache folder.
 * @returns Absolute paths to watch (inputs that exist) and to ignore (outputs, the cache).
 */
export function watchRoots(
  tasks: readonly Task[],
  module: string,
  cacheDir: string,
): { watch: string[]; ignore: string[] } {
  const base = dirname(fileURLToPath(module));
  const watch = new Set<string>();
  const ignore = new Set<string>([resolve(cacheDir)]);
  const paths = (declared: readonly string[] | undefined, scope: unknown): string[] =>
    declared !== undefined
      ? declared.map((path) => isAbsolute(path) ? path : resolve(base, fixedPart(path)))
      : Array.isArray(scope)
      ? scope.map((path: string) => resolve(path))
      : [];
  for (const task of tasks) {
    for (const path of paths(task.inputs, task.permissions.read)) {
      try {
        Deno.statSync(path);
        watch.add(path);
      } catch {
        // Not there yet: its folder shows it appearing.
        watch.add(dirname(path));
      }
    }
    for (const path of paths(task.outputs, task.permissions.write)) ignore.add(path);
  }
  return { watch: [...watch], ignore: [...ignore] };
}

/**
 * Whether a path is one of the roots or lies under one.
 *
 * @param path An absolute path.
 * @param roots Absolute paths.
 * @returns `true` when it is within one.
 */
export function isWithin(path: string, roots: readonly string[]): boolean {
  return roots.some((root) => path === root || path.startsWith(`${root.replace(/\/$/, "")}/`));
}
