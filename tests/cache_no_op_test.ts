/**
 * The no-op fast path of the cache (lib/cache/_no_op.ts): a run of the same
 * tasks with nothing changed is answered from one snapshot, and anything
 * that moved (an input's stamp, a folder's listing, an env value, the
 * snapshot itself) sends the run down the full path, which checks contents.
 */

import assert from "node:assert/strict";
import { CLI, deno, type TempDir, tempDir } from "./_helpers.ts";

const MOD = new URL("../mod.ts", import.meta.url).href;

/**
 * a reads src/a.txt and writes out/a.txt; b reads the folder src/b; c
 * depends on both and reads env MODE. Trusted io tasks (declared inputs make
 * them cacheable): no sandbox to start, so the tests stay quick.
 */
const TASKS = `import { defineTasks, io } from "${MOD}";
export default defineTasks({
  a: io({
    trusted: true,
    inputs: ["src/a.txt"],
    outputs: ["out/a.txt"],
    run() {
      const text = Deno.readTextFileSync("src/a.txt");
      Deno.mkdirSync("out", { recursive: true });
      Deno.writeTextFileSync("out/a.txt", text.toUpperCase());
      return text;
    },
  }),
  b: io({
    trusted: true,
    inputs: ["src/b"],
    run: () => [...Deno.readDirSync("src/b")].map((entry) => entry.name).sort(),
  }),
  c: io({
    trusted: true,
    inputs: [],
    env: ["MODE"],
    deps: ["a", "b"],
    run: ({ deps }) => ({ a: deps.a, b: deps.b, mode: Deno.env.get("MODE") ?? null }),
  }),
});
`;

async function project(): Promise<TempDir> {
  const dir = await tempDir();
  await Deno.mkdir(`${dir.path}/src/b`, { recursive: true });
  await dir.write("src/a.txt", "alpha");
  await dir.write("src/b/one.txt", "1");
  await dir.write("tasks.ts", TASKS);
  return dir;
}

interface Row {
  status: string;
  why?: string;
  result?: unknown;
}

async function runIn(dir: TempDir, env: Record<string, string> = {}) {
  const out = await deno(
    ["run", "--no-prompt", "-A", CLI, "run", "--file", "tasks.ts", "--report", "json"],
    // The snapshot is what is tested here, not the command's fast path in front of it.
    { cwd: dir.path, env: { MODE: "one", SPOOL_NO_FAST_PATH: "1", ...env } },
  );
  assert.equal(out.code, 0, out.stderr);
  const tasks: Record<string, Row> = {};
  for (const task of JSON.parse(out.stdout).tasks) tasks[task.name] = task;
  return { ...out, tasks };
}

function statuses(tasks: Record<string, Row>): string {
  return Object.entries(tasks).map(([name, task]) => `${name}:${task.status}`).join(" ");
}

async function snapshots(dir: TempDir): Promise<string[]> {
  try {
    // Files: the folders beside them hold the command's fast-path records.
    return (await Array.fromAsync(Deno.readDir(`${dir.path}/.spool/cache/no-op`)))
      .filter((entry) => entry.isFile)
      .map((entry) => `${dir.path}/.spool/cache/no-op/${entry.name}`);
  } catch {
    return [];
  }
}

Deno.test("A no-op run is answered by its snapshot: the index is not even read", async () => {
  await using dir = await project();
  const first = await runIn(dir);
  assert.equal(statuses(first.tasks), "a:ok b:ok c:ok");
  assert.equal((await snapshots(dir)).length, 1, "a run that stored every task leaves a snapshot");
  // An index no run could read: only a run that opens it says so.
  await Deno.writeTextFile(`${dir.path}/.spool/cache/index`, "not an index");
  const second = await runIn(dir);
  assert.equal(statuses(second.tasks), "a:cached b:cached c:cached");
  assert.deepEqual(second.tasks.c.result, { a: "alpha", b: ["one.txt"], mode: "one" });
  assert.equal(second.tasks.c.why, "cached");
  assert.doesNotMatch(second.stderr, /corrupt/);
  // A new mtime on the same bytes: the stamp moved, so the full path checks
  // the content (and meets the corrupt index), and every task is still cached.
  const later = new Date(Date.now() + 5_000);
  await Deno.utime(`${dir.path}/src/a.txt`, later, later);
  const third = await runIn(dir);
  assert.equal(statuses(third.tasks), "a:cached b:cached c:cached");
  assert.match(third.stderr, /The cache index in .* is corrupt: starting a new one/);
  // That run wrote a new snapshot: the next one reads nothing else again.
  const fourth = await runIn(dir);
  assert.equal(statuses(fourth.tasks), "a:cached b:cached c:cached");
  assert.doesNotMatch(fourth.stderr, /corrupt/);
});

