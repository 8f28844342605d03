import assert from "node:assert/strict";
import { safeJson, safeLine, safeText } from "../lib/report/_sanitize.ts";
import { liveReporter } from "../lib/report/live.ts";
import { buildReport, type TaskReport } from "../lib/report/report.ts";
import { fixture, spool } from "./_helpers.ts";
import { ATTACKS } from "./fixtures/hostile_output.ts";

// What must never reach a terminal from a task: ESC, a lone carriage return,
// any other C0 control but tab and newline, DEL, C1 controls, bidi overrides.
// deno-lint-ignore no-control-regex -- finding control characters is the point
const RAW = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;

function assertNoRawControls(text: string, where: string): void {
  const found = RAW.exec(text);
  assert.equal(
    found,
    null,
    `${where} has a raw control character ${JSON.stringify(found?.[0])} at ${found?.index}: ${
      JSON.stringify(text.slice(Math.max(0, (found?.index ?? 0) - 40), (found?.index ?? 0) + 40))
    }`,
  );
}

Deno.test("safeText shows escape sequences and C1 controls as visible escapes", () => {
  assert.equal(safeText("\x1b]52;c;aGk=\x07"), "\\x1b]52;c;aGk=\\x07");
  assert.equal(safeText("\x1b]0;title\x1b\\"), "\\x1b]0;title\\x1b\\");
  assert.equal(safeText("a\x1b[2K\x1b[1Ab"), "a\\x1b[2K\\x1b[1Ab");
  assert.equal(safeText("\u009b2K \u009d0;t\u009c"), "\\u009b2K \\u009d0;t\\u009c");
  assert.equal(safeText("del\x7f nul\x00 bs\x08"), "del\\x7f nul\\x00 bs\\x08");
  assert.equal(safeText("\u202eevil\u2066"), "\\u202eevil\\u2066");
});

Deno.test("safeText makes a lone carriage return visible so it cannot overwrite a line", () => {
  assert.equal(safeText("working\rok    deploy (io) 3 ms"), "working\\rok    deploy (io) 3 ms");
  assert.equal(safeText("windows line\r\n"), "windows line\\r\n");
});

Deno.test("safeText keeps tabs, newlines and ordinary text, emoji and scripts as they are", () => {
  for (
    const text of ["", "plain", "tab\there", "two\nlines", "naïve 日本語 ✓ 🚀", "עברית", "C:\\dir"]
  ) {
    assert.equal(safeText(text), text);
  }
  const line = "an ordinary line of output";
  assert.equal(safeText(line), line, "unchanged text is the same string");
});

Deno.test("safeLine also makes newlines visible so a message cannot start a forged line", () => {
  assert.equal(safeLine("refused\nok    deploy (io) 1 ms"), "refused\\nok    deploy (io) 1 ms");
  assert.equal(safeLine("tab\tkept"), "tab\tkept");
  assert.equal(safeLine("\x1b[31m"), "\\x1b[31m");
});

Deno.test("spool run with plain logs shows task escape sequences escaped, never raw", async () => {
  const { code, stdout, stderr } = await spool(
    ["run", "-f", fixture("hostile_output.ts"), "-w", "1", "shout", "crunch", "deploy"],
    ["-A"],
    { env: { CI: "true" } },
  );
  assert.equal(code, 1, stderr);
  assertNoRawControls(stdout, "stdout");
  assertNoRawControls(stderr, "stderr");
  for (const attack of ATTACKS) assert.ok(stderr.includes(`shout | ${safeText(attack)}`), attack);
  assert.match(stderr, /^shout \| stderr \\x1b\]52;c;aGk=\\x07$/m);
  assert.match(stderr, /^crunch \| worker \\x1b\]0;pwned\\x07 \\rok {4}deploy/m);
  assert.match(
    stderr,
    /^FAIL {2}deploy \(io\) .*: refused \\x1b\]0;pwned\\x07\\u009b2K\\rok {4}deploy \(io\) 1 ms\\nok {4}more/m,
  );
  assert.match(stderr, /^ {2}Error: refused \\x1b\]0;pwned\\x07/m, "the stack in the summary");
  assert.doesNotMatch(stderr, /^ok {4}deploy/m, "no forged ok line");
  assert.doesNotMatch(stderr, /^ok {4}more/m, "no forged ok line");
});

