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

import { runCli } from "./lib/cli/cli.ts";
import { relaunchUnderProjectConfig } from "./lib/cli/_project_config.ts";

export { runCli };

if (import.meta.main) {
  // A task file with a deno.json of its own runs under it, as `deno run` would.
  const code = await relaunchUnderProjectConfig(Deno.args, import.meta.url);
  Deno.exit(code ?? await runCli(Deno.args));
}
