/**
 * The files a sandbox host must be able to read to load a task module: the
 * local code modules of its module graph (from `deno info --json`) and
 * spool's own `lib/` folder, where the worker side and what it imports live
 * (the task file may import another copy of spool, or none). Only code: a JSON, text or bytes module in
 * the graph is left out, so that a task cannot read an undeclared file by
 * importing it (`import("./secret.txt", { with: { type: "text" } })`); it can
 * read such a file only inside the `read` scopes it declared.
 *
 * @module
 */

import { denoExecutable } from "./_endpoint.ts";

// Taken when spool loads, before any task code runs (see _endpoint.ts).
const Command = Deno.Command;

/** Media types of modules that hold code, as `deno info` names them. */
const CODE = new Set([
  "JavaScript",
  "Mjs",
  "Cjs",
  "JSX",
  "TypeScript",
  "Mts",
  "Cts",
  "Dts",
  "Dmts",
  "Dcts",
  "TSX",
  "Wasm",
]);

interface InfoModule {
  kind?: string;
  specifier: string;
  mediaType?: string;
  dependencies?: InfoDependency[];
}

interface InfoDependency {
  specifier: string;
  code?: { specifier: string };
  isDynamic?: boolean;
  npmPackage?: string;
}

/** What a host of a task module is started with. */
export interface ModuleCode {
  /** Absolute paths: spool's `lib/` folder, then the graph's local code files. */
  paths: string[];
  /**
   * Whether the host may load dynamic imports lazily (Deno's
   * `--unstable-lazy-dynamic-imports`): only when no module of the task
   * file's static graph but spool's own has a dynamic import other than a
   * `node:` built-in, and none is an npm package. Then what Deno would load
   * eagerly and never run is spool's command line, which `main()` imports
   * (about 100 modules, 1.1 MiB, 20-40 ms per worker); and a task whose body
   * imports its own code lazily keeps loading it as it did (lazily, Deno
   * would check that import against the task's own permissions).
   */
  lazy: boolean;
}

/**
 * Lists the code files a host reads to load `module` and spool's worker side.
 *
 * @param module The task module's URL.
 * @param workerSide The URL of spool's worker entry (`lib/pool/worker_main.ts`):
 * the folder above its own (`lib/`) is added whole, since it imports from
 * `lib/commands/` too.
 * @param flags Module-resolution flags to pass to `deno info`.
 * @returns The paths, and whether the host may load dynamic imports lazily.
 */
export function codePaths(
  module: string,
  workerSide: string,
  flags: readonly string[] = [],
): Promise<ModuleCode> {
  // Once per module and process: a script that runs several times, or a
  // test suite, asks deno once.
  const key = `${module} ${workerSide} ${flags.join(" ")}`;
  let paths = cache.get(key);
  if (paths === undefined) {
    cache.set(key, paths = lookUp(module, workerSide, flags));
    paths.then(() => known.add(key), () => {});
  }
  return paths;
}

const cache = new Map<string, Promise<ModuleCode>>();
/** spool's entry modules, beside its `lib/` folder: public code, as `lib/` is. */
const ENTRIES = ["mod.ts", "declare.ts", "cli.ts"];
const known = new Set<string>();

/**
 * Whether {@linkcode codePaths} has answered for these arguments in this
 * process already.
 *
 * @param module The task module's URL.
 * @param workerSide The URL of spool's worker entry.
 * @param flags Module-resolution flags.
 * @returns `true` once the answer is in.
 */
export function codePathsKnown(
  module: string,
  workerSide: string,
  flags: readonly string[] = [],
): boolean {
  return known.has(`${module} ${workerSide} ${flags.join(" ")}`);
}

