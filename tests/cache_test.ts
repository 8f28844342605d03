import assert from "node:assert/strict";
import { background, CLI, deno, ROOT, spool, type TempDir, tempDir } from "./_helpers.ts";
import { SPOOL_VERSION } from "../lib/cache/_version.ts";
import denoJson from "../deno.json" with { type: "json" };

const MOD = new URL("../mod.ts", import.meta.url).href;

/** A graph over src/: a and b read one file each, c and d depend on them; a writes out/a.txt. */
function taskFile(bBody = "return Deno.readTextFileSync('src/b.txt').length;"): string {
  return `import { cpu, defineTasks, io } from "${MOD}";
export default defineTasks({
  a: cpu({
    permissions: { read: ["src/a.txt"], write: ["out"] },
    run() {
      const text = Deno.readTextFileSync("src/a.txt");
      Deno.mkdirSync("out", { recursive: true });
      Deno.writeTextFileSync("out/a.txt", text.toUpperCase());
      return text;
    },
  }),
  b: cpu({ permissions: { read: ["src/b.txt"] }, run() { ${bBody} } }),
  c: io({ deps: ["a"], run: ({ deps }) => String(deps.a).length }),
  d: io({ deps: ["b"], run: ({ deps }) => Number(deps.b) * 2 }),
  sneaky: cpu({ permissions: { read: ["src/a.txt"] }, cache: false, run: () => Deno.readTextFileSync("src/b.txt") }),
});
`;
}

async function project(): Promise<TempDir> {
  const dir = await tempDir();
  await Deno.mkdir(`${dir.path}/src`);
  await dir.write("src/a.txt", "alpha");
  await dir.write("src/b.txt", "beta");
  await dir.write("tasks.ts", taskFile());
  return dir;
}

interface Row {
  status: string;
  why?: string;
  result?: unknown;
}

async function runIn(dir: TempDir, extra: string[] = [], targets = ["c", "d"]) {
  // Straight through deno, not spool(): the cache is on by default, with no flag.
  const out = await deno(
    [
      "run",
      "--no-prompt",
      "-A",
      CLI,
      "run",
      "--file",
      "tasks.ts",
      "--report",
      "json",
      ...extra,
      ...targets,
    ],
    { cwd: dir.path },
  );
  const tasks: Record<string, Row> = {};
  if (out.stdout.trim() !== "") {
    for (const task of JSON.parse(out.stdout).tasks) tasks[task.name] = task;
  }
  return { ...out, tasks };
}

function statuses(tasks: Record<string, Row>): Record<string, string> {
  return Object.fromEntries(Object.entries(tasks).map(([name, t]) => [name, t.status]));
}

Deno.test("A second run of an unchanged graph has every task cached, with its result", async () => {
  await using dir = await project();
  const first = await runIn(dir);
  assert.equal(first.code, 0, first.stderr);
  assert.deepEqual(statuses(first.tasks), { a: "ok", b: "ok", c: "ok", d: "ok" });
  assert.equal(first.tasks.a.why, "no previous run");
  const second = await runIn(dir);
  assert.equal(second.code, 0, second.stderr);
  assert.deepEqual(statuses(second.tasks), { a: "cached", b: "cached", c: "cached", d: "cached" });
  assert.equal(second.tasks.d.result, 8);
  assert.equal(second.tasks.c.why, "cached");
  const forced = await runIn(dir, ["--force"]);
  assert.deepEqual(statuses(forced.tasks), { a: "ok", b: "ok", c: "ok", d: "ok" });
  assert.equal(forced.tasks.a.why, "--force");
  const explicit = await runIn(dir, ["--cache"]);
  assert.deepEqual(statuses(explicit.tasks), {
    a: "cached",
    b: "cached",
    c: "cached",
    d: "cached",
  });
});

Deno.test("spool run --no-cache runs every task and neither reads nor writes the cache", async () => {
  await using dir = await project();
  const off = await runIn(dir, ["--no-cache"]);
  assert.equal(off.code, 0, off.stderr);
  assert.deepEqual(statuses(off.tasks), { a: "ok", b: "ok", c: "ok", d: "ok" });
  assert.equal(off.tasks.a.why, undefined);
  assert.equal(await Deno.stat(`${dir.path}/.spool`).catch(() => undefined), undefined);
  await runIn(dir);
  const again = await runIn(dir, ["--no-cache"]);
  assert.deepEqual(statuses(again.tasks), { a: "ok", b: "ok", c: "ok", d: "ok" });
  const watch = await runIn(dir, ["--no-cache", "--watch"]);
  assert.equal(watch.code, 2);
  assert.match(watch.stderr, /Cannot watch without the cache: .* drop --no-cache/);
});

