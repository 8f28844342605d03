/**
 * The pool's view of one worker, wherever it lives: an `Endpoint` carries the
 * protocol's messages both ways and says when the worker is gone. Two kinds:
 *
 * - `"process"` (what tasks run in): a sandbox host process started with
 *   exactly the task's permissions and `--no-prompt`, its worker inside it
 *   (see `_host_main.ts`). A fault that ends a process (a heap exhausted,
 *   `Deno.kill(Deno.pid)`, a crash in native code) ends only the host.
 * - `"worker"`: a Web Worker in this process. Cheaper to start and to talk
 *   to, but a heap exhausted in it aborts the whole process, and permission
 *   prompts follow the process's `--no-prompt`.
 *
 * @module
 */

import { FrameWriter, readFrames } from "./_frames.ts";
import { type FromWorker, type HostConfig, packRuns, type ToHost } from "./_protocol.ts";
import { grantFlags, type Permissions, workerPermissions } from "../declare/permissions.ts";
import { denoExecutable } from "./_deno_executable.ts";

export { denoExecutable };

/** Where a worker lives: a sandbox host process, or this process. */
export type Isolation = "process" | "worker";

/** What an endpoint reports to its pool. */
export interface EndpointEvents {
  /** A message from the worker. */
  message(message: FromWorker): void;
  /** The worker is gone for good: the reason, and the worker's own error if it sent one. */
  crash(reason: string, cause?: Error): void;
  /** Text a host process wrote to its stdout or stderr itself, not through `console`. */
  output(stream: "stdout" | "stderr", text: string): void;
  /** A message could not be serialized for the worker (it holds a function, shared memory...). */
  unsendable(message: ToHost, error: Error): void;
}

/** One worker as the pool sees it. */
export interface Endpoint {
  /**
   * Sends a message to the worker; one that cannot be cloned is reported
   * through `unsendable`.
   */
  post(message: ToHost, transfer: Transferable[]): void;
  /** Replaces the worker with a fresh one (a new realm); it says `ready` again. */
  recycle(): void;
  /** Ends the worker at once; no more events follow. */
  terminate(): void;
  /**
   * For a host process: resolves once it has been handed its token (or
   * could not be), the one thing its start waits for from this thread.
   */
  launched?: Promise<void>;
}

/** What starting a worker needs. */
export interface EndpointOptions {
  /** The worker's entry module (a data: URL). */
  bootstrap: string;
  /** The worker's name. */
  name: string;
  /** Exactly the permissions the worker gets. */
  permissions: Permissions;
  /** Files and folders the host process must read to load the worker's code. */
  codePaths: readonly string[];
  /**
   * Whether the host loads dynamic imports lazily (`ModuleCode.lazy` in
   * `_code_paths.ts`); a host process only.
   */
  lazyImports?: boolean;
  /** The host process's heap limit in MiB; V8's default when absent. */
  maxHeapMb?: number;
  /**
   * For a host started before its code paths were known: resolves `true`
   * once they turn out to be covered by `codePaths`, `false` when the host
   * will be terminated instead. It starts loading at once, and what it says
   * (its messages, its output, its end) waits for the answer: delivered on
   * `true`, dropped on `false`. No task is sent to it before the answer.
   */
  confirmed?: Promise<boolean>;
}

// Taken when spool loads, before any task code runs: a trusted task (which
// runs on this thread) that replaces them later cannot widen a sandbox.
const workerConstructor = globalThis.Worker;
const enqueueMicrotask = globalThis.queueMicrotask;
const Command = Deno.Command;

/**
 * Starts a Web Worker in this process.
 *
 * @param options The worker's code and permissions.
 * @param events Where its messages and its end go.
 * @returns The endpoint.
 */
