/**
 * `deno task cluster`: a local cluster for trying `spool run --nats`: a
 * nats-server with JetStream (a temporary store, port 4222 when free), and
 * two `spool worker` processes for `tasks/pipeline.ts`, one slot each. It
 * prints the command that runs the pipeline on them and waits for Ctrl-C,
 * which stops everything.
 *
 *     deno task cluster           # then, in another terminal, the printed command
 *     deno task cluster --run     # runs the pipeline on the cluster once, then stops
 *
 * @module
 */

const ROOT = new URL("../", import.meta.url).pathname;
const FILE = "tasks/pipeline.ts";
const FLAGS = ["--no-prompt", "--allow-read=.", "--allow-net=127.0.0.1", "--allow-run=deno"];

function freePort(preferred: number): number {
  try {
    Deno.listen({ hostname: "127.0.0.1", port: preferred }).close();
    return preferred;
  } catch {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const { port } = listener.addr as Deno.NetAddr;
    listener.close();
    return port;
  }
}

/** Starts a process and resolves once its stderr shows `ready`; the rest goes to this stderr. */
async function start(command: string, args: string[], ready: string): Promise<Deno.ChildProcess> {
  const child = new Deno.Command(command, {
    args,
    cwd: ROOT,
    stdin: "null",
    stdout: "inherit",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes(ready)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${command} ${args.join(" ")} did not start:\n${seen}`);
    seen += value;
  }
  (async () => {
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      Deno.stderr.writeSync(new TextEncoder().encode(r.value));
    }
  })().catch(() => {});
  return child;
}

const store = await Deno.makeTempDir({ prefix: "spool-cluster-" });
const port = freePort(4222);
const url = `nats://127.0.0.1:${port}`;
const children: Deno.ChildProcess[] = [];
const stop = async () => {
  for (const child of children.reverse()) {
    try {
      child.kill("SIGTERM");
    } catch {
      // It has exited.
    }
    await child.status;
  }
  await Deno.remove(store, { recursive: true });
};
let code = 0;
try {
  let nats: Deno.ChildProcess;
  try {
    nats = await start(
      "nats-server",
      ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", store],
      "Server is ready",
    );
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    console.error(
      "error: nats-server is not installed: apt-get install nats-server (or see https://nats.io)",
    );
    Deno.exit(2);
  }
  children.push(nats);
  console.error(`NATS with JetStream on ${url}`);
  for (let i = 0; i < 2; i++) {
    children.push(
      await start(
        Deno.execPath(),
        // --allow-sys=hostname: the report names each worker's machine.
        [
          "run",
          ...FLAGS,
          "--allow-sys=hostname",
          "cli.ts",
          "-f",
          FILE,
          "worker",
          "--nats",
          url,
          "-w",
          "1",
        ],
        "waiting for jobs",
      ),
    );
  }
  const run = ["run", ...FLAGS, "cli.ts", "-f", FILE, "run", "--nats", url];
  if (Deno.args.includes("--run")) {
    const child = new Deno.Command(Deno.execPath(), { args: run, cwd: ROOT, stdin: "null" });
    code = (await child.spawn().status).code;
  } else {
    console.error(
      `\nTwo workers are ready. In another terminal:\n\n  deno ${
        run.join(" ")
      }\n\nCtrl-C stops the cluster.`,
    );
    await new Promise<void>((resolve) => {
      Deno.addSignalListener("SIGINT", () => resolve());
      Deno.addSignalListener("SIGTERM", () => resolve());
    });
  }
} finally {
  await stop();
}
Deno.exit(code);
