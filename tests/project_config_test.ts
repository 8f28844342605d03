// The `spool` command runs a task file under the task file's own deno.json
// (its import map), as `deno run` would, even when spool itself was started
// with its own config, as an installed shim is.
import assert from "node:assert/strict";
import { CLI, deno, ROOT, tempDir } from "./_helpers.ts";

Deno.test("spool runs a task file with its project's deno.json import map, not spool's", async () => {
  await using dir = await tempDir();
  await dir.write(
    "deno.json",
    JSON.stringify({ imports: { "spool": `${ROOT}/mod.ts`, "answer": "./answer.ts" } }),
  );
  await dir.write("answer.ts", "export const answer = 21;\n");
  await dir.write(
    "tasks.ts",
    `import { defineTasks, io } from "spool";
import { answer } from "answer";
export default defineTasks({ double: io({ run: () => answer * 2 }) });
`,
  );
  // As the shim that `deno install` writes: spool's own config, all permissions.
  const { code, stderr } = await deno(
    ["run", "--no-prompt", "-A", `--config=${ROOT}/deno.json`, CLI, "run", "--show-results"],
    { cwd: dir.path },
  );
  assert.equal(code, 0, stderr);
  assert.match(stderr, /^result double: 42$/m);
});

Deno.test("A deno.json of tasks only does not cost a relaunch: the task file runs in spool's own process", async () => {
  await using dir = await tempDir();
  await dir.write("deno.json", JSON.stringify({ tasks: { build: "echo build" }, fmt: {} }));
  await dir.write(
    "tasks.ts",
    `import { defineTasks, io } from "${ROOT}/mod.ts";
export default defineTasks({
  where: io({ trusted: true, run: () => Deno.env.get("SPOOL_RELAUNCHED") ?? "first process" }),
});
`,
  );
  const args = ["run", "--no-prompt", "-A", CLI, "run", "--no-cache", "--show-results"];
  const inert = await deno(args, { cwd: dir.path });
  assert.equal(inert.code, 0, inert.stderr);
  assert.match(inert.stderr, /^result where: "first process"$/m);
  await dir.write("deno.json", JSON.stringify({ tasks: {}, compilerOptions: { strict: true } }));
  const relaunched = await deno(args, { cwd: dir.path });
  assert.equal(relaunched.code, 0, relaunched.stderr);
  assert.match(relaunched.stderr, /^result where: "1"$/m);
});