Deno.test("Changing one input re-runs exactly the tasks downstream of it, and says why", async () => {
  await using dir = await project();
  await runIn(dir);
  await dir.write("src/a.txt", "alphabet");
  const { tasks } = await runIn(dir);
  assert.deepEqual(statuses(tasks), { a: "ok", b: "cached", c: "ok", d: "cached" });
  assert.equal(tasks.a.why, "input src/a.txt changed");
  assert.equal(tasks.c.why, "dependency a re-ran with a new result");
  assert.equal(tasks.c.result, 8);
});

Deno.test("Editing a body re-runs that task, and its dependants only when its result changes", async () => {
  await using dir = await project();
  await runIn(dir);
  // The same result, computed another way: d comes from the cache.
  await dir.write(
    "tasks.ts",
    taskFile("const s = Deno.readTextFileSync('src/b.txt'); return s.length;"),
  );
  let { tasks } = await runIn(dir);
  assert.deepEqual(statuses(tasks), { a: "cached", b: "ok", c: "cached", d: "cached" });
  assert.equal(tasks.b.why, "task code changed");
  // A new result: d runs again.
  await dir.write("tasks.ts", taskFile("return 100;"));
  ({ tasks } = await runIn(dir));
  assert.deepEqual(statuses(tasks), { a: "cached", b: "ok", c: "cached", d: "ok" });
  assert.equal(tasks.d.why, "dependency b re-ran with a new result");
  assert.equal(tasks.d.result, 200);
});

Deno.test("A deleted or changed output is put back from the cache without running the task", async () => {
  await using dir = await project();
  await runIn(dir);
  await Deno.remove(`${dir.path}/out`, { recursive: true });
  let { tasks } = await runIn(dir);
  assert.equal(tasks.a.status, "cached");
  assert.equal(await Deno.readTextFile(`${dir.path}/out/a.txt`), "ALPHA");
  await dir.write("out/a.txt", "tampered");
  ({ tasks } = await runIn(dir));
  assert.equal(tasks.a.status, "cached");
  assert.equal(await Deno.readTextFile(`${dir.path}/out/a.txt`), "ALPHA");
});

Deno.test("A cpu task cannot read a file outside its declared inputs, so no entry can miss one", async () => {
  await using dir = await project();
  const { tasks, code } = await runIn(dir, [], ["sneaky"]);
  assert.equal(code, 1);
  assert.equal(tasks.sneaky.status, "failed");
  assert.match(
    (tasks.sneaky as unknown as { error: { message: string } }).error.message,
    /read access to "src\/b\.txt"|src\/b\.txt/,
  );
});

Deno.test("A corrupt or torn cache entry is never used: the task runs again and the entry is replaced", async () => {
  await using dir = await project();
  await runIn(dir);
  const entries = `${dir.path}/.spool/cache/entries`;
  const names = [...Deno.readDirSync(entries)].map((entry) => entry.name);
  assert.ok(names.length >= 4);
  // One entry flipped, one cut in half as a write killed midway would leave it.
  for (const [i, name] of names.entries()) {
    const data = await Deno.readFile(`${entries}/${name}`);
    if (i % 2 === 0) data[data.length - 1] ^= 0xff;
    await Deno.writeFile(
      `${entries}/${name}`,
      i % 2 === 0 ? data : data.subarray(0, data.length >> 1),
    );
  }
  const again = await runIn(dir);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(statuses(again.tasks), { a: "ok", b: "ok", c: "ok", d: "ok" });
  assert.equal(again.tasks.a.why, "cache entry corrupt");
  assert.equal(again.tasks.d.result, 8);
  const third = await runIn(dir);
  assert.deepEqual(statuses(third.tasks), { a: "cached", b: "cached", c: "cached", d: "cached" });
});

