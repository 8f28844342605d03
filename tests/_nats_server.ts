/**
 * A NATS server (with JetStream) for the tests that run spool over NATS: on a
 * free loopback port, with a temporary store, stopped on dispose. Without
 * `nats-server` on PATH those tests are skipped with a message, except in CI
 * (`CI=true`), where .ci/run installs it and its absence is a failure.
 *
 * @module
 */

/** Whether the tests that need a NATS server should be skipped. */
export const NATS_MISSING: boolean = await (async () => {
  try {
    const { success } = await new Deno.Command("nats-server", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    }).output();
    if (success) return false;
  } catch {
    // Not installed.
  }
  if (Deno.env.get("CI") === "true") {
    throw new Error(
      "nats-server is not installed: .ci/run installs it (apt-get install nats-server)",
    );
  }
  console.error(
    "Skipping the NATS tests: nats-server is not on PATH (apt-get install nats-server)",
  );
  return true;
})();

/** A running server. */
export interface NatsServer extends AsyncDisposable {
  /** Its client URL, `nats://127.0.0.1:<port>`. */
  readonly url: string;
}

/**
 * Starts `nats-server -js` on a random loopback port with a temporary store.
 *
 * @returns The server; disposing stops it and removes its store.
 */
export async function startNats(): Promise<NatsServer> {
  const store = await Deno.makeTempDir({ prefix: "spool-nats-" });
  const child = new Deno.Command("nats-server", {
    args: ["-js", "-a", "127.0.0.1", "-p", "-1", "-sd", store],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const lines = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let log = "";
  let url: string | undefined;
  while (url === undefined) {
    const { value, done } = await lines.read();
    if (done) throw new Error(`nats-server did not start:\n${log}`);
    log += value;
    const match = log.match(/Listening for client connections on 127\.0\.0\.1:(\d+)/);
    if (match !== null && log.includes("Server is ready")) url = `nats://127.0.0.1:${match[1]}`;
  }
  // Keep reading, so that the server never blocks on a full pipe.
  const draining = (async () => {
    while (!(await lines.read()).done);
  })().catch(() => {});
  return {
    url,
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGTERM");
      } catch {
        // It has exited.
      }
      await child.status;
      await draining;
      await Deno.remove(store, { recursive: true });
    },
  };
}
