/**
 * Three 2-second downloads overlap on the event loop and take about 2 s, not
 * 6 (Python's threads in the background texts). The script serves the
 * "pages" itself, on 127.0.0.1, each answer delayed by 2 s.
 *
 *     deno run --allow-net=127.0.0.1 examples/downloads.ts
 *
 * @module
 */

import { executor } from "../mod.ts";

const DELAY_MS = 2000;
const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
  await new Promise((resolve) => setTimeout(resolve, DELAY_MS));
  return new Response(`contents of ${new URL(request.url).pathname}`);
});
const base = `http://127.0.0.1:${server.addr.port}`;

async function downloadPage(url: string, { signal }: { signal: AbortSignal }): Promise<number> {
  console.log(`Start downloading ${url}...`);
  const response = await fetch(`${base}/${url}`, { signal });
  const body = await response.text();
  console.log(`Finished downloading ${url}`);
  return body.length;
}

const start = performance.now();
{
  await using pool = executor("io", { maxWorkers: 3 });
  const futures = ["web1", "web2", "web3"].map((url) => pool.submit(downloadPage, url));
  await Promise.all(futures);
}
const seconds = (performance.now() - start) / 1000;
console.log(`Total time: ${seconds.toFixed(2)} seconds (serial would take ${3 * DELAY_MS / 1000})`);
await server.shutdown();