Deno.test("A run killed with SIGKILL while it writes the cache leaves nothing a later run trusts", async () => {
  await using dir = await tempDir();
  // 16 outputs of 2 MiB each: most of the run is spent writing them and their blobs.
  await dir.write(
    "tasks.ts",
    `import { cpu, defineTasks } from "${MOD}";
const tasks: Record<string, ReturnType<typeof cpu>> = {};
for (let i = 0; i < 16; i++) {
  tasks["w" + i] = cpu({
    permissions: { write: ["out/" + i + ".bin"] },
    run() {
      const data = new Uint8Array(2 * 1024 * 1024).fill(i + 1);
      Deno.writeFileSync("out/" + i + ".bin", data);
      return i;
    },
  });
}
export default defineTasks(tasks);
`,
  );
  await Deno.mkdir(`${dir.path}/out`);
  for (const delayMs of [400, 700, 1000, 1400]) {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", "-A", CLI, "run", "--cache", "--file", "tasks.ts", "-q"],
      cwd: dir.path,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    try {
      child.kill("SIGKILL");
    } catch {
      // It had finished.
    }
    await child.status;
    // Outputs gone too: the next run must put back whole files or run the task.
    for (let i = 0; i < 16; i++) await Deno.remove(`${dir.path}/out/${i}.bin`).catch(() => {});
    const { tasks, code, stderr } = await runIn(dir, [], []);
    assert.equal(code, 0, stderr);
    for (let i = 0; i < 16; i++) {
      assert.ok(["ok", "cached"].includes(tasks[`w${i}`].status));
      assert.equal(tasks[`w${i}`].result, i);
      const data = await Deno.readFile(`${dir.path}/out/${i}.bin`);
      assert.equal(data.length, 2 * 1024 * 1024);
      assert.ok(data.every((byte) => byte === i + 1), `out/${i}.bin has its bytes`);
    }
  }
});

const canMount = Deno.build.os === "linux" && (() => {
  try {
    return Deno.uid() === 0 &&
      new Deno.Command("mount", { args: ["--version"], stdout: "null", stderr: "null" })
          .outputSync().code === 0;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "A full disk turns the cache off with a warning, and the run goes on",
  // A real full disk: a 64 KiB tmpfs as the cache folder (needs root to mount).
  ignore: !canMount,
  async fn() {
    await using dir = await project();
    await dir.write(
      "tasks.ts",
      taskFile().replace(
        'Deno.writeTextFileSync("out/a.txt", text.toUpperCase());',
        'Deno.writeTextFileSync("out/a.txt", text.toUpperCase().repeat(40_000));',
      ),
    );
    const mountPoint = `${dir.path}/small`;
    await Deno.mkdir(mountPoint);
    const mounted = await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", "size=64k", "tmpfs", mountPoint],
      stderr: "null",
    }).output();
    if (mounted.code !== 0) return; // Not allowed here after all (a container without the capability).
    try {
      const first = await runIn(dir, ["--cache-dir", mountPoint]);
      assert.equal(first.code, 0, first.stderr);
      assert.match(
        first.stderr,
        /warning: Cannot write the cache in ".*small".*: the run goes on uncached/,
      );
      assert.deepEqual(statuses(first.tasks), { a: "ok", b: "ok", c: "ok", d: "ok" });
      const second = await runIn(dir, ["--cache-dir", mountPoint]);
      assert.equal(second.code, 0, second.stderr);
      assert.equal(second.tasks.a.status, "ok");
      assert.equal(second.tasks.d.result, 8);
    } finally {
      await new Deno.Command("umount", { args: [mountPoint] }).output();
    }
  },
});

