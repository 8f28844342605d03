/**
 * The main module of a shell process: `sh()` starts one per command run, as
 * `deno run` in a process group of its own, with `--allow-run` for exactly the
 * command's programs. It parses and runs the command with dax; the command's
 * output goes straight to this process's stdout and stderr, and its exit code
 * becomes this process's. Stopping the command is the runner's job: it signals
 * the whole group, which ends every process the command started, not only
 * dax's direct children.
 *
 * @module
 */

// First: the environment is narrowed before dax (which reads it as it
// loads) or anything else is evaluated.
import "./_shell_env.ts";
import { $ } from "./_dax.ts";
import type { ShellConfig } from "./_shell_process.ts";

/** What the runner recognizes as this process's own failure, not the command's. */
const PREFIX = "spool-shell: ";

const config = JSON.parse(Deno.args[0]) as ShellConfig;
let code: number;
try {
  const result = await $.raw`${config.command}`.cwd(config.cwd).noThrow();
  code = result.code;
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  console.error(`${PREFIX}${message.split("\n")[0]}`);
  code = 125;
}
Deno.exit(code);
