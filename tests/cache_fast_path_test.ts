/**
 * The `spool` command's no-op fast path (lib/cli/_no_op_fast.ts): a run
 * where nothing changed is answered from its record without importing the
 * task file, and prints what the normal path prints; anything the record's
 * conditions cover (an env variable, a local import, a deno.json, an input,
 * the record itself) sends the run down the normal path, and a task file
 * whose top level reads a file or the clock is never answered that way.
 *
 * Each task file here prints "top level ran" from its top level: that line
 * is how a test tells the normal path (which imports the task file) from the
 * fast path (which does not).
 */

import assert from "node:assert/strict";
import { CLI, deno, type TempDir, tempDir } from "./_helpers.ts";
import {
  FAST_DEFAULT_CONCURRENCY,
  FAST_DEFAULT_FILE,
  FAST_PATH_OFF,
} from "../lib/cli/_no_op_fast.ts";
import { DEFAULT_TASK_FILE } from "../lib/declare/load.ts";
import { DEFAULT_CONCURRENCY } from "../lib/run/scheduler.ts";
import { denoStamp, statStamper } from "../lib/cache/_stat_stamp.ts";

const MOD = new URL("../mod.ts", import.meta.url).href;
const MARK = "top level ran\n";

/**
 * A cpu task, a sandboxed io task, trusted io tasks, a chain and a fan-in,
 * a result from a local import, and the task arguments.
 */
const TASKS = `import { cpu, defineTasks, io } from "${MOD}";
import { LABEL } from "./label.ts";
console.error("top level ran");
export default defineTasks({
  src: io({
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
  answer: cpu({ run: () => 6 * 7 }),
  sandboxed: io({ permissions: { read: ["src/b.txt"] }, run: () => Deno.readTextFileSync("src/b.txt") }),
  label: io({ trusted: true, inputs: [], run: () => LABEL }),
  side: io({ trusted: true, inputs: [], deps: ["src"], run: ({ deps }) => String(deps.src).length }),
  join: io({
    trusted: true,
    inputs: [],
    deps: ["side", "answer", "sandboxed", "label"],
    run: ({ deps, args }) => ({ ...deps, args }),
  }),
});
`;

async function project(tasks = TASKS): Promise<TempDir> {
  const dir = await tempDir();
  await Deno.mkdir(`${dir.path}/src`);
  await dir.write("src/a.txt", "alpha");
  await dir.write("src/b.txt", "beta");
  await dir.write("label.ts", `export const LABEL = "one";\n`);
  await dir.write("tasks.ts", tasks);
  return dir;
}

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
  /** The task file's top level did not run: the fast path answered. */
  fast: boolean;
}

async function runIn(
  dir: TempDir,
  args: string[] = ["-q"],
  env: Record<string, string> = {},
  permissions: string[] = ["-A"],
): Promise<Ran> {
  const out = await deno(["run", "--no-prompt", ...permissions, CLI, "run", ...args], {
    cwd: dir.path,
    env,
  });
  return { ...out, fast: !out.stderr.includes(MARK) };
}

/** The JSON report's tasks, by name: status and result. */
function results(stdout: string): Record<string, [string, unknown]> {
  const out: Record<string, [string, unknown]> = {};
  for (const task of JSON.parse(stdout).tasks) out[task.name] = [task.status, task.result];
  return out;
}

/** Output with what depends on the clock taken out: durations, percentages. */
function untimed(text: string): string {
  return text
    .replace(/"(startMs|endMs|durationMs|wallMs|busyMs|speedup)": [0-9.e-]+/g, `"$1": 0`)
    .replace(/\b\d+(\.\d+)? (ms|s)\b/g, "T")
    .replace(/no speedup figure \([^)]*\)|speedup [0-9.]+x/g, "SPEEDUP")
    .replace(/(started at|waited) T( for a (slot|worker))?/g, "")
    .replace(/ +$/gm, "");
}

Deno.test("The fast path's defaults are the normal path's", () => {
  assert.equal(FAST_DEFAULT_FILE, DEFAULT_TASK_FILE);
  assert.equal(FAST_DEFAULT_CONCURRENCY, DEFAULT_CONCURRENCY);
});