Deno.test("An input rewritten with the same size re-runs its task and what depends on it", async () => {
  await using dir = await project();
  await runIn(dir);
  assert.equal((await snapshots(dir)).length, 1);
  await dir.write("src/a.txt", "alphA");
  const { tasks } = await runIn(dir);
  assert.equal(statuses(tasks), "a:ok b:cached c:ok");
  assert.equal(tasks.a.why, "input src/a.txt changed");
  assert.deepEqual(tasks.c.result, { a: "alphA", b: ["one.txt"], mode: "one" });
  assert.equal(await Deno.readTextFile(`${dir.path}/out/a.txt`), "ALPHA");
});

Deno.test("A file added to or removed from an input folder re-runs the task that reads it", async () => {
  await using dir = await project();
  await runIn(dir);
  assert.equal((await snapshots(dir)).length, 1);
  await dir.write("src/b/two.txt", "2");
  let { tasks } = await runIn(dir);
  assert.equal(statuses(tasks), "a:cached b:ok c:ok");
  assert.equal(tasks.b.why, "input src/b/two.txt added");
  assert.deepEqual(tasks.b.result, ["one.txt", "two.txt"]);
  await Deno.remove(`${dir.path}/src/b/one.txt`);
  ({ tasks } = await runIn(dir));
  assert.equal(statuses(tasks), "a:cached b:ok c:ok");
  assert.equal(tasks.b.why, "input src/b/one.txt removed");
  assert.deepEqual(tasks.c.result, { a: "alpha", b: ["two.txt"], mode: "one" });
});

Deno.test("A new value of a declared env variable re-runs the task that declares it", async () => {
  await using dir = await project();
  await runIn(dir);
  assert.equal((await snapshots(dir)).length, 1);
  const { tasks } = await runIn(dir, { MODE: "two" });
  assert.equal(statuses(tasks), "a:cached b:cached c:ok");
  assert.equal(tasks.c.why, "env MODE changed");
  assert.deepEqual(tasks.c.result, { a: "alpha", b: ["one.txt"], mode: "two" });
});

Deno.test("A deleted output or a corrupt snapshot sends the run down the full path", async () => {
  await using dir = await project();
  await runIn(dir);
  const [snapshot] = await snapshots(dir);
  assert.ok(snapshot !== undefined);
  await Deno.remove(`${dir.path}/out/a.txt`);
  let { tasks } = await runIn(dir);
  assert.equal(statuses(tasks), "a:cached b:cached c:cached");
  assert.equal(await Deno.readTextFile(`${dir.path}/out/a.txt`), "ALPHA");
  const data = await Deno.readFile(snapshot);
  data[data.length - 2] ^= 0xff;
  await Deno.writeFile(snapshot, data);
  ({ tasks } = await runIn(dir));
  assert.equal(statuses(tasks), "a:cached b:cached c:cached");
  assert.deepEqual(tasks.c.result, { a: "alpha", b: ["one.txt"], mode: "one" });
  assert.notDeepEqual(await Deno.readFile(snapshot), data, "the full path writes it anew");
});

Deno.test("A result that is not plain JSON leaves no snapshot, and still comes back whole", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/src`);
  await dir.write("src/a.txt", "alpha");
  await dir.write(
    "tasks.ts",
    `import { defineTasks, io } from "${MOD}";
export default defineTasks({
  m: io({ trusted: true, inputs: ["src"], run: () => new Map([["size", Deno.readTextFileSync("src/a.txt").length]]) }),
});
`,
  );
  const first = await deno(["run", "--no-prompt", "-A", CLI, "run", "--file", "tasks.ts", "-q"], {
    cwd: dir.path,
  });
  assert.equal(first.code, 0, first.stderr);
  assert.equal((await snapshots(dir)).length, 0);
  const again = await deno(
    ["run", "--no-prompt", "-A", CLI, "run", "--file", "tasks.ts", "--report", "json"],
    { cwd: dir.path },
  );
  const [task] = JSON.parse(again.stdout).tasks;
  assert.equal(task.status, "cached");
  assert.equal((await snapshots(dir)).length, 0);
});

Deno.test("A cache folder keeps the 16 most recent snapshots, one per set of targets and arguments", async () => {
  await using dir = await project();
  const { run } = await import("../mod.ts");
  const tasks = (await import(new URL(`file://${dir.path}/tasks.ts`).href)).default;
  const cwd = Deno.cwd();
  Deno.chdir(dir.path);
  try {
    for (let i = 0; i < 20; i++) {
      const report = await run(tasks, { targets: ["a"], args: [`--n=${i}`], cache: true });
      assert.equal(report.ok, true);
    }
  } finally {
    Deno.chdir(cwd);
  }
  assert.equal((await snapshots(dir)).length, 16);
});
