/**
 * Which `deno` to start a child with (a sandbox host, a command's shell
 * process). A file of its own so that a task file importing `sh()` does not
 * load the pool's endpoint code into every worker and host.
 *
 * @module
 */

/**
 * The `deno` to start sandboxes with: this process's own executable when it
 * may run it, else `deno` from PATH when that is granted (`--allow-run=deno`
 * grants the PATH entry, which can be a link to the executable).
 *
 * @returns The command, or `undefined` when neither may be run.
 */
export function denoExecutable(): string | undefined {
  const own = Deno.execPath();
  if (Deno.permissions.querySync({ name: "run", command: own }).state === "granted") return own;
  if (Deno.permissions.querySync({ name: "run", command: "deno" }).state === "granted") {
    return "deno";
  }
  return undefined;
}
