/**
 * The fingerprint a run and a worker compare before a worker runs a task: a
 * SHA-256 over spool's version, its NATS message format's version
 * ({@linkcode PROTOCOL}) and every local code file of the task
 * module's graph (the files a sandbox host reads, see `_code_paths.ts`), each
 * named by its path relative to the task file's folder, so that the same
 * checkout on two machines hashes the same wherever it lives.
 *
 * @module
 */

import { codePaths } from "../pool/_code_paths.ts";
import { resolutionFlags } from "../pool/_endpoint.ts";
import { WORKER_MAIN } from "../pool/worker_pool.ts";
import denoJson from "../../deno.json" with { type: "json" };
import { PROTOCOL } from "./_messages.ts";

/**
 * Hashes a task module's code graph.
 *
 * @param module The task module's URL.
 * @returns 64 hex digits.
 */
export async function taskFileHash(module: string): Promise<string> {
  const { paths } = await codePaths(module, WORKER_MAIN, resolutionFlags());
  const base = decodeURIComponent(new URL(".", module).pathname);
  const spool = decodeURIComponent(new URL(".", WORKER_MAIN).pathname).replace(/\/$/, "");
  const encoder = new TextEncoder();
  const parts: Uint8Array[] = [encoder.encode(`spool ${denoJson.version} protocol ${PROTOCOL}\n`)];
  const files = paths.filter((path) => path !== spool).map((path) => ({
    path,
    name: path.startsWith(base) ? path.slice(base.length) : path,
  })).sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  for (const { path, name } of files) {
    parts.push(encoder.encode(`${name}\n`));
    parts.push(await Deno.readFile(path).catch(() => encoder.encode("(unreadable)")));
    parts.push(encoder.encode("\n"));
  }
  const bytes = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    bytes.set(part, at);
    at += part.length;
  }
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}