Deno.test("A no-op run answered by the fast path prints what the normal path prints", async () => {
  await using dir = await project();
  const cold = await runIn(dir, ["--report", "json", "--", "x"]);
  assert.equal(cold.code, 0, cold.stderr);
  assert.equal(cold.fast, false);
  for (
    const args of [
      [],
      ["-q"],
      ["--report", "json"],
      ["-q", "--report=json", "-k", "-w", "3"],
      ["side", "label", "side"],
      ["--", "x"],
      ["--report", "json", "--", "x"],
    ]
  ) {
    // The first run of these targets and arguments writes their record.
    assert.equal((await runIn(dir, args)).code, 0);
    const normal = await runIn(dir, args, { [FAST_PATH_OFF]: "1" });
    const fast = await runIn(dir, args);
    const what = `spool run --cache ${args.join(" ")}`;
    assert.equal(normal.fast, false, `${what}: the opt-out takes the normal path`);
    assert.equal(fast.fast, true, `${what}: the fast path answers\n${fast.stderr}`);
    assert.equal(fast.code, normal.code, what);
    assert.equal(normal.code, 0, normal.stderr);
    assert.equal(untimed(fast.stderr), untimed(normal.stderr.replace(MARK, "")), what);
    assert.equal(untimed(fast.stdout), untimed(normal.stdout), what);
    if (args.includes("json") || args.includes("--report=json")) {
      const tasks = results(fast.stdout);
      assert.deepEqual(tasks.join, [
        "cached",
        {
          side: 5,
          answer: 42,
          sandboxed: "beta",
          label: "one",
          args: args.includes("x") ? ["x"] : [],
        },
      ]);
    }
  }
});

Deno.test("A changed input, env variable or local import takes the normal path and gives the right result", async () => {
  await using dir = await project();
  const json = ["--report", "json"];
  assert.equal((await runIn(dir, json)).fast, false);
  assert.equal((await runIn(dir, json)).fast, true);

  await dir.write("src/a.txt", "alphabet");
  let ran = await runIn(dir, json);
  assert.equal(ran.fast, false, "a changed input");
  let tasks = results(ran.stdout);
  assert.deepEqual(tasks.src, ["ok", "alphabet"]);
  assert.deepEqual(tasks.side, ["ok", 8]);
  assert.deepEqual(tasks.answer, ["cached", 42]);
  assert.equal(await Deno.readTextFile(`${dir.path}/out/a.txt`), "ALPHABET");
  assert.equal((await runIn(dir, json)).fast, true, "a new record once it ran");

  // Any variable, not only those a task declares: the top level could read it.
  ran = await runIn(dir, json, { SPOOL_TEST_UNRELATED: "1" });
  assert.equal(ran.fast, false, "a new env variable");
  assert.deepEqual(results(ran.stdout).join[0], "cached");
  assert.equal((await runIn(dir, json, { SPOOL_TEST_UNRELATED: "1" })).fast, true);
  assert.equal((await runIn(dir, json)).fast, false, "the variable gone again");

  await dir.write("label.ts", `export const LABEL = "two";\n`);
  ran = await runIn(dir, json);
  assert.equal(ran.fast, false, "a changed local import");
  tasks = results(ran.stdout);
  assert.deepEqual(tasks.label, ["ok", "two"]);
  assert.equal((tasks.join[1] as { label: string }).label, "two");
  assert.equal((await runIn(dir, json)).fast, true);

  // A deleted output: the normal path puts it back from the cache.
  await Deno.remove(`${dir.path}/out/a.txt`);
  ran = await runIn(dir, json);
  assert.equal(ran.fast, false, "a deleted output");
  assert.deepEqual(results(ran.stdout).src, ["cached", "alphabet"]);
  assert.equal(await Deno.readTextFile(`${dir.path}/out/a.txt`), "ALPHABET");
});