Deno.test("spool cache info and clean report and empty the cache folder; a bad --cache-max exits 2", async () => {
  await using dir = await project();
  await runIn(dir);
  const info = await spool(["cache", "info", "--file", "tasks.ts"], ["-A"], { cwd: dir.path });
  assert.equal(info.code, 0, info.stderr);
  assert.match(info.stdout, /Entries: 4 \(4 tasks with a last run\)/);
  const clean = await spool(["cache", "clean", "--file", "tasks.ts"], ["-A"], { cwd: dir.path });
  assert.equal(clean.code, 0, clean.stderr);
  assert.equal(await Deno.stat(`${dir.path}/.spool/cache`).catch(() => undefined), undefined);
  const bad = await runIn(dir, ["--cache-max", "lots"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /'--cache-max' must be a size/);
});

Deno.test("Without write access to the cache folder spool runs uncached, quietly; with --cache it exits 2 and names the flag", async () => {
  await using dir = await project();
  const grants = ["--allow-read", "--allow-run=deno", "--allow-net=127.0.0.1"];
  const quiet = await deno(
    ["run", "--no-prompt", ...grants, CLI, "run", "--file", "tasks.ts", "--report", "json", "d"],
    { cwd: dir.path },
  );
  assert.equal(quiet.code, 0, quiet.stderr);
  assert.doesNotMatch(quiet.stderr, /warning|cache/i);
  assert.equal(
    JSON.parse(quiet.stdout).tasks.find((t: Row & { name: string }) => t.name === "d").status,
    "ok",
  );
  assert.equal(await Deno.stat(`${dir.path}/.spool`).catch(() => undefined), undefined);
  const out = await spool(["run", "--cache", "--file", "tasks.ts", "c"], grants, { cwd: dir.path });
  assert.equal(out.code, 2);
  assert.match(
    out.stderr,
    /Cannot use the cache in ".*\.spool\/cache": it needs write access, run again with --allow-write=/,
  );
});

Deno.test("The version in every fingerprint is deno.json's", () => {
  assert.equal(SPOOL_VERSION, denoJson.version);
  assert.ok(ROOT.length > 0);
});

Deno.test("spool run --watch runs again when an input changes, only what it affects, and Ctrl-C exits 130", async () => {
  await using dir = await project();
  await using spoolWatch = background(["run", "--watch", "--file", "tasks.ts", "c", "d"], {
    cwd: dir.path,
    stopSignal: "SIGKILL",
  });
  await spoolWatch.until(/4 tasks: 4 ok/);
  await dir.write("src/b.txt", "beta, changed");
  await spoolWatch.until(/Changed: src\/b\.txt: running again[\s\S]*4 tasks: 2 ok, 2 cached/);
  spoolWatch.kill("SIGINT");
  const status = await spoolWatch.status;
  assert.equal(status.code, 130);
  // The second run ran b and d, and took a and c from the cache.
  const text = spoolWatch.stderr;
  const second = text.slice(text.indexOf("Changed:"));
  assert.match(second, /ok {4}b /);
  assert.match(second, /cache c /);
});

Deno.test("run() with cache: a fully cached run asks its cpu lane for nothing, not even a warm start", async () => {
  await using dir = await project();
  const url = new URL(`file://${dir.path}/tasks.ts`).href;
  const { run } = await import("../mod.ts");
  const tasks = (await import(url)).default;
  const calls: string[] = [];
  const lane = {
    size: 1,
    run(task: string) {
      calls.push(`run ${task}`);
      return Promise.resolve({ value: task === "a" ? "alpha" : 4, worker: 0 });
    },
    warm() {
      calls.push("warm");
    },
    close() {},
  };
  const options = { targets: ["c", "d"], cpuLane: lane, cache: { dir: `${dir.path}/cache` } };
  const first = await run(tasks, options);
  assert.equal(first.ok, true);
  assert.deepEqual(calls.toSorted(), ["run a", "run b", "warm"]);
  calls.length = 0;
  const second = await run(tasks, options);
  assert.deepEqual(second.tasks.map((task) => task.status), [
    "cached",
    "cached",
    "cached",
    "cached",
  ]);
  assert.deepEqual(second.results, { a: "alpha", b: 4, c: 5, d: 8 });
  assert.deepEqual(calls, []);
});

Deno.test("An input edited and then put back is a hit whose entry can still put its outputs back", async () => {
  await using dir = await project();
  await runIn(dir);
  await dir.write("src/a.txt", "alphabet");
  assert.equal((await runIn(dir)).tasks.a.status, "ok");
  // Back to the first content: the first entry is a hit again, and stays whole.
  await dir.write("src/a.txt", "alpha");
  assert.equal((await runIn(dir)).tasks.a.status, "cached");
  await Deno.remove(`${dir.path}/out/a.txt`);
  const { tasks } = await runIn(dir);
  assert.equal(tasks.a.status, "cached");
  assert.equal(await Deno.readTextFile(`${dir.path}/out/a.txt`), "ALPHA");
});
