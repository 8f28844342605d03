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
