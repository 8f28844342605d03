// spool imported from a project of the user's own, with no deno.json: by
// path and by file: URL, run with `deno run` and no unstable flag.
import assert from "node:assert/strict";
import { pathToFileURL } from "node:url";
import { deno, ROOT, tempDir } from "./_helpers.ts";

const TASK_FILE = (spool: string) =>
  `import { cpu, defineTasks, io, main } from ${JSON.stringify(spool)};

export default defineTasks({
  n: io({ run: () => 21 }),
  double: cpu({ deps: ["n"], run: ({ deps }) => (deps.n as number) * 2 }),
});

if (import.meta.main) await main(import.meta.url);
`;

for (
  const [way, spool] of [["path", `${ROOT}/mod.ts`], [
    "file: URL",
    pathToFileURL(`${ROOT}/mod.ts`).href,
  ]]
) {
  Deno.test(`A project with no deno.json imports spool by ${way} and runs its task file with deno run`, async () => {
    await using dir = await tempDir();
    const file = await dir.write("tasks.ts", TASK_FILE(spool));
    const { code, stderr } = await deno(
      [
        "run",
        "--no-prompt",
        "--allow-read",
        "--allow-run=deno",
        "--allow-net=127.0.0.1",
        file,
        "--show-results",
      ],
      { cwd: dir.path },
    );
    assert.equal(code, 0, stderr);
    assert.match(stderr, /^result double: 42$/m);
  });
}
