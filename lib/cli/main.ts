/**
 * `main()`: lets a task file run itself. Loads the CLI lazily so that a
 * worker importing the task file never loads the flag parser.
 *
 * @module
 */

/**
 * Runs a task file as a program: with
 * `if (import.meta.main) await main(import.meta.url);` at its end,
 * `deno run tasks.ts build` works like `spool run -f tasks.ts build`, and
 * `deno run tasks.ts list` like `spool list`. Sets `Deno.exitCode` rather
 * than exiting, so pending output is flushed; but after Ctrl-C or SIGTERM it
 * exits at once, as asked, rather than wait for task bodies that ignored
 * their abort signal.
 *
 * @param module The task file's URL: `import.meta.url`.
 * @param args The command-line arguments; default `Deno.args`.
 * @returns The exit code, as the `spool` command would return it.
 * @throws {TypeError} When `module` is not a string (a bare `main()`).
 * @example The last line of a task file
 * ```ts ignore
 * if (import.meta.main) await main(import.meta.url);
 * ```
 */
export async function main(module: string, args: readonly string[] = Deno.args): Promise<number> {
  // `deno run` does not type-check: a task file that calls main() bare
  // would otherwise fail deep in the loader with Node's path error.
  if (typeof module !== "string") {
    throw new TypeError(
      `Cannot run the task file as main() needs its URL: call main(import.meta.url), not main(${
        module === undefined ? "" : typeof module
      })`,
    );
  }
  // A string literal, though Deno then loads the CLI's code (not runs it)
  // into every worker that imports the task file, about 1 MiB each: a module
  // outside the static graph needs read permission for spool's own files at
  // run time, which `deno run tasks.ts` without --allow-read does not have.
  const { runCli } = await import("./cli.ts");
  const code = await runCli(["--file", module, ...args]);
  if (code === 130 || code === 143) Deno.exit(code);
  Deno.exitCode = code;
  return code;
}
