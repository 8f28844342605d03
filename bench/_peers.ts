/**
 * The peers: Piscina on Node (installed from npm into a temporary folder for
 * this run only) and Python's ProcessPoolExecutor. Each runs as a server
 * subprocess that takes one JSON command per line and answers with one JSON
 * line, so that bench/run.ts can run spool and the peers in turn within each
 * repetition, in the same noise window.
 *
 * @module
 */

/** What both peers are started with. */
export interface PeerConfig {
  /** Pool size, the same as spool's. */
  workers: number;
}

/** A command for a peer: `op` names the figure; the rest are its sizes. */
export interface PeerCommand {
  op: string;
  [key: string]: unknown;
}

/** A peer server: send it commands, one at a time. */
export interface Peer extends AsyncDisposable {
  /** `"Piscina"` or `"Python"`. */
  readonly name: string;
  /** The runtime's version, as the peer reported it. */
  readonly version: string;
  /**
   * Runs one command.
   *
   * @param command The figure and its sizes.
   * @returns The peer's answer, such as `{ ms: 12.3 }`.
   * @throws {Error} When the peer reports an error or exits.
   */
  call(command: PeerCommand): Promise<Record<string, number>>;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

async function output(command: string, args: string[], cwd?: string): Promise<string> {
  const result = await new Deno.Command(command, { args, cwd, stdin: "null" }).output();
  if (!result.success) {
    throw new Error(
      `${command} ${args[0]} failed with exit code ${result.code}: ${
        decoder.decode(result.stderr).trim()
      }`,
    );
  }
  return decoder.decode(result.stdout);
}

/**
 * Installs Piscina into a new temporary folder, removed on dispose.
 *
 * @returns The folder holding `node_modules/piscina`.
 */
export async function installPiscina(): Promise<AsyncDisposable & { path: string }> {
  const path = await Deno.makeTempDir({ prefix: "spool-bench-" });
  await output("npm", [
    "install",
    "--prefix",
    path,
    "--no-audit",
    "--no-fund",
    "--silent",
    "piscina@5",
  ]);
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

async function startPeer(name: string, command: string, args: string[]): Promise<Peer> {
  const child = new Deno.Command(command, {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const writer = child.stdin.getWriter();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).values();
  let buffered = "";
  const readLine = async (): Promise<Record<string, unknown>> => {
    while (!buffered.includes("\n")) {
      const step = await lines.next();
      if (step.done) throw new Error(`The ${name} peer exited before it answered`);
      buffered += step.value;
    }
    const end = buffered.indexOf("\n");
    const line = buffered.slice(0, end);
    buffered = buffered.slice(end + 1);
    const answer = JSON.parse(line);
    if (typeof answer.error === "string") {
      throw new Error(`The ${name} peer failed: ${answer.error}`);
    }
    return answer;
  };
  const hello = await readLine();
  return {
    name,
    version: String(hello.version),
    async call(command) {
      await writer.write(encoder.encode(JSON.stringify(command) + "\n"));
      return await readLine() as Record<string, number>;
    },
    async [Symbol.asyncDispose]() {
      await writer.write(encoder.encode(JSON.stringify({ op: "quit" }) + "\n")).catch(() => {});
      await writer.close().catch(() => {});
      await child.status;
    },
  };
}

/**
 * Starts the Piscina server, its warm pool started and warmed.
 *
 * @param dir The folder Piscina was installed into.
 * @param config The pool size.
 * @returns The peer.
 */
export function startPiscina(dir: string, config: PeerConfig): Promise<Peer> {
  const script = new URL("./peers/piscina_server.mjs", import.meta.url).pathname;
  return startPeer("Piscina", "node", [script, dir, JSON.stringify(config)]);
}

/**
 * Starts the Python server, its warm pool started and warmed.
 *
 * @param config The pool size.
 * @returns The peer.
 */
export function startPython(config: PeerConfig): Promise<Peer> {
  const script = new URL("./peers/python_server.py", import.meta.url).pathname;
  return startPeer("Python", "python3", [script, JSON.stringify(config)]);
}
