/**
 * What the runner itself needs before it starts sandboxes, checked before
 * anything runs: the grants to start host processes, and, for sandboxes that
 * are Web Workers in this process, proof that no task can open a permission
 * prompt.
 *
 * @module
 */

import { type MissingGrant, UsageError } from "../errors.ts";
import { denoExecutable, ownDenoFlags } from "../pool/_endpoint.ts";

/**
 * The grants the runner needs to start sandbox host processes: running the
 * `deno` executable, and a loopback listener the hosts connect back to.
 *
 * @param task The first sandboxed task, named in the message.
 * @returns The missing grants, empty when both are held.
 */
export function hostGrants(task: string): MissingGrant[] {
  const missing: MissingGrant[] = [];
  if (denoExecutable() === undefined) {
    missing.push({
      task,
      permission: "run",
      value: ["deno"],
      flag: "--allow-run=deno",
      reason: "spool runs each sandbox as a deno process",
    });
  }
  if (Deno.permissions.querySync({ name: "net", host: "127.0.0.1" }).state !== "granted") {
    missing.push({
      task,
      permission: "net",
      value: ["127.0.0.1"],
      flag: "--allow-net=127.0.0.1",
      reason: "sandboxes report back to spool over loopback",
    });
  }
  return missing;
}

/**
 * Refuses to start in-process sandboxes where a task could open Deno's
 * permission prompt: a worker's undeclared access prompts when this process
 * was started without `--no-prompt` and stdin is a terminal, and answering
 * "y" would widen its sandbox. Sandbox processes always run with
 * `--no-prompt`; this check is for `isolation: "worker"`.
 *
 * @param task The first sandboxed task, named in the message.
 * @throws {UsageError} When a prompt cannot be ruled out.
 */
export function promptGuard(task: string): void {
  if (!promptsPossible()) return;
  throw new UsageError(
    `Cannot run task "${task}" in a worker sandbox: this process may prompt for permissions, and a task could be granted more than it declared; run again with --no-prompt (or with isolation "process")`,
  );
}

function promptsPossible(): boolean {
  // Deno prompts only on a terminal.
  if (!Deno.stdin.isTerminal()) return false;
  const env = Deno.permissions.querySync({ name: "env", variable: "DENO_NO_PROMPT" });
  if (env.state === "granted" && Deno.env.get("DENO_NO_PROMPT") !== undefined) return false;
  const flags = ownDenoFlags();
  return flags === undefined || !flags.includes("--no-prompt");
}
