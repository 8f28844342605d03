import { greet } from "./greet.ts";

Deno.test("greet says hello by name", () => {
  if (greet("spool") !== "hello, spool") throw new Error(`got ${greet("spool")}`);
});
