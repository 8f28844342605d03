/**
 * The first module a shell process evaluates: it removes every environment
 * variable the command may not see (the config's `env`), before dax reads
 * the environment and before any program inherits it. A sandboxed task's
 * `$` may see only the variables its task declared (and `PATH`, to find
 * programs), as its own code may.
 *
 * @module
 */

import type { ShellConfig } from "./_shell_process.ts";

const { env } = JSON.parse(Deno.args[0]) as ShellConfig;
if (env !== undefined) {
  const keep = new Set(env);
  for (const name of Object.keys(Deno.env.toObject())) {
    if (!keep.has(name)) Deno.env.delete(name);
  }
}
