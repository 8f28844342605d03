/** The project's server: /health, and /hello?name=... */
import { greet } from "./greet.ts";

const port = Number(Deno.args[0] ?? 8787);
Deno.serve(
  { hostname: "127.0.0.1", port, onListen: () => console.log(`listening on ${port}`) },
  (req) => {
    const url = new URL(req.url);
    if (url.pathname === "/health") return new Response("ok");
    return new Response(greet(url.searchParams.get("name") ?? "world"));
  },
);
