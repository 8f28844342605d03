/**
 * `service()`: a long-running command (a dev server, a database) that starts
 * before the tasks that depend on it, is ready when a port accepts, a URL
 * answers 2xx or a line of its output matches, stays up while any dependant
 * runs, and is stopped (its whole process tree) after the last one ends or
 * when the run ends.
 *
 * @module
 */

import { io, type TaskDefinition } from "../declare/define.ts";
import type { Permissions } from "../declare/permissions.ts";
import { TaskFileError } from "../errors.ts";
import { commandPrograms } from "./_program_names.ts";
import { serviceValue } from "./_service_handle.ts";
import { runShell } from "./_shell_process.ts";
import { parseDuration } from "./_duration.ts";
import { callerModule } from "./_caller.ts";

/** When a service counts as ready. */
export type ServiceReady =
  | { /** A TCP port on 127.0.0.1 that accepts a connection. */ port: number }
  | { /** A URL that answers a GET with a 2xx status. */ url: string }
  | { /** A line of the service's output (stdout or stderr) that matches. */ line: RegExp };

/** What `service()` takes besides the command. */
export interface ServiceOptions {
  /** One line shown by `spool list`. */
  description?: string;
  /** Names of the tasks that run before the service starts. */
  deps?: readonly string[];
  /** When the service is ready; without it, as soon as it has started. */
  ready?: ServiceReady;
  /** How long it may take to be ready: ms or a duration such as `"30s"`. Default 30 s. */
  readyTimeout?: number | string;
  /** More permissions for the shell process; see {@linkcode ShOptions.permissions}. */
  permissions?: Permissions;
  /** The working directory, relative to the task file's folder. */
  cwd?: string;
  /** Between SIGTERM and SIGKILL when it is stopped, in ms. Default 5000. */
  grace?: number;
}

/** What a service's dependants get as its result. */
export interface ServiceInfo {
  /** The command. */
  command: string;
  /** The port it was ready on, when `ready` named one. */
  port?: number;
  /** The URL that answered, when `ready` named one. */
  url?: string;
}

const TAIL = 10;
const POLL_MS = 50;

/**
 * Declares a service: a command that keeps running while the tasks that
 * depend on it run. Its `run` permission comes from the command, as for
 * `sh()`; a `port` or `url` readiness check adds the `net` permission it
 * needs. A service that exits before it is ready fails with its output's last
 * lines; one that exits while dependants run fails them the same way.
 *
 * @param command The command, as you would write it in `deno task`.
 * @param options When it is ready, and its deps, permissions and cwd.
 * @returns An io task declaration, for `defineTasks`.
 * @throws {TaskFileError} As `sh()` does, or for an invalid `ready`.
 * @example A server and a smoke test against it
 * ```ts
 * import { defineTasks, io, service } from "@spool/spool";
 *
 * export default defineTasks({
 *   api: service("deno run -A server.ts", { ready: { port: 8080 } }),
 *   smoke: io({
 *     deps: ["api"],
 *     permissions: { net: ["127.0.0.1:8080"], run: ["curl"] },
 *     run: async ({ $ }) => await $`curl -s http://127.0.0.1:8080/health`.text(),
 *   }),
 * });
 * ```
 */
