/**
 * Commands as tasks: a small project (tasks/_project/) checked, tested, served
 * and smoke-tested. `check` and `test` are shell commands, `api` is a service
 * that is up only while the tasks that need it run, and `smoke` talks to it
 * with `fetch` and runs a program with the context's `$`.
 *
 * ```sh
 * deno run --no-prompt --allow-read=. --allow-net=127.0.0.1 --allow-run tasks/commands.ts
 * ```
 *
 * @module
 */

import { defineTasks, io, main, service, sh } from "../mod.ts";

const PORT = 8787;
const project = { cwd: "_project" };

export default defineTasks({
  check: sh("deno check greet.ts server.ts", { ...project, description: "Type-check" }),
  test: sh("deno test --no-prompt greet_test.ts", { ...project, deps: ["check"], timeout: "2m" }),
  api: service(`deno run --allow-net=127.0.0.1 server.ts ${PORT}`, {
    ...project,
    deps: ["check"],
    ready: { url: `http://127.0.0.1:${PORT}/health` },
    readyTimeout: "20s",
  }),
  smoke: io({
    description: "Ask the running server for a greeting",
    deps: ["api", "test"],
    permissions: { net: [`127.0.0.1:${PORT}`], run: ["deno"] },
    async run({ $, signal }) {
      const response = await fetch(`http://127.0.0.1:${PORT}/hello?name=spool`, { signal });
      const greeting = await response.text();
      if (greeting !== "hello, spool") throw new Error(`Unexpected greeting: ${greeting}`);
      const [deno] = await $`deno --version`.lines();
      return `${greeting} (served by ${deno})`;
    },
  }),
});

if (import.meta.main) await main(import.meta.url);