export function workerEndpoint(options: EndpointOptions, events: EndpointEvents): Endpoint {
  let worker: Worker | undefined;
  const spawn = () => {
    const w = new workerConstructor(options.bootstrap, {
      type: "module",
      name: options.name,
      deno: { permissions: workerPermissions(options.permissions) },
    });
    w.onmessage = (event: MessageEvent<FromWorker | FromWorker[]>) => {
      if (worker !== w) return;
      const data = event.data;
      // The worker sends the messages of one tick as one array.
      if (Array.isArray(data)) { for (const message of data) events.message(message); }
      else events.message(data);
    };
    w.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      if (worker === w) events.crash(event.message);
    };
    w.onmessageerror = () => {
      if (worker === w) events.crash("a message from the worker could not be deserialized");
    };
    worker = w;
  };
  spawn();
  // The messages of one tick go as one array (the worker side takes either):
  // many calls submitted at once, or the next calls sent as results come
  // back together, then cost one structured clone and one wake-up of the
  // worker, not one each. The worker answers them in one message too.
  let outbox: ToHost[] = [];
  let flushing = false;
  const flush = () => {
    flushing = false;
    const batch = outbox;
    outbox = [];
    if (batch.length === 0 || worker === undefined) return;
    send(batch.length === 1 ? batch[0] : packRuns(batch) as ToHost[], []);
  };
  const send = (data: ToHost | ToHost[], transfer: Transferable[]) => {
    try {
      // Without a transfer list Deno takes a faster path (no list to convert).
      if (transfer.length === 0) worker?.postMessage(data);
      else worker?.postMessage(data, transfer);
    } catch (error) {
      if (!Array.isArray(data)) {
        events.unsendable(data, error as Error);
        return;
      }
      // One of them cannot be cloned: one at a time, so that only it fails.
      for (const message of data) send(message, []);
    }
  };
  return {
    post(message, transfer) {
      if (transfer.length > 0) {
        // Buffers move now, as the caller expects: what was queued goes first.
        const batch = outbox;
        outbox = [];
        if (batch.length > 0) send(batch.length === 1 ? batch[0] : batch, []);
        send(message, transfer);
        return;
      }
      outbox.push(message);
      if (!flushing) {
        flushing = true;
        enqueueMicrotask(flush);
      }
    },
    recycle() {
      // What was queued for the old worker is dropped with it.
      outbox = [];
      worker?.terminate();
      spawn();
    },
    terminate() {
      outbox = [];
      worker?.terminate();
      worker = undefined;
    },
  };
}

/** The loopback listener that host processes connect back to; one per pool. */
export class HostListener {
  #listener: Deno.TcpListener | undefined;
  #waiting = new Map<string, (conn: Deno.Conn) => HostConnection>();
  #closed = false;

  /** The port hosts connect to, listening from the first call on. */
  get port(): number {
    if (this.#listener === undefined) {
      this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      this.#accept(this.#listener);
    }
    return this.#listener.addr.port;
  }

  /**
   * Waits for the host that presents `token`.
   *
   * @param token A secret given only to that host, on its stdin.
   * @param onConnect Called with its connection.
   */
  expect(token: string, onConnect: (conn: Deno.Conn) => HostConnection): void {
    this.#waiting.set(token, onConnect);
  }

  /**
   * Stops waiting for a host.
   *
   * @param token Its token.
   */
  forget(token: string): void {
    this.#waiting.delete(token);
  }

  /** Stops listening. */
  close(): void {
    this.#closed = true;
    this.#listener?.close();
    this.#listener = undefined;
  }

  async #accept(listener: Deno.TcpListener): Promise<void> {
    try {
      for await (const conn of listener) this.#handshake(conn);
    } catch {
      // Closed.
    }
  }

  #handshake(conn: Deno.Conn): void {
    // A first frame that is not a known token's hello closes the connection:
    // a task that may reach loopback cannot talk to the runner in a host's place.
    let peer: HostConnection | undefined;
    readFrames(conn, (message) => {
      const data = message as FromWorker;
      if (peer !== undefined) return peer.message(data);
      if (data?.type !== "hello" || !this.#waiting.has(data.token) || this.#closed) {
        throw new Error("unknown peer");
      }
      const onConnect = this.#waiting.get(data.token)!;
      this.#waiting.delete(data.token);
      peer = onConnect(conn);
    }).catch(() => {}).finally(() => {
      if (peer === undefined) {
        try {
          conn.close();
        } catch {
          // Already closed.
        }
      }
      peer?.end();
    });
  }
}

/** What a host's connection reports, once the host has said who it is. */
interface HostConnection {
  /** A frame from the host. */
  message(message: FromWorker): void;
  /** The connection ended. */
  end(): void;
}