Deno.test("spool run --quiet shows a failed task's held output escaped", async () => {
  const { code, stderr } = await spool(
    ["run", "-q", "-f", fixture("hostile_output.ts"), "-w", "1", "deploy"],
  );
  assert.equal(code, 1, stderr);
  assertNoRawControls(stderr, "stderr");
  assert.match(stderr, /^FAIL {2}deploy .*refused \\x1b\]0;pwned/m);
});

Deno.test("spool run --dry-run shows a declared path with an escape sequence escaped", async () => {
  const { code, stdout, stderr } = await spool(
    ["run", "--dry-run", "-f", fixture("hostile_output.ts")],
  );
  assert.equal(code, 0, stderr);
  assertNoRawControls(stdout, "stdout");
  assert.match(stdout, /--allow-read=\.\/data\\x1b\]0;pwned\\x07/);
});

Deno.test("liveReporter draws task output, errors and stacks with their escape sequences escaped", async () => {
  let text = "";
  const terminal = { columns: 80, rows: 24, write: (chunk: string) => void (text += chunk) };
  const live = await liveReporter({ stream: terminal, color: false, refreshMs: 60_000 });
  const message = "refused \x1b]0;pwned\x07\rok    deploy (io) 1 ms";
  const deploy: TaskReport = {
    name: "deploy",
    kind: "io",
    status: "failed",
    startMs: 0,
    endMs: 10,
    durationMs: 10,
    error: { name: "Error", message, stack: `Error: ${message}\n    at run (file:///t.ts:1:1)` },
  };
  live.runStart?.({
    tasks: [{ name: "deploy", kind: "io", deps: [], permissions: {}, step: 1 }],
    workers: 0,
    concurrency: 64,
  });
  live.taskStart?.({ name: "deploy", kind: "io", startMs: 0 });
  for (const attack of ATTACKS) {
    live.taskOutput?.({ name: "deploy", stream: "stdout", text: attack });
  }
  live.taskRetry?.({
    name: "deploy",
    kind: "io",
    attempt: 2,
    maxAttempts: 2,
    delayMs: 0,
    error: { name: "Error", message },
  });
  live.taskEnd?.(deploy);
  live.runEnd?.(buildReport([deploy], { wallMs: 12, workers: 0, concurrency: 64 }));

  // The view draws with its own escape codes; none of the tasks' may pass.
  for (const attack of ATTACKS) {
    assert.ok(!text.includes(attack), `raw: ${JSON.stringify(attack)}`);
    assert.ok(text.includes(`deploy | ${safeText(attack)}`), `escaped: ${JSON.stringify(attack)}`);
  }
  // deno-lint-ignore no-control-regex -- as above
  assert.doesNotMatch(text, /\x1b\]|[\x80-\x9f]|\r/, "no OSC, C1 control or carriage return");
  assert.match(text, /✗ deploy \(io\) 10 ms: refused \\x1b\]0;pwned\\x07\\rok/);
  assert.match(text, /^ {2}Error: refused \\x1b\]0;pwned\\x07\\rok/m, "the stack in the summary");
});

Deno.test("safeJson escapes C1 controls and bidi overrides that JSON.stringify leaves raw, same value", () => {
  const value = { text: "\u009b2K \u009d0;t\u009c \u202eevil \x7f", plain: "naïve ✓" };
  const json = safeJson(JSON.stringify(value));
  assertNoRawControls(json, "the JSON");
  assert.deepEqual(JSON.parse(json), value, "it parses back to the same value");
  assert.ok(json.includes("\\u009b2K"));
  const clean = JSON.stringify({ plain: "naïve ✓" });
  assert.equal(safeJson(clean), clean);
});

Deno.test("spool run --report json prints what tasks returned and threw with no raw control character", async () => {
  const { stdout, stderr } = await spool(
    [
      "run",
      "-f",
      fixture("hostile_output.ts"),
      "-w",
      "1",
      "--report",
      "json",
      "shout",
      "crunch",
      "deploy",
    ],
  );
  assertNoRawControls(stdout, "stdout");
  const report = JSON.parse(stdout);
  const byName = Object.fromEntries(report.tasks.map((t: TaskReport) => [t.name, t]));
  assert.equal(byName.crunch.result, "\x1b]52;c;aGk=\x07", "the result is intact once parsed");
  assert.match(byName.deploy.error.message, /\u009b2K/, "the error is intact once parsed");
  assertNoRawControls(stderr, "stderr");
});
