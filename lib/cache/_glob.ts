/**
 * The files a task's `inputs` or `outputs` name: plain paths (a file, or a
 * folder taken whole) and globs (`*`, `**`, `?`, `{a,b}`, `[abc]`), relative
 * to the task file's folder, listed with one stat each so that an unchanged
 * tree is not read.
 *
 * @module
 */

import { isAbsolute, relative, resolve, sep as SEP } from "node:path";

/** One file found, with the stat the fast path compares. */
export interface FoundFile {
  /** Absolute path. */
  path: string;
  /** Path relative to the base folder, with `/` separators. */
  rel: string;
  size: number;
  mtimeMs: number;
  ino: number;
}

/** A folder whose listing said which files match, with its stamp when listed. */
export interface ListedDir {
  /** Absolute path. */
  path: string;
  mtimeMs: number;
  ino: number;
  /** `Date.now()` just before it was listed. */
  listedAt: number;
}

/** What {@linkcode findFiles} found. */
export interface FoundFiles {
  /** The files, sorted by relative path. */
  files: FoundFile[];
  /** The plain paths that do not exist. */
  missing: string[];
  /** The folders listed. */
  dirs: ListedDir[];
  /**
   * `false` when the listing saw something its folders' stamps do not
   * stand for (an entry that is neither a file nor a folder, a folder it
   * could not list, an entry gone between listing and stat).
   */
  stampable: boolean;
}

const GLOB_CHARS = /[*?[{]/;

/**
 * Turns a glob into a regular expression over `/`-separated relative paths.
 *
 * @param glob The glob.
 * @returns A RegExp matching whole paths.
 */
export function globToRegExp(glob: string): RegExp {
  let out = "";
  let braces = 0;
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === "*") {
      if (glob[i + 1] === "*") {
        // "**/" matches any number of folders, "**" at the end anything.
        i++;
        if (glob[i + 1] === "/") {
          i++;
          out += "(?:[^/]*(?:/|$))*";
        } else out += ".*";
      } else out += "[^/]*";
    } else if (c === "?") out += "[^/]";
    else if (c === "{") {
      braces++;
      out += "(?:";
    } else if (c === "}" && braces > 0) {
      braces--;
      out += ")";
    } else if (c === "," && braces > 0) out += "|";
    else if (c === "[") {
      const end = glob.indexOf("]", i + 1);
      if (end < 0) out += "\\[";
      else {
        const body = glob.slice(i + 1, end).replace(/^!/, "^").replace(/\\/g, "\\\\");
        out += `[${body}]`;
        i = end;
      }
    } else out += c.replace(/[.+^$()|\\]/g, "\\$&");
  }
  return new RegExp(`^${out}$`);
}

/** The folder a glob's matches all live under: its parts before the first glob character. */
function staticPrefix(glob: string): string {
  const parts = glob.split("/");
  const fixed: string[] = [];
  for (const part of parts) {
    if (GLOB_CHARS.test(part)) break;
    fixed.push(part);
  }
  return fixed.join("/");
}

/**
 * Lists the files that patterns name, sorted by relative path, leaving out
 * any under `exclude` (the cache folder, and for inputs the outputs).
 *
 * @param base The folder patterns are relative to.
 * @param patterns Paths and globs.
 * @param exclude A predicate over absolute paths to leave out.
 * @returns The files found, the plain paths that do not exist, and the
 * folders listed.
 */
export function findFiles(
  base: string,
  patterns: readonly string[],
  exclude: (path: string) => boolean,
): FoundFiles {
  const found = new Map<string, FoundFile>();
  const missing: string[] = [];
  const dirs: ListedDir[] = [];
  let stampable = true;
  // Most inputs live under the base folder: their relative path is a slice.
  const prefix = base.endsWith(SEP) ? base : base + SEP;
  const relativePath = (path: string) =>
    (path.startsWith(prefix) ? path.slice(prefix.length) : relative(base, path)).replaceAll(
      "\\",
      "/",
    );
  const add = (path: string, info: Deno.FileInfo) => {
    if (found.has(path) || exclude(path)) return;
    found.set(path, {
      path,
      rel: relativePath(path),
      size: info.size,
      mtimeMs: info.mtime?.getTime() ?? 0,
      ino: info.ino ?? 0,
    });
  };
  const walk = (dir: string, match: ((path: string) => boolean) | undefined) => {
    if (exclude(dir)) return;
    let entries: Iterable<Deno.DirEntry>;
    try {
      // Stamped before it is listed: a change after the stamp shows next time.
      const listedAt = Date.now();
      const info = Deno.statSync(dir);
      dirs.push({ path: dir, mtimeMs: info.mtime?.getTime() ?? 0, ino: info.ino ?? 0, listedAt });
      entries = Deno.readDirSync(dir);
    } catch {
      stampable = false;
      return;
    }
    for (const entry of entries) {
      const path = dir.endsWith(SEP) ? dir + entry.name : dir + SEP + entry.name;
      if (entry.isDirectory) walk(path, match);
      else if (entry.isFile || entry.isSymlink) {
        if (match !== undefined && !match(path)) continue;
        try {
          const info = Deno.statSync(path);
          if (info.isFile) add(path, info);
          else stampable = false;
        } catch {
          // Gone between listing and stat: not an input.
          stampable = false;
        }
      } else if (match === undefined || match(path)) stampable = false;
    }
  };
  for (const pattern of patterns) {
    const absolute = isAbsolute(pattern) ? pattern : resolve(base, pattern);
    if (!GLOB_CHARS.test(pattern)) {
      let info: Deno.FileInfo;
      try {
        info = Deno.statSync(absolute);
      } catch {
        missing.push(pattern);
        continue;
      }
      if (info.isDirectory) walk(absolute, undefined);
      else add(absolute, info);
      continue;
    }
    const regexp = globToRegExp(absolute.replaceAll("\\", "/"));
    walk(resolve(base, staticPrefix(pattern)), (path) => regexp.test(path.replaceAll("\\", "/")));
  }
  const files = [...found.values()].sort((a, b) => a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0);
  return { files, missing, dirs, stampable };
}