/** Deno flags that take their value as the next argument. */
const WITH_VALUE = new Set([
  "--config",
  "-c",
  "--import-map",
  "--lock",
  "--location",
  "--cert",
  "--seed",
]);
/** Of those and the flags alone, the ones that decide how modules resolve. */
const RESOLUTION = new Set(["--config", "-c", "--import-map", "--lock", "--node-modules-dir"]);
const RESOLUTION_ALONE = new Set([
  "--no-config",
  "--no-lock",
  "--no-npm",
  "--no-remote",
  "--vendor",
  "--node-modules-dir",
]);

let cachedOwnFlags: string[] | null | undefined;

/**
 * The flags this process's `deno` was started with, between the subcommand
 * (`run`, `test`, ...) and the script, each flag with its value.
 *
 * @returns The flags, read once from `/proc/self/cmdline`; `undefined` where
 * that cannot be read (not Linux, or no read access to it).
 */
export function ownDenoFlags(): readonly string[] | undefined {
  if (cachedOwnFlags === undefined) {
    cachedOwnFlags = null;
    try {
      const path = "/proc/self/cmdline";
      if (Deno.permissions.querySync({ name: "read", path }).state === "granted") {
        const args = Deno.readTextFileSync(path).split("\0");
        const flags: string[] = [];
        for (let i = 2; i < args.length && args[i].startsWith("-"); i++) {
          flags.push(args[i]);
          if (WITH_VALUE.has(args[i]) && i + 1 < args.length) flags.push(args[++i]);
        }
        cachedOwnFlags = flags;
      }
    } catch {
      // Not readable: unknown.
    }
  }
  return cachedOwnFlags ?? undefined;
}

/**
 * Module-resolution flags of this process (`--config`, `--import-map`, ...)
 * that a host, and `deno info`, need to load the same code the same way.
 *
 * @returns The flags; none where this process's flags cannot be read (the
 * host then finds its configuration as `deno run` would).
 */
export function resolutionFlags(): string[] {
  const own = ownDenoFlags() ?? [];
  const flags: string[] = [];
  for (let i = 0; i < own.length; i++) {
    const name = own[i].split("=")[0];
    if (RESOLUTION_ALONE.has(name) || (RESOLUTION.has(name) && own[i].includes("="))) {
      flags.push(own[i]);
    } else if (RESOLUTION.has(name) && WITH_VALUE.has(name)) flags.push(own[i], own[++i]);
  }
  return flags;
}

/** The host process's main module. */
const HOST_MAIN = new URL("./_host_main.ts", import.meta.url);

/** What ends a host's stderr when V8 runs out of heap. */
const OOM = /Fatal (JavaScript|process) out of memory|Reached heap limit|<--- Last few GCs --->/;

/**
 * Starts a sandbox host process whose worker holds exactly `permissions`.
 *
 * @param listener Where the host connects back.
 * @param options The worker's code, permissions and heap limit.
 * @param events Where its messages and its end go.
 * @returns The endpoint.
 */
