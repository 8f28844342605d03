/**
 * What an io task in flight costs the runner in memory. While a sandbox host
 * starts, every ready io task is in flight at once (10,000 in the sandbox
 * bench), and what each holds is live data the runner's garbage collector
 * copies and marks again and again: it was most of what a sandboxed run cost
 * beyond a trusted one (README "What the sandbox costs").
 *
 * @module
 */

import assert from "node:assert/strict";
import { deno, fixture } from "./_helpers.ts";

/** Bytes of the runner's heap per io task in flight, measured in a process of its own. */
async function heldPerTask(kind: "sandboxed" | "trusted"): Promise<number> {
  const { code, stdout, stderr } = await deno([
    "run",
    "--no-prompt",
    "-A",
    "--v8-flags=--expose-gc",
    fixture("memory/in_flight.ts"),
    kind,
    "4000",
  ]);
  assert.equal(code, 0, stderr);
  return Number(stdout.trim());
}

// Measured: 1,160 bytes sandboxed and 2,642 trusted; about 6,200 each when
// an attempt held five suspended async functions, twelve promises and
// twenty-five closures; 1,995 sandboxed while each job in the pool held a
// promise, its resolve and reject, and the attempt's reaction to it; 1,479
// while each job also put an abort callback of its own on the deadline.
const LIMIT = 3500;
const SANDBOXED_LIMIT = 1400;

Deno.test("A sandboxed io task in flight holds under 1.4 KB of the runner's heap", async () => {
  const bytes = await heldPerTask("sandboxed");
  assert(bytes > 0 && bytes < SANDBOXED_LIMIT, `${bytes} bytes per sandboxed io task in flight`);
});

Deno.test("A trusted io task in flight holds under 3.5 KB of the runner's heap", async () => {
  const bytes = await heldPerTask("trusted");
  assert(bytes > 0 && bytes < LIMIT, `${bytes} bytes per trusted io task in flight`);
});