export function service(
  command: string,
  options: ServiceOptions = {},
): TaskDefinition<ServiceInfo> {
  const fail = (message: string): never => {
    throw new TaskFileError(message);
  };
  if (typeof command !== "string" || command.trim() === "") {
    fail(
      'Cannot declare a service: service() expects the command text, such as service("deno run -A server.ts")',
    );
  }
  const found = commandPrograms(command);
  if (found.background) {
    fail(
      `Cannot run service "${command}": dax does not run jobs in the background with '&'; give each its own service()`,
    );
  }
  const declared = options.permissions ?? {};
  if (found.unknown.length > 0 && declared.run === undefined) {
    fail(
      `Cannot tell which programs service "${command}" runs: name them in permissions: { run: [...] }`,
    );
  }
  const ready = options.ready;
  let net: string | undefined;
  if (ready !== undefined) {
    if ("port" in ready) {
      if (!Number.isInteger(ready.port) || ready.port < 1 || ready.port > 65535) {
        fail(`Service "${command}" has an invalid 'ready.port': expected 1 to 65535`);
      }
      net = `127.0.0.1:${ready.port}`;
    } else if ("url" in ready) {
      try {
        net = new URL(ready.url).host;
      } catch {
        fail(`Service "${command}" has an invalid 'ready.url': ${JSON.stringify(ready.url)}`);
      }
    } else if (!("line" in ready) || !(ready.line instanceof RegExp)) {
      fail(
        `Service "${command}" has an invalid 'ready': give { port }, { url } or { line: /regex/ }`,
      );
    }
  }
  const readyMs = parseDuration(options.readyTimeout ?? 30_000);
  if (readyMs === undefined) {
    fail(`Service "${command}" has an invalid 'readyTimeout': expected ms or a duration`);
  }
  const run = declared.run === true
    ? true
    : [...new Set([...found.programs, ...(Array.isArray(declared.run) ? declared.run : [])])];
  const netScopes = declared.net === true
    ? true
    : [...new Set([...(net === undefined ? [] : [net]), ...(declared.net || [])])];
  const permissions: Permissions = {
    ...declared,
    ...(run === true || run.length > 0 ? { run } : {}),
    ...(netScopes === true || netScopes.length > 0 ? { net: netScopes } : {}),
  };
  const file = callerModule();
  const folder = file?.startsWith("file:") ? new URL(".", file) : undefined;
  const definition = io<ServiceInfo>({
    description: options.description ?? `service: ${command}`,
    ...(options.deps === undefined ? {} : { deps: options.deps }),
    permissions,
    trusted: true,
    async run({ signal }) {
      const base = folder ?? new URL(`file://${Deno.cwd().replace(/\/?$/, "/")}`);
      const cwd = decodeURIComponent(new URL(options.cwd ?? ".", base).pathname);
      const stopper = new AbortController();
      const tail: string[] = [];
      const lineSeen = Promise.withResolvers<void>();
      const running = runShell(command, {
        cwd,
        permissions,
        signal: stopper.signal,
        graceMs: options.grace ?? 5_000,
        keepStdout: false,
        onLine: (stream, line) => {
          (stream === "stdout" ? console.log : console.error)("%s", line);
          tail.push(line);
          if (tail.length > TAIL) tail.shift();
          if (ready !== undefined && "line" in ready && ready.line.test(line)) lineSeen.resolve();
        },
      });
      let stopping = false;
      const exited = running.then(
        (outcome) =>
          stopping ? undefined : new Error(
            `Service "${command}" exited with code ${outcome.code}${
              outcome.shellError === undefined ? "" : ` (${outcome.shellError})`
            }${tail.length === 0 ? "" : `, last lines of its output:\n${tail.join("\n")}`}`,
          ),
        (error) => error instanceof Error ? error : new Error(String(error)),
      );
      const stop = async () => {
        stopping = true;
        stopper.abort();
        await running.catch(() => {});
      };
      const readiness = AbortSignal.any([signal, AbortSignal.timeout(readyMs!)]);
      try {
        await Promise.race([
          waitReady(ready, lineSeen.promise, readiness),
          exited.then((error) => {
            throw error ?? new Error(`Service "${command}" ended before it was ready`);
          }),
        ]);
      } catch (error) {
        await stop();
        if (signal.aborted) throw signal.reason;
        if (readiness.aborted) {
          throw new Error(
            `Service "${command}" was not ready within ${readyMs} ms${
              tail.length === 0 ? "" : `, last lines of its output:\n${tail.join("\n")}`
            }`,
          );
        }
        throw error;
      }
      const info: ServiceInfo = {
        command,
        ...(ready !== undefined && "port" in ready ? { port: ready.port } : {}),
        ...(ready !== undefined && "url" in ready ? { url: ready.url } : {}),
      };
      return serviceValue({ info, stop, exited }) as ServiceInfo;
    },
  });
  Object.defineProperty(definition, "command", { value: command, enumerable: true });
  Object.defineProperty(definition, "service", { value: true, enumerable: true });
  return definition;
}

/** Resolves when the service is ready; rejects when `signal` aborts first. */
async function waitReady(
  ready: ServiceReady | undefined,
  line: Promise<void>,
  signal: AbortSignal,
): Promise<void> {
  if (ready === undefined) return;
  const aborted = new Promise<never>((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
  aborted.catch(() => {});
  if ("line" in ready) return await Promise.race([line, aborted]);
  for (;;) {
    signal.throwIfAborted();
    if (await probe(ready, signal)) return;
    await Promise.race([new Promise((resolve) => setTimeout(resolve, POLL_MS)), aborted]);
  }
}

async function probe(
  ready: { port: number } | { url: string },
  signal: AbortSignal,
): Promise<boolean> {
  try {
    if ("port" in ready) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: ready.port });
      conn.close();
      return true;
    }
    const response = await fetch(ready.url, { signal });
    await response.body?.cancel();
    return response.status >= 200 && response.status < 300;
  } catch {
    return false;
  }
}
