/**
 * A small snapshot helper (jsr:@std/testing is out of reach here): each
 * snapshot is a text file `tests/__snapshots__/<name>.snap`. Run the tests
 * with `UPDATE=1` to write them; review the diff before committing.
 *
 * @module
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const DIR = fileURLToPath(new URL("./__snapshots__/", import.meta.url));

/**
 * Compares text with its stored snapshot, or stores it when `UPDATE=1`.
 *
 * @param name The snapshot's file name, without `.snap`.
 * @param actual The text.
 * @throws {AssertionError} When the text differs, or no snapshot exists yet.
 */
export async function assertSnapshot(name: string, actual: string): Promise<void> {
  const path = `${DIR}${name}.snap`;
  if (Deno.env.get("UPDATE") === "1") {
    await Deno.mkdir(DIR, { recursive: true });
    await Deno.writeTextFile(path, actual);
    return;
  }
  let expected: string;
  try {
    expected = await Deno.readTextFile(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    assert.fail(`No snapshot "${name}" yet: run the test with UPDATE=1 to write ${path}`);
  }
  assert.equal(actual, expected, `Snapshot "${name}" differs (UPDATE=1 rewrites it)`);
}

/**
 * Makes run output stable: durations become `<t>` (and the columns after
 * them two spaces apart), speedups `<x>`, waits on the critical path and
 * stack frames are dropped, and the repository's path becomes `<root>`.
 *
 * @param text Output of a run.
 * @returns The same output with the parts that vary between runs replaced.
 */
export function normalize(text: string): string {
  const root = fileURLToPath(new URL("../", import.meta.url)).replace(/\/$/, "");
  return text
    .split("\n")
    .filter((line) => !/^\s+at /.test(line))
    .join("\n")
    .replaceAll(`file://${root}`, "<root>")
    .replaceAll(root, "<root>")
    .replace(/\b\d+ m \d{2} s\b/g, "<t>")
    .replace(/\b\d+(?:\.\d+)? (?:ms|s)\b/g, "<t>")
    .replace(/\b\d+\.\d+x\b/g, "<x>")
    // Whether a wait shows depends on timing, and column widths on the durations.
    .replace(/ +(?:started at <t>|waited <t> for a \w+)/g, "")
    .replace(/<t> {2,}/g, "<t>  ");
}