Deno.test("A changed deno.json takes the normal path, under the config it now holds", async () => {
  await using dir = await project(TASKS.replace(`from "./label.ts"`, `from "label"`));
  await dir.write("label2.ts", `export const LABEL = "mapped";\n`);
  await dir.write("deno.json", JSON.stringify({ imports: { label: "./label.ts" } }));
  const json = ["--report", "json", "label"];
  let ran = await runIn(dir, json);
  assert.equal(ran.code, 0, ran.stderr);
  assert.deepEqual(results(ran.stdout).label, ["ok", "one"]);
  // Deno wrote deno.lock during that run: the next one (which sees the lock
  // as it is now) leaves the record.
  await runIn(dir, json);
  ran = await runIn(dir, json);
  assert.equal(ran.fast, true, `a run under the project's deno.json is answered\n${ran.stderr}`);
  assert.deepEqual(results(ran.stdout).label, ["cached", "one"]);
  await dir.write("deno.json", JSON.stringify({ imports: { label: "./label2.ts" } }));
  ran = await runIn(dir, json);
  assert.equal(ran.fast, false);
  assert.deepEqual(results(ran.stdout).label, ["ok", "mapped"]);
  // A lock file changing changes what Deno may resolve too.
  assert.equal((await runIn(dir, json)).fast, true);
  const lock = await Deno.readTextFile(`${dir.path}/deno.lock`);
  await dir.write("deno.lock", lock.replace("{", "{ "));
  ran = await runIn(dir, json);
  assert.equal(ran.fast, false);
  assert.deepEqual(results(ran.stdout).label, ["cached", "mapped"]);
});

Deno.test("A task file whose top level reads a file or the clock is never answered without running it", async () => {
  for (
    const [what, top] of [
      ["a file", `const extra = Deno.readTextFileSync("extra.txt").trim();`],
      ["the clock", `const extra = new Date().getFullYear() > 2000 ? "extra" : "none";`],
    ]
  ) {
    // Trusted tasks only: a sandbox imports the task file too, and there
    // its top level could not read the file.
    await using dir = await project(`import { defineTasks, io } from "${MOD}";
console.error("top level ran");
${top}
export default defineTasks({
  [extra]: io({ trusted: true, inputs: [], run: () => 1 }),
  a: io({ trusted: true, inputs: ["src/a.txt"], run: () => Deno.readTextFileSync("src/a.txt") }),
});
`);
    await dir.write("extra.txt", "extra\n");
    const json = ["--report", "json"];
    const first = await runIn(dir, json);
    assert.equal(first.code, 0, first.stderr);
    const again = await runIn(dir, json);
    assert.equal(again.fast, false, `a top level that reads ${what}`);
    assert.deepEqual(results(again.stdout).extra, ["cached", 1]);
    assert.equal((await runIn(dir, json)).fast, false, `still, reading ${what}`);
    if (what === "a file") {
      await dir.write("extra.txt", "more\n");
      const changed = results((await runIn(dir, json)).stdout);
      assert.equal(changed.more?.[1], 1, "the task the file now names");
      assert.equal(changed.extra, undefined);
    }
  }
});

Deno.test("A torn or corrupt record is ignored: the normal path answers and writes it anew", async () => {
  await using dir = await project();
  const json = ["--report", "json"];
  await runIn(dir, json);
  assert.equal((await runIn(dir, json)).fast, true);
  const folder = `${dir.path}/.spool/cache/no-op/fast`;
  const [entry] = await Array.fromAsync(Deno.readDir(folder));
  const path = `${folder}/${entry.name}`;
  const data = await Deno.readFile(path);
  for (
    const damaged of [
      data.subarray(0, data.length >> 1),
      data.map((byte, i) => i === data.length - 3 ? byte ^ 0x20 : byte),
      new Uint8Array(0),
    ]
  ) {
    await Deno.writeFile(path, damaged);
    const ran = await runIn(dir, json);
    assert.equal(ran.fast, false);
    assert.equal(ran.code, 0, ran.stderr);
    assert.deepEqual(results(ran.stdout).join[0], "cached");
    assert.equal((await runIn(dir, json)).fast, true, "written anew");
  }
});

Deno.test("Flags the fast path cannot stand for take the normal path", async () => {
  await using dir = await project();
  await runIn(dir);
  assert.equal((await runIn(dir)).fast, true);
  for (
    const args of [
      ["--force"],
      ["--dry-run"],
      ["--show-results"],
      ["--no-cache"],
      ["s*"],
      ["-q", "--trace", `${dir.path}/trace.json`],
    ]
  ) {
    const ran = await runIn(dir, args);
    assert.equal(ran.code, 0, ran.stderr);
    assert.equal(ran.fast, false, args.join(" "));
  }
  assert.equal((await runIn(dir, [], { [FAST_PATH_OFF]: "1" })).fast, false);
});