/**
 * Code a host of `module` reads whatever the task file imports: spool's
 * `lib/` folder, spool's entry modules beside it (`mod.ts`, `declare.ts`,
 * `cli.ts`: public code, as `lib/` is) and the task file itself. Every
 * answer of {@linkcode codePaths} holds the folder and the task file, so a
 * host granted this much reads no more than one granted that answer, unless
 * spool's own entry modules are not in the graph. Before `deno info` has
 * answered, the pool starts a host with this grant and hands it its token
 * only once the answer asks for nothing more (see `worker_pool.ts`).
 *
 * @param module The task module's URL.
 * @param workerSide The URL of spool's worker entry (`lib/pool/worker_main.ts`).
 * @returns The paths; `undefined` when either is not a local file (nothing to guess).
 */
export function surelyReadPaths(module: string, workerSide: string): string[] | undefined {
  if (!module.startsWith("file:") || !workerSide.startsWith("file:")) return undefined;
  const path = (url: URL) => decodeURIComponent(url.pathname);
  const lib = path(new URL("..", workerSide)).replace(/\/$/, "");
  const root = new URL("../..", workerSide);
  const entries = ENTRIES.map((file) => path(new URL(file, root)));
  return [lib, ...entries, path(new URL(module))];
}

async function lookUp(
  module: string,
  workerSide: string,
  flags: readonly string[],
): Promise<ModuleCode> {
  // Not the graph of the task file alone: one that imports spool from
  // another copy (a different version, a vendored one) left the host unable
  // to read the runner's worker side beyond lib/pool/.
  const folder = decodeURIComponent(new URL("..", workerSide).pathname).replace(/\/$/, "");
  const paths = workerSide.startsWith("file:") ? [folder] : [];
  if (!module.startsWith("file:")) return { paths, lazy: false };
  const own = decodeURIComponent(new URL(module).pathname);
  try {
    const { code, stdout } = await new Command(denoExecutable() ?? Deno.execPath(), {
      args: ["info", "--json", ...flags, module],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
      env: { NO_COLOR: "1" },
      // A graph that cannot be resolved (a registry out of reach) must not
      // hold the run: the host then reads only the task file.
      signal: AbortSignal.timeout(30_000),
    }).output();
    if (code !== 0) return { paths: [...paths, own], lazy: false };
    const info = JSON.parse(new TextDecoder().decode(stdout)) as {
      roots?: string[];
      modules?: InfoModule[];
    };
    for (const entry of info.modules ?? []) {
      if (!entry.specifier.startsWith("file:") || !CODE.has(entry.mediaType ?? "")) continue;
      const path = decodeURIComponent(new URL(entry.specifier).pathname);
      if (!path.startsWith(`${folder}/`)) paths.push(path);
    }
    if (!paths.includes(own)) paths.push(own);
    return { paths, lazy: lazyIsSafe(info.modules ?? [], info.roots?.[0] ?? module, workerSide) };
  } catch {
    // No `deno info` to ask: the host can read the task file alone, and
    // whatever else it imports fails to load with the file's name.
    return { paths: [...paths, own], lazy: false };
  }
}

/**
 * Whether loading dynamic imports lazily changes nothing a task can see:
 * see {@linkcode ModuleCode.lazy}.
 */
function lazyIsSafe(modules: readonly InfoModule[], root: string, workerSide: string): boolean {
  const spool = new URL("../..", workerSide).href;
  const spoolOwn = (specifier: string) =>
    specifier.startsWith(`${spool}lib/`) ||
    ENTRIES.some((entry) => specifier === `${spool}${entry}`);
  const bySpecifier = new Map(modules.map((entry) => [entry.specifier, entry]));
  const seen = new Set<string>([root]);
  const queue = [root];
  while (queue.length > 0) {
    const specifier = queue.pop()!;
    const entry = bySpecifier.get(specifier);
    if (entry === undefined) continue;
    for (const dependency of entry.dependencies ?? []) {
      const target = dependency.code?.specifier;
      if (target === undefined) continue;
      if (dependency.isDynamic) {
        if (!spoolOwn(specifier) && !target.startsWith("node:")) return false;
        continue;
      }
      if (dependency.npmPackage !== undefined || target.startsWith("npm:")) return false;
      if (!seen.has(target)) {
        seen.add(target);
        queue.push(target);
      }
    }
  }
  return true;
}
