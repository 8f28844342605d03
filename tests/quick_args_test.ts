// The fast path of the command line must read a command line exactly as
// commander does: same command, file, tasks and flags.
import assert from "node:assert/strict";
import { type Handlers, parseWithCommander } from "../lib/cli/_program.ts";
import { QUICK_LONG_FLAGS, quickParse } from "../lib/cli/_quick_args.ts";
import { captureSink } from "./_helpers.ts";

// commander's defaults: the machine's cores, run()'s concurrency, ./tasks.ts.
const DEFAULTS = { workers: navigator.hardwareConcurrency, concurrency: 64, file: "tasks.ts" };

/** What commander hands the command, in quickParse's shape. */
async function viaCommander(args: string[]): Promise<unknown> {
  let seen: unknown;
  const handlers: Handlers = {
    run: (file, patterns, flags) => {
      seen = { command: "run", file, patterns, flags: { ...flags } };
      return Promise.resolve();
    },
    list: (file) => {
      seen = { command: "list", file };
      return Promise.resolve();
    },
    cache: (file, action) => {
      seen = { command: "cache", file, action };
      return Promise.resolve();
    },
    graph: (file, patterns, format) => {
      seen = { command: "graph", file, patterns, format };
      return Promise.resolve();
    },
    worker: (file, flags) => {
      seen = { command: "worker", file, flags: { ...flags } };
      return Promise.resolve();
    },
    taskNames: () => Promise.resolve(new Map()),
  };
  const code = await parseWithCommander(
    args,
    handlers,
    { stdout: captureSink(), stderr: captureSink(), defaultConcurrency: 64 },
  );
  assert.equal(code, 0);
  return seen;
}

const LINES = [
  [],
  ["run"],
  ["build", "test:*"],
  ["run", "-f", "x.ts", "a", "-w", "2", "-c", "8", "-k", "-q", "--timeout", "2s"],
  ["--file=x.ts", "run", "--report", "json", "--report-file", "r.json", "--trace", "t.json"],
  ["run", "--dry-run", "--show-results", "--env-file=.env.dev", "a"],
  ["list"],
  ["-f", "x.ts", "list"],
  ["graph", "a", "b", "--format", "mermaid"],
  ["graph"],
  ["run", "--nats", "nats://q:4222", "--nats-creds", "a.creds", "--nats-ca=ca.pem", "a"],
  ["run", "--no-cache", "a"],
  ["--cache", "--force", "--cache-dir", "c", "--cache-max", "2GiB"],
];

for (const args of LINES) {
  Deno.test(`The fast path reads "spool ${args.join(" ")}" as commander does`, async () => {
    const quick = quickParse(args, DEFAULTS);
    assert.notEqual(quick, undefined, "the fast path takes it");
    assert.deepEqual(quick, await viaCommander(args));
  });
}

Deno.test("The fast path leaves help, version, completion and bad input to commander", () => {
  for (
    const args of [
      ["--help"],
      ["run", "-h"],
      ["-V"],
      ["help"],
      ["completions", "bash"],
      ["worker", "--nats", "nats://q:4222"],
      ["run", "--wokers", "2"],
      ["run", "-w", "0"],
      ["run", "--timeout", "soon"],
      ["run", "--report", "xml"],
      ["run", "--env-file"],
      ["graph", "--format", "svg"],
      ["list", "-k"],
      ["list", "extra"],
      ["run", "--format", "dot"],
      ["run", "-kq"],
    ]
  ) {
    assert.equal(quickParse(args, DEFAULTS), undefined, args.join(" "));
  }
});

Deno.test("The fast path knows every long flag that commander's run, graph and global help lists", async () => {
  const help = async (...args: string[]) => {
    const stdout = captureSink();
    const handlers = {} as Handlers;
    await parseWithCommander(args, handlers, {
      stdout,
      stderr: captureSink(),
      defaultConcurrency: 64,
    });
    return stdout.text;
  };
  const text = (await help("--help")) + (await help("run", "--help")) +
    (await help("graph", "--help"));
  const options = new Set(
    [...text.matchAll(/^\s+(?:-\w, )?(--[a-z-]+)/gm)].map((m) => m[1]).filter((f) =>
      f !== "--help" && f !== "--version"
    ),
  );
  assert.deepEqual([...options].sort(), [...QUICK_LONG_FLAGS].sort());
});

const HELP_FILE = new URL("../lib/cli/_help.ts", import.meta.url);

Deno.test("The help texts the fast path prints are commander's, word for word", async () => {
  const commander: Record<string, string> = {};
  for (const command of ["", "run", "list", "graph", "worker", "completions"]) {
    const stdout = captureSink();
    await parseWithCommander(command === "" ? ["--help"] : [command, "--help"], {} as Handlers, {
      stdout,
      stderr: captureSink(),
      defaultConcurrency: 64,
    });
    commander[command] = stdout.text;
  }
  if (Deno.env.get("UPDATE") === "1") {
    await Deno.writeTextFile(
      HELP_FILE,
      `/**
 * spool's help texts exactly as commander prints them (see _program.ts), so
 * that \`spool --help\` need not load commander. Written by
 * \`UPDATE=1 deno test -A tests/quick_args_test.ts\`; a test fails when they
 * drift.
 *
 * @module
 */

/** Help by command; \`""\` is the top level. */
export const HELP: Readonly<Record<string, string>> = ${JSON.stringify(commander, null, 2)};
`,
    );
  }
  const { HELP } = await import("../lib/cli/_help.ts");
  assert.deepEqual(
    HELP,
    commander,
    "run UPDATE=1 deno test -A tests/quick_args_test.ts to rewrite lib/cli/_help.ts",
  );
});