Deno.test("A stamp is Deno.statSync's, whether libc's statx or Deno gives it", async () => {
  await using dir = await project();
  await Deno.symlink(`${dir.path}/src/a.txt`, `${dir.path}/link.txt`);
  await dir.write("src/\u00e9t\u00e9 \u{1f31e}.txt", "summer");
  await Deno.symlink(`${dir.path}/nowhere.txt`, `${dir.path}/dangling.txt`);
  // Before 1970: statx's seconds are negative, and Deno's answer stands.
  await Deno.utime(`${dir.path}/src/b.txt`, -86_400.5, -86_400.5);
  const stamp = statStamper();
  for (
    const name of [
      "src/a.txt",
      "src/b.txt",
      "src",
      "link.txt",
      ".",
      "dangling.txt",
      "src/a.txt/under-a-file",
      "src/\u00e9t\u00e9 \u{1f31e}.txt",
      "missing",
      "a\0b",
    ]
  ) {
    const path = `${dir.path}/${name}`;
    const expected = denoStamp(path);
    const copy = expected === undefined ? undefined : { ...expected };
    assert.deepEqual(stamp(path), copy, name);
    // The same path as a folder and a name in it, the form the record's files take.
    assert.deepEqual(stamp(`${dir.path}/`, name), copy, `${name} in its folder`);
  }
  const info = Deno.statSync(`${dir.path}/src/a.txt`);
  assert.deepEqual({ ...stamp(`${dir.path}/src/a.txt`)! }, {
    kind: "file",
    size: info.size,
    mtime: info.mtime!.getTime(),
    ino: info.ino ?? 0,
  });
});

/** Tasks over a folder of inputs, with an output: each stamp kind a record holds. */
const FOLDER_TASKS = `import { defineTasks, io } from "${MOD}";
console.error("top level ran");
export default defineTasks({
  cat: io({
    trusted: true,
    inputs: ["src"],
    outputs: ["out/all.txt"],
    run() {
      const names = [...Deno.readDirSync("src")].map((entry) => entry.name).sort();
      const text = names.map((name) => Deno.readTextFileSync("src/" + name)).join("");
      Deno.mkdirSync("out", { recursive: true });
      Deno.writeTextFileSync("out/all.txt", text);
      return text;
    },
  }),
});
`;

Deno.test("Every stamp a record holds is checked: inputs added, edited, removed, outputs and cache entries", async () => {
  for (
    const permissions of [["-A"], [
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-run",
      "--allow-sys",
    ]]
  ) {
    const how = permissions.includes("-A") ? "with FFI" : "without FFI";
    await using dir = await project(FOLDER_TASKS);
    const json = ["--report", "json"];
    const run = () => runIn(dir, json, {}, permissions);
    const settled = async (what: string) => {
      assert.equal((await run()).fast, true, `${how}: answered again after ${what}`);
    };
    let ran = await run();
    assert.equal(ran.code, 0, ran.stderr);
    assert.deepEqual(results(ran.stdout).cat, ["ok", "alphabeta"]);
    await settled("the first run");

    await dir.write("src/c.txt", "gamma");
    ran = await run();
    assert.equal(ran.fast, false, `${how}: a file added to an input folder`);
    assert.deepEqual(results(ran.stdout).cat, ["ok", "alphabetagamma"]);
    await settled("an added input");

    // The same size, and another mtime (set back: the writer leaves no record
    // while a file's mtime is in the future): only the mtime tells.
    await dir.write("src/c.txt", "GAMMA");
    const earlier = Deno.statSync(`${dir.path}/src/c.txt`).mtime!.getTime() / 1000 - 5;
    await Deno.utime(`${dir.path}/src/c.txt`, earlier, earlier);
    ran = await run();
    assert.equal(ran.fast, false, `${how}: an input edited, its size the same`);
    assert.deepEqual(results(ran.stdout).cat, ["ok", "alphabetaGAMMA"]);
    await settled("an edited input");

    await Deno.remove(`${dir.path}/src/c.txt`);
    ran = await run();
    assert.equal(ran.fast, false, `${how}: an input removed`);
    assert.deepEqual(results(ran.stdout).cat, ["cached", "alphabeta"]);
    await settled("a removed input");

    await dir.write("out/all.txt", "tampered");
    ran = await run();
    assert.equal(ran.fast, false, `${how}: an output changed`);
    assert.equal(await Deno.readTextFile(`${dir.path}/out/all.txt`), "alphabeta");
    await settled("a changed output");

    const entries = `${dir.path}/.spool/cache/entries`;
    const names = (await Array.fromAsync(Deno.readDir(entries))).map((entry) => entry.name);
    assert.ok(names.length > 0, "the cache has entries");
    for (const name of names) {
      const text = await Deno.readTextFile(`${entries}/${name}`);
      await Deno.writeTextFile(`${entries}/${name}`, text + " ");
    }
    ran = await run();
    assert.equal(ran.fast, false, `${how}: a cache entry changed`);
    assert.equal(ran.code, 0, ran.stderr);
    assert.deepEqual(results(ran.stdout).cat?.[1], "alphabeta");
  }
});

