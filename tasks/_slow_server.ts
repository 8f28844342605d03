/**
 * A local stand-in for "the network" in the example task files: an HTTP
 * server on 127.0.0.1 that answers after a delay, so the examples show io
 * overlap without needing the internet. Started on first use from inside an
 * io task (never at import time, since workers import task files too), and
 * unref'd so that it never keeps the process alive.
 *
 * @module
 */

let base: Promise<string> | undefined;

/**
 * The server's base URL, starting it on first call. `GET /page/NAME?ms=N`
 * answers after N ms with a small JSON document about NAME.
 *
 * @returns The base URL, such as `http://127.0.0.1:43121`.
 */
export function slowServer(): Promise<string> {
  return base ??= new Promise((resolve) => {
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen: ({ port }) => resolve(`http://127.0.0.1:${port}`),
    }, async (request) => {
      const url = new URL(request.url);
      const ms = Number(url.searchParams.get("ms") ?? "1000");
      await new Promise((done) => setTimeout(done, ms));
      const name = url.pathname.split("/").pop() ?? "";
      // A deterministic "size" per page, so cpu tasks downstream have a workload to scale.
      const size = [...name].reduce((sum, ch) => sum + ch.charCodeAt(0), 0);
      return Response.json({ name, size, body: `<html>${name}</html>` });
    });
    server.unref();
  });
}

/**
 * Fetches one page from the slow server.
 *
 * @param name The page name.
 * @param ms How long the server waits before answering.
 * @param signal Aborts the request.
 * @returns The page's JSON document.
 */
export async function download(
  name: string,
  ms: number,
  signal: AbortSignal,
): Promise<{ name: string; size: number; body: string }> {
  const response = await fetch(`${await slowServer()}/page/${name}?ms=${ms}`, { signal });
  if (!response.ok) throw new Error(`Cannot download "${name}": HTTP ${response.status}`);
  return await response.json();
}
