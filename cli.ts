#!/usr/bin/env -S deno run --no-prompt --allow-read --allow-net --allow-env --allow-run --allow-sys --allow-write --allow-ffi
/**
 * The `spool` command: parse, run, exit with the code `runCli` returns.
 *
 * @example Install it
 * ```sh
 * deno install -g --name spool --no-prompt -A jsr:@spool/spool/cli
 * ```
 *
 * @module
 */

import type { CliOptions } from "./lib/cli/cli.ts";

export type { CliOptions };

/**
 * Runs the spool command line and returns its exit code; it never exits the
 * process itself. Loads the command line on first use, so that a no-op run
 * answered from its record loads none of it.
 *
 * @param args The arguments, without the program name.
 * @param options Output sinks, a cancel signal, signal handling, colour.
 * @returns The exit code: 0 all passed, 1 a task failed, 2 usage or task-file
 * error, 130 interrupted, 143 terminated.
 * @example Run a task file's build
 * ```ts ignore
 * import { runCli } from "./cli.ts";
 *
 * Deno.exitCode = await runCli(["run", "--file", "tasks.ts", "build"]);
 * ```
 */
export async function runCli(args: readonly string[], options?: CliOptions): Promise<number> {
  const cli = await import("./lib/cli/cli.ts");
  return await cli.runCli(args, options);
}

if (import.meta.main) {
  // A run where nothing changed, answered without loading the task file.
  const { answerNoOp } = await import("./lib/cli/_no_op_fast.ts");
  const answered = await answerNoOp(Deno.args);
  if (answered !== undefined) Deno.exit(answered);
  // A task file with a deno.json of its own runs under it, as `deno run` would.
  const { relaunchUnderProjectConfig } = await import("./lib/cli/_project_config.ts");
  const code = await relaunchUnderProjectConfig(Deno.args, import.meta.url);
  Deno.exit(code ?? await runCli(Deno.args));
}