/** Tasks over a folder of inputs that read them by the task file's own path, whatever the working directory. */
const ANYWHERE_TASKS = `import { defineTasks, io } from "${MOD}";
console.error("top level ran");
const here = (name: string) => new URL(name, import.meta.url).pathname;
export default defineTasks({
  cat: io({
    trusted: true,
    inputs: ["src"],
    outputs: ["out.txt"],
    run() {
      const names = [...Deno.readDirSync(here("src"))].map((entry) => entry.name).sort();
      const text = names.map((name) => Deno.readTextFileSync(here("src/" + name))).join("");
      Deno.writeTextFileSync(here("out.txt"), text);
      return text;
    },
  }),
});
`;

Deno.test("A record answers from the task file's parent folder and from outside it, and sees a change from either", async () => {
  await using root = await tempDir();
  await Deno.mkdir(`${root.path}/proj/src`, { recursive: true });
  await Deno.mkdir(`${root.path}/other`);
  await root.write("proj/src/a.txt", "alpha");
  await root.write("proj/tasks.ts", ANYWHERE_TASKS);
  // Paths under the working directory are recorded relative to it, others whole.
  for (const [cwd, file] of [["", "proj/tasks.ts"], ["other", "../proj/tasks.ts"]]) {
    const run = async () => {
      const out = await deno(
        ["run", "--no-prompt", "-A", CLI, "run", "--file", file, "--report", "json"],
        { cwd: `${root.path}/${cwd}` },
      );
      assert.equal(out.code, 0, out.stderr);
      return { fast: !out.stderr.includes(MARK), cat: results(out.stdout).cat };
    };
    const where = `from ${cwd === "" ? "the parent folder" : "a sibling folder"}`;
    await run();
    await run();
    const answered = await run();
    assert.equal(answered.fast, true, `${where}: the fast path answers`);
    const before = answered.cat[1] as string;
    await root.write(`proj/src/${cwd === "" ? "b" : "c"}.txt`, cwd === "" ? "beta" : "gamma");
    const changed = await run();
    assert.equal(changed.fast, false, `${where}: an added input takes the normal path`);
    assert.deepEqual(changed.cat, ["ok", before + (cwd === "" ? "beta" : "gamma")], where);
  }
});

Deno.test("A record whose task names no task file could declare is never printed: the normal path answers", async () => {
  await using dir = await project(FOLDER_TASKS);
  assert.equal((await runIn(dir)).code, 0);
  assert.equal((await runIn(dir)).fast, true, "a record was written");
  // Rewritten, as anything that may write to the cache folder could: a
  // control sequence in a name, sealed with a sum that agrees.
  const folder = `${dir.path}/.spool/cache/no-op/fast`;
  const [{ name }] = await Array.fromAsync(Deno.readDir(folder));
  const data = await Deno.readFile(`${folder}/${name}`);
  const body = data.subarray(33);
  const end = body.indexOf(0);
  const text = new TextDecoder().decode(body.subarray(0, end))
    .replace(`["cat",`, `["cat\\u001b]0;owned\\u0007",`);
  assert.ok(text.includes("owned"), "the record names the task");
  const json = new TextEncoder().encode(text);
  const forged = new Uint8Array(json.length + body.length - end);
  forged.set(json);
  forged.set(body.subarray(end), json.length);
  const sum = new Uint8Array(await crypto.subtle.digest("SHA-256", forged));
  await Deno.writeFile(`${folder}/${name}`, new Uint8Array([...sum, 0x7b, ...forged]));
  const ran = await runIn(dir, []);
  assert.equal(ran.code, 0, ran.stderr);
  assert.equal(ran.fast, false, "the normal path answered");
  assert.ok(!ran.stderr.includes("\x1b]0;owned"), ran.stderr);
});
