import assert from "node:assert/strict";
import { loadTaskFile, TaskFileError } from "../mod.ts";
import { deno, fixture, fixtureUrl, spool, SUMMARY, tempDir } from "./_helpers.ts";

const MOD = new URL("../mod.ts", import.meta.url).href;

/** Loads a task file and returns the TaskFileError it must throw. */
async function loadFails(path: string): Promise<TaskFileError> {
  try {
    await loadTaskFile(path);
  } catch (error) {
    assert.ok(error instanceof TaskFileError, `expected a TaskFileError, got ${error}`);
    assert.equal(error.exitCode, 2);
    return error;
  }
  assert.fail(`${path} loaded`);
}

Deno.test("loadTaskFile returns the default task set, the module URL and the file", async () => {
  const loaded = await loadTaskFile(fixture("graph.ts"));
  assert.equal(loaded.url, fixtureUrl("graph.ts"));
  assert.equal(loaded.tasks.module, loaded.url);
  assert.deepEqual([...loaded.tasks.tasks.keys()], ["numbers", "squares", "total", "other"]);
  assert.match(loaded.file, /tests\/fixtures\/graph\.ts$/);
  const byUrl = await loadTaskFile(fixtureUrl("graph.ts"));
  assert.equal(byUrl.tasks, loaded.tasks);
});

Deno.test("loadTaskFile resolves a relative path against the working directory", async () => {
  const loaded = await loadTaskFile("tests/fixtures/graph.ts");
  assert.equal(loaded.url, fixtureUrl("graph.ts"));
});

Deno.test("loadTaskFile names a missing file and the way out", async () => {
  await using dir = await tempDir();
  const error = await loadFails(`${dir.path}/nope.ts`);
  assert.match(
    error.message,
    /nope\.ts: Cannot find the task file: create it, or pass another with --file/,
  );
  assert.match(error.file!, /nope\.ts$/);
});

Deno.test("loadTaskFile rejects a directory", async () => {
  await using dir = await tempDir();
  const error = await loadFails(dir.path);
  assert.match(error.message, /Cannot load the task file: it is not a file/);
});

Deno.test("loadTaskFile reports a syntax error with the file's name", async () => {
  await using dir = await tempDir();
  const file = await dir.write("broken.ts", `export default {\n  oops: ,\n};\n`);
  const error = await loadFails(file);
  assert.ok(error.message.startsWith(`${file}: Cannot load the task file: `), error.message);
  assert.match(error.message, /Expression expected|Unexpected token/);
  assert.ok(!error.message.includes("\x1b["), "no colour escapes");
});

Deno.test("loadTaskFile reports a file that throws while it is imported", async () => {
  await using dir = await tempDir();
  const file = await dir.write("throws.ts", `throw new Error("cannot start here");\n`);
  const error = await loadFails(file);
  assert.match(error.message, /throws\.ts: Cannot load the task file: cannot start here/);
  assert.ok(error.cause instanceof Error);
});

Deno.test("loadTaskFile rejects a file without a default export", async () => {
  await using dir = await tempDir();
  const file = await dir.write(
    "named.ts",
    `import { defineTasks, io } from "${MOD}";\nexport const tasks = defineTasks({ a: io({ run: () => 1 }) });\n`,
  );
  const error = await loadFails(file);
  assert.match(
    error.message,
    /named\.ts: The task file has no default export: end it with "export default defineTasks/,
  );
});

Deno.test("loadTaskFile rejects a default export that is not a task set", async () => {
  await using dir = await tempDir();
  const cases: [string, string][] = [
    [`export default { a: 1 };`, "an object"],
    [`export default () => 1;`, "a function"],
    [`export default [];`, "an array"],
    [`export default 42;`, "a number"],
  ];
  for (const [i, [source, kind]] of cases.entries()) {
    const file = await dir.write(`wrong${i}.ts`, source + "\n");
    const error = await loadFails(file);
    assert.match(
      error.message,
      new RegExp(
        `wrong${i}\\.ts: The task file's default export is not a task set \\(got ${kind}\\)`,
      ),
    );
  }
});

Deno.test("loadTaskFile passes on defineTasks errors, naming the file once and the task", async () => {
  await using dir = await tempDir();
  const file = await dir.write(
    "cycle.ts",
    `import { defineTasks, io } from "${MOD}";\n` +
      `export default defineTasks({\n` +
      `  a: io({ deps: ["b"], run: () => 1 }),\n` +
      `  b: io({ deps: ["a"], run: () => 2 }),\n` +
      `});\n`,
  );
  const error = await loadFails(file);
  assert.match(error.file!, /cycle\.ts$/);
  assert.ok(error.message.startsWith(`${file}: Tasks form a cycle`), error.message);
  assert.equal(error.message.split("cycle.ts").length, 2, "the file is named once");
  assert.match(error.message, /"a"/);
  assert.match(error.message, /"b"/);
});

Deno.test("A task file runs itself: `deno run file.ts list` and `deno run file.ts <task>`", async () => {
  // Sandboxes are deno processes that report back over loopback.
  const flags = ["run", "--no-prompt", "--allow-read", "--allow-run=deno", "--allow-net=127.0.0.1"];
  const list = await deno([...flags, fixture("graph.ts"), "list"]);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^TASK +KIND +DEPS +PERMISSIONS +DESCRIPTION$/m);
  assert.match(list.stdout, /^squares +cpu +numbers +- +Sum of squares, in a worker$/m);

  const run = await deno([...flags, fixture("graph.ts"), "total", "--report", "json"]);
  assert.equal(run.code, 0, run.stderr);
  const report = JSON.parse(run.stdout);
  assert.deepEqual(
    report.tasks.map((t: { name: string; result: unknown }) => [t.name, t.result]),
    [["numbers", [1, 2, 3, 4]], ["squares", 30], ["total", 31]],
  );
  assert.match(run.stderr.trimEnd().split("\n").at(-1)!, SUMMARY);

  const failing = await deno([...flags, fixture("failing.ts"), "bad"]);
  assert.equal(failing.code, 1, "main() sets the exit code");
});

Deno.test("A task file whose top-level await never settles ends spool with exit 2, naming the file", async () => {
  const { code, stderr } = await spool(["run", "-f", fixture("never_loads.ts")], ["-A"], {
    env: { SPOOL_LOAD_TIMEOUT: "300" },
  });
  assert.equal(code, 2, stderr);
  assert.match(
    stderr,
    /never_loads\.ts: Cannot load the task file: it did not finish loading within 0\.3 s \(a top-level await that never settles\?\)/,
  );
  assert.doesNotMatch(stderr, /Top-level await promise never resolved/);
});

Deno.test("main() called without the task file's URL says how to call it", async () => {
  // `deno run` does not type-check, so a bare main() reaches spool.
  const { main } = await import("../lib/cli/main.ts");
  await assert.rejects(() => (main as unknown as () => Promise<number>)(), {
    name: "TypeError",
    message:
      "Cannot run the task file as main() needs its URL: call main(import.meta.url), not main()",
  });
});
