/**
 * The main module of a sandbox host: a Deno process started by the pool with
 * exactly one permission set (plus read access to the code it loads and a
 * connection back to the runner), `--no-prompt`, and stdin closed after one
 * line. It runs no task code itself: tasks run in a Web Worker inside it,
 * spawned with exactly the declared permissions, and this module relays
 * messages between that worker and the runner.
 *
 * A process, not just a worker, because some faults end a whole process:
 * a heap exhausted in any isolate aborts it, and `Deno.kill(Deno.pid)` needs
 * no permission. Here they end the host, and the pool fails the task the host
 * held and starts another.
 *
 * @module
 */

import type { FrameWriter } from "./_frames.ts";
import type { FromWorker, HostConfig, ToHost } from "./_protocol.ts";

const config = JSON.parse(Deno.args[0]) as HostConfig;

// The token first, before any task code can run in this process and read
// stdin itself; then the worker, before the connection: loading its code is
// most of a host's start, and it needs nothing from the runner until the
// runner's first message. What it says before the connection is up waits here.
const token = await readToken();
const link: { writer?: FrameWriter; early: FromWorker[] } = { early: [] };
function send(message: FromWorker): void {
  if (link.writer === undefined) link.early.push(message);
  else link.writer.write(message);
}

let worker: Worker | undefined;
let generation = 0;
spawn();

// Imported after the worker has started loading: its `node:v8` costs this
// thread about 20 ms that the worker's start need not wait for.
const frames = await import("./_frames.ts");
const conn = await Deno.connect({ hostname: "127.0.0.1", port: config.port });
// Small frames both ways: Nagle's algorithm would hold each for a delayed ACK.
conn.setNoDelay(true);
const toRunner = new frames.FrameWriter(conn, (message, error) => {
  // Cloned from the worker but not serializable here (shared memory): the
  // task fails with the reason instead of its result going missing.
  const m = message as FromWorker;
  if (m.type === "result") {
    toRunner.write(
      {
        type: "error",
        id: m.id,
        error: {
          name: "TypeError",
          message:
            `Cannot return the result of the task: it is not structured-cloneable (${error.message})`,
        },
      } satisfies FromWorker,
    );
  }
});
toRunner.write({ type: "hello", token });
for (const message of link.early.splice(0)) toRunner.write(message);
link.writer = toRunner;

function spawn(): void {
  const current = ++generation;
  const w = new Worker(config.bootstrap, {
    type: "module",
    name: config.name,
    deno: { permissions: config.permissions },
  });
  w.onmessage = (event: MessageEvent<FromWorker | FromWorker[]>) => {
    if (current !== generation) return;
    const data = event.data;
    if (Array.isArray(data)) { for (const message of data) send(message); }
    else send(data);
  };
  w.onerror = (event: ErrorEvent) => {
    event.preventDefault();
    if (current !== generation) return;
    send(
      {
        type: "fatal",
        error: { name: "Error", message: event.message },
      } satisfies FromWorker,
    );
  };
  w.onmessageerror = () => {
    if (current !== generation) return;
    send(
      {
        type: "fatal",
        error: { name: "Error", message: "a message from the worker could not be deserialized" },
      } satisfies FromWorker,
    );
  };
  worker = w;
}

// The messages of one tick go to the worker as one array: one structured clone.
let inbox: ToHost[] = [];
function flushInbox(): void {
  const batch = inbox;
  inbox = [];
  if (batch.length > 0) worker?.postMessage(batch);
}
try {
  await frames.readFrames(conn, (message) => {
    const data = message as ToHost;
    if (data.type === "recycle") {
      // A fresh realm: nothing a task left on the last one (globals, timers) survives.
      flushInbox();
      worker?.terminate();
      spawn();
      return;
    }
    if (inbox.length === 0) queueMicrotask(flushInbox);
    inbox.push(data);
  });
} catch {
  // A torn connection: the runner is gone or gave up on this host.
}
// The runner closed the connection: nothing more will come.
Deno.exit(0);

/** The first line of stdin: the token that proves to the runner who is calling. */
async function readToken(): Promise<string> {
  // `Deno.stdin.read`, not its ReadableStream: the stream's first use costs
  // the host about 10 ms before its worker can start, the read under 1 ms.
  const chunks: Uint8Array[] = [];
  const buffer = new Uint8Array(256);
  for (;;) {
    const n = await Deno.stdin.read(buffer);
    if (n !== null) chunks.push(buffer.slice(0, n));
    const text = new TextDecoder().decode(concat(chunks));
    const newline = text.indexOf("\n");
    if (newline >= 0) return text.slice(0, newline);
    if (n === null) return text;
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}
