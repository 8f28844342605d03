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
  const [way, spool] of [
    ["path", `${ROOT}/mod.ts`],
    ["file: URL", pathToFileURL(`${ROOT}/mod.ts`).href],
    ["a path to the light entry (declare.ts)", `${ROOT}/declare.ts`],
  ]
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

Deno.test("The light entry gives the same functions as mod.ts", async () => {
  const light = await import("../declare.ts");
  const full = await import("../mod.ts");
  for (const [name, value] of Object.entries(light)) {
    assert.equal(value, (full as Record<string, unknown>)[name], name);
  }
});

Deno.test("The light entry's code graph holds no npm: package and no node: module", async () => {
  // Every worker and sandbox host runs this graph again, so what it holds is
  // paid once per worker. Dynamic imports are left out: main()'s import of
  // the CLI is loaded but never run in a worker.
  const { code, stdout, stderr } = await deno(["info", "--json", `${ROOT}/declare.ts`]);
  assert.equal(code, 0, stderr);
  const graph: {
    roots: string[];
    modules: {
      specifier: string;
      dependencies?: { code?: { specifier: string }; isDynamic?: boolean }[];
    }[];
  } = JSON.parse(stdout);
  const byUrl = new Map(graph.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const visit = (url: string) => {
    if (seen.has(url)) return;
    seen.add(url);
    for (const dep of byUrl.get(url)?.dependencies ?? []) {
      if (dep.code !== undefined && !dep.isDynamic) visit(dep.code.specifier);
    }
  };
  visit(graph.roots[0]);
  const heavy = [...seen].filter((url) => !url.startsWith("file:"));
  assert.deepEqual(heavy, []);
  assert.ok(seen.size > 5, `only ${seen.size} modules: the graph was not read`);
});
