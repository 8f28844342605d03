/**
 * Concurrent downloads: the background texts' first lesson. Three pages
 * that each take 1 s to arrive are fetched by io tasks on the one event loop:
 * they overlap, so the run takes about 1 s, not 3.
 *
 * ```sh
 * deno run --no-prompt --allow-net=127.0.0.1 tasks/downloads.ts
 * ```
 *
 * @module
 */

import { defineTasks, io, main } from "../mod.ts";
import { download } from "./_slow_server.ts";

const PAGES = ["jython.org", "python.org", "realpython.com"];
const DELAY_MS = 1000;

const pages = Object.fromEntries(PAGES.map((page) => [
  `get:${page}`,
  io({
    description: `Download ${page} (the local server waits ${DELAY_MS} ms)`,
    permissions: { net: ["127.0.0.1"] },
    run: async ({ signal }) => (await download(page, DELAY_MS, signal)).body.length,
  }),
]));

export default defineTasks({
  ...pages,
  downloads: io({
    description: "All pages downloaded: total bytes",
    deps: Object.keys(pages),
    run: ({ deps }) => Object.values(deps).reduce((sum: number, n) => sum + (n as number), 0),
  }),
});

if (import.meta.main) await main(import.meta.url);