export function processEndpoint(
  listener: HostListener,
  options: EndpointOptions,
  given: EndpointEvents,
): Endpoint {
  const events = options.confirmed === undefined ? given : heldUntil(options.confirmed, given);
  const token = crypto.randomUUID();
  let writer: FrameWriter | undefined;
  let conn: Deno.Conn | undefined;
  let queued: ToHost[] = [];
  let ended = false;
  let outOfMemory = false;
  const tail: string[] = [];

  const config: HostConfig = {
    port: listener.port,
    bootstrap: options.bootstrap,
    name: options.name,
    permissions: workerPermissions(options.permissions),
  };
  const { read, net } = options.permissions;
  // The host reads its code and talks to the runner; the worker inside it
  // gets only what was declared.
  const flags = grantFlags({
    ...options.permissions,
    read: read === true ? true : [...(read || []), ...options.codePaths],
    net: net === true ? true : [...(net || []), `127.0.0.1:${listener.port}`],
  });
  const args = [
    "run",
    "--no-prompt",
    "--unstable-worker-options",
    "--cached-only",
    ...(options.lazyImports ? ["--unstable-lazy-dynamic-imports"] : []),
    ...resolutionFlags(),
    ...flags,
    ...(options.maxHeapMb === undefined
      ? []
      : [`--v8-flags=--max-old-space-size=${options.maxHeapMb}`]),
    HOST_MAIN.href,
    JSON.stringify(config),
  ];
  const child = new Command(denoExecutable() ?? Deno.execPath(), {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    // Its own process group: a Ctrl-C at the terminal reaches the runner,
    // which cancels tasks in order, not every host at once; and ending the
    // group ends whatever processes the host's tasks started.
    detached: true,
  }).spawn();
  listener.expect(token, (c) => {
    conn = c;
    // Small frames both ways: Nagle's algorithm would hold each for a delayed ACK.
    (c as Deno.TcpConn).setNoDelay?.(true);
    writer = new FrameWriter(
      c,
      (message, error) => events.unsendable(message as ToHost, error),
      (batch) => packRuns(batch as ToHost[]),
    );
    for (const message of queued) writer.write(message);
    queued = [];
    return {
      message(message) {
        if (!ended) events.message(message);
      },
      end() {
        // The process is ending too, and its status says why; make sure it does.
        if (ended) return;
        const timer = setTimeout(() => killGroup(child), 2000);
        Deno.unrefTimer(timer);
      },
    };
  });
  const writer0 = child.stdin.getWriter();
  const launched = writer0.write(new TextEncoder().encode(`${token}\n`))
    .then(() => writer0.close()).catch(() => {});
  pipeLines(child.stdout, (line) => {
    if (!ended) events.output("stdout", line);
  });
  pipeLines(child.stderr, (line) => {
    if (OOM.test(line)) outOfMemory = true;
    if (outOfMemory) return;
    tail.push(line);
    if (tail.length > 20) tail.shift();
    if (!ended) events.output("stderr", line);
  });
  child.status.then((status) => {
    listener.forget(token);
    if (ended) return;
    ended = true;
    conn?.close();
    events.crash(exitReason(status, outOfMemory, options.maxHeapMb));
  });

  return {
    launched,
    post(message, _transfer) {
      if (ended) return;
      if (writer === undefined) queued.push(message);
      else writer.write(message);
    },
    recycle() {
      this.post({ type: "recycle" }, []);
    },
    terminate() {
      if (ended) return;
      ended = true;
      listener.forget(token);
      try {
        conn?.close();
      } catch {
        // Already closed.
      }
      killGroup(child);
    },
  };
}

/**
 * Events that wait for `confirmed`: replayed in order once it is `true`,
 * dropped (with all that follow) once it is `false`. A host started before
 * `deno info` answered loads meanwhile, and a load that fails because the
 * answer asks for more than it holds (a read grant for a helper module) must
 * not fail the task file: that host is replaced, and what it said is void.
 */
function heldUntil(confirmed: Promise<boolean>, events: EndpointEvents): EndpointEvents {
  let held: (() => void)[] | undefined = [];
  let dropped = false;
  const decide = (ok: boolean) => {
    const calls = held ?? [];
    held = undefined;
    dropped = !ok;
    if (ok) { for (const call of calls) call(); }
  };
  confirmed.then(decide, () => decide(false));
  const gate = (call: () => void) => {
    if (held !== undefined) held.push(call);
    else if (!dropped) call();
  };
  return {
    message: (message) => gate(() => events.message(message)),
    crash: (reason, cause) => gate(() => events.crash(reason, cause)),
    output: (stream, text) => gate(() => events.output(stream, text)),
    unsendable: (message, error) => gate(() => events.unsendable(message, error)),
  };
}

/** Ends a host and every process in its group (what its tasks started). */
function killGroup(child: Deno.ChildProcess): void {
  try {
    Deno.kill(-child.pid, "SIGKILL");
  } catch {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

function exitReason(status: Deno.CommandStatus, outOfMemory: boolean, heapMb?: number): string {
  if (outOfMemory) {
    return `it ran out of memory (heap limit ${
      heapMb === undefined ? "V8's default" : `${heapMb} MiB`
    }): the process hosting it was stopped; raise the task's maxHeapMb or make it allocate less`;
  }
  if (status.signal !== null) {
    return `the process hosting it was killed by ${status.signal}`;
  }
  return `the process hosting it exited with code ${status.code}`;
}

async function pipeLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  const decoder = new TextDecoder();
  let rest = "";
  try {
    for await (const chunk of stream) {
      const text = rest + decoder.decode(chunk, { stream: true });
      const lines = text.split("\n");
      rest = lines.pop()!;
      for (const line of lines) onLine(line);
    }
  } catch {
    // The process is gone.
  }
  if (rest !== "") onLine(rest);
}
