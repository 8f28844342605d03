import assert from "node:assert/strict";
import { PermissionError, run } from "../mod.ts";
import {
  flagFor,
  normalizePermissions,
  PERMISSION_NAMES,
  permissionKey,
  workerPermissions,
} from "../lib/declare/permissions.ts";
import { deno, fixture, spool, tempDir } from "./_helpers.ts";
import permissionTasks from "./fixtures/permission_tasks.ts";

const SECRET = fixture("secret.txt");
const SECRET_TEXT = Deno.readTextFileSync(SECRET);

Deno.test("normalizePermissions keeps only granted names, as true or unique scopes", () => {
  assert.deepEqual(normalizePermissions("t", undefined), {});
  assert.deepEqual(normalizePermissions("t", null), {});
  assert.deepEqual(
    normalizePermissions("t", {
      net: ["example.com", "example.com", "deno.land:443"],
      read: true,
      write: false,
      env: [],
      sys: ["hostname", "cpus"],
      ffi: ["./lib with space.so"],
    }),
    {
      net: ["example.com", "deno.land:443"],
      read: true,
      sys: ["hostname", "cpus"],
      ffi: ["./lib with space.so"],
    },
  );
});

Deno.test("normalizePermissions throws a TypeError naming the task and the key", () => {
  assert.throws(() => normalizePermissions("pack", { disk: true }), {
    name: "TypeError",
    message: /Task "pack" declares unknown permission 'disk'/,
  });
  assert.throws(() => normalizePermissions("pack", { run: "git" }), {
    name: "TypeError",
    message: /Task "pack" has invalid permission 'run': .*got the string "git"/,
  });
  assert.throws(() => normalizePermissions("pack", { env: ["HOME", ""] }), {
    message: /Task "pack" has invalid permission 'env': every entry must be a non-empty string/,
  });
  assert.throws(() => normalizePermissions("pack", { sys: ["uptime"] }), {
    message: /Task "pack" has invalid permission 'sys': unknown kind "uptime"/,
  });
  assert.throws(() => normalizePermissions("pack", { run: ["git status"] }), {
    message: /"git status" must not contain a comma or white space/,
  });
  assert.throws(() => normalizePermissions("pack", 7), {
    message: /Task "pack" has invalid 'permissions': expected an object .*got number 7/,
  });
});

Deno.test("flagFor gives the exact --allow flag", () => {
  assert.equal(flagFor("net", true), "--allow-net");
  assert.equal(flagFor("read", ["./dist", "./src"]), "--allow-read=./dist,./src");
  assert.equal(flagFor("env", ["HOME"]), "--allow-env=HOME");
});

Deno.test("workerPermissions sets every permission explicitly, denying what is not declared", () => {
  const none = workerPermissions({});
  for (const name of [...PERMISSION_NAMES, "import"]) {
    assert.equal((none as Record<string, unknown>)[name], false, `${name} is denied`);
  }
  const some = workerPermissions({ read: ["/data"], net: true });
  assert.deepEqual(some, {
    import: false,
    net: true,
    read: ["/data"],
    write: false,
    env: false,
    run: false,
    sys: false,
    ffi: false,
  });
});

Deno.test("permissionKey is equal for equal permission sets, whatever their order", () => {
  assert.equal(
    permissionKey({ read: ["/b", "/a"], net: true }),
    permissionKey({ net: true, read: ["/a", "/b"] }),
  );
  assert.notEqual(permissionKey({ read: ["/a"] }), permissionKey({ read: true }));
  assert.equal(permissionKey({}), permissionKey({ read: false }));
});

Deno.test("PermissionError lists every missing grant and the flags to add", () => {
  const error = new PermissionError([
    { task: "pack", permission: "read", value: ["./dist"], flag: "--allow-read=./dist" },
    { task: "ship", permission: "net", value: true, flag: "--allow-net" },
  ]);
  assert.equal(error.exitCode, 2);
  assert.match(
    error.message,
    /^Cannot run task "pack": it needs read access to "\.\/dist", run again with --allow-read=\.\/dist$/m,
  );
  assert.match(
    error.message,
    /^Cannot run task "ship": it needs net access, run again with --allow-net$/m,
  );
  assert.match(error.message, /^Add these flags: --allow-read=\.\/dist --allow-net$/m);
});

Deno.test("findMissingGrants reports only what a limited process lacks, scope by scope", async () => {
  const tasks = [
    { name: "a", permissions: { read: ["/tmp", "/etc"], env: ["HOME"] } },
    { name: "b", permissions: { net: true, env: true, sys: ["hostname"] } },
    { name: "c", permissions: { read: ["/tmp"] } },
  ];
  const { code, stdout, stderr } = await deno([
    "run",
    "--no-prompt",
    "--allow-read=/tmp",
    "--allow-env=HOME",
    fixture("missing_grants.ts"),
    JSON.stringify(tasks),
  ]);
  assert.equal(code, 0, stderr);
  assert.deepEqual(JSON.parse(stdout).missing, [
    { task: "a", permission: "read", value: ["/etc"], flag: "--allow-read=/etc" },
    { task: "b", permission: "net", value: true, flag: "--allow-net" },
    { task: "b", permission: "env", value: true, flag: "--allow-env" },
    { task: "b", permission: "sys", value: ["hostname"], flag: "--allow-sys=hostname" },
  ]);
});

Deno.test("findMissingGrants reports every task of a shared permissions object, each on its own", async () => {
  const shared = { read: ["/tmp", "/etc"], net: true };
  const tasks = [
    { name: "a", permissions: shared },
    { name: "b", permissions: { read: ["/tmp"] } },
    { name: "c", permissions: shared },
    { name: "d", permissions: shared },
  ];
  const { code, stdout, stderr } = await deno([
    "run",
    "--no-prompt",
    "--allow-read=/tmp",
    fixture("missing_grants.ts"),
    JSON.stringify(tasks),
    "--share",
  ]);
  assert.equal(code, 0, stderr);
  const { missing, sharedValues } = JSON.parse(stdout);
  assert.deepEqual(
    missing,
    ["a", "c", "d"].flatMap((task) => [
      { task, permission: "net", value: true, flag: "--allow-net" },
      { task, permission: "read", value: ["/etc"], flag: "--allow-read=/etc" },
    ]),
  );
  assert.equal(sharedValues, false, "each report holds its own list of scopes");
});

Deno.test("A missing grant stops the run before any task starts (exit 2, exact flag)", async () => {
  await using dir = await tempDir();
  const marker = `${dir.path}/marker`;
  const granted = ["--allow-read", "--allow-write", "--allow-env=SPOOL_MARKER"];
  const denied = await spool(["run", "-f", fixture("needs_net.ts")], granted, {
    env: { SPOOL_MARKER: marker },
  });
  assert.equal(denied.code, 2, denied.stderr);
  assert.match(
    denied.stderr,
    /Cannot run task "page": it needs net access to "example\.com", run again with --allow-net=example\.com/,
  );
  assert.doesNotMatch(denied.stderr, /start/, "no task started");
  await assert.rejects(Deno.stat(marker), Deno.errors.NotFound, "the marker task did not run");

  // The same run with the flag it asked for does run the marker task.
  const allowed = await spool(
    ["run", "-f", fixture("needs_net.ts")],
    [...granted, "--allow-net=example.com,127.0.0.1", "--allow-run=deno"],
    { env: { SPOOL_MARKER: marker } },
  );
  assert.equal(allowed.code, 0, allowed.stderr);
  assert.equal(await Deno.readTextFile(marker), "ran");
});

Deno.test("A missing grant is reported for every task and permission at once", async () => {
  const { code, stderr } = await spool(["-f", fixture("needs_net.ts")], ["--allow-read"]);
  assert.equal(code, 2, stderr);
  assert.match(
    stderr,
    /Cannot run task "marker": it needs write access, run again with --allow-write/,
  );
  assert.match(stderr, /--allow-env=SPOOL_MARKER/);
  assert.match(
    stderr,
    /Add these flags: --allow-write --allow-env=SPOOL_MARKER --allow-net=example\.com/,
  );
});

Deno.test("A cpu task cannot read a file it did not declare, even when the process has -A", async () => {
  const report = await run(permissionTasks, {
    targets: ["readUndeclared", "readDeclared", "readOther"],
    keepGoing: true,
    workers: 2,
  });
  const byName = Object.fromEntries(report.tasks.map((task) => [task.name, task]));
  assert.equal(byName.readUndeclared.status, "failed");
  assert.equal(byName.readUndeclared.error?.name, "NotCapable");
  assert.match(byName.readUndeclared.error!.message, /Requires read access to ".*secret\.txt"/);
  assert.equal(byName.readDeclared.status, "ok", byName.readDeclared.error?.message);
  assert.equal(byName.readDeclared.result, SECRET_TEXT);
  assert.equal(byName.readOther.status, "failed", "a read scope does not widen to its neighbours");
  assert.equal(byName.readOther.error?.name, "NotCapable");
});

Deno.test("A cpu task cannot read an environment variable it did not declare, even with -A", async () => {
  Deno.env.set("SPOOL_TEST_SECRET", "s3cret");
  try {
    const report = await run(permissionTasks, {
      targets: ["envUndeclared", "envDeclared"],
      keepGoing: true,
      workers: 2,
    });
    const byName = Object.fromEntries(report.tasks.map((task) => [task.name, task]));
    assert.equal(byName.envUndeclared.status, "failed");
    assert.equal(byName.envUndeclared.error?.name, "NotCapable");
    assert.match(byName.envUndeclared.error!.message, /Requires env access to "SPOOL_TEST_SECRET"/);
    assert.equal(byName.envDeclared.status, "ok", byName.envDeclared.error?.message);
    assert.equal(byName.envDeclared.result, "s3cret");
  } finally {
    Deno.env.delete("SPOOL_TEST_SECRET");
  }
});

Deno.test("Through the CLI with -A, undeclared reads in cpu tasks fail and declared ones pass", async () => {
  const { code, stdout, stderr } = await spool(
    ["run", "-f", fixture("permission_tasks.ts"), "--keep-going", "--report", "json"],
    ["-A"],
    { env: { SPOOL_TEST_SECRET: "from-env" } },
  );
  assert.equal(code, 1, stderr);
  const report = JSON.parse(stdout);
  const byName = Object.fromEntries(
    report.tasks.map((task: { name: string }) => [task.name, task]),
  );
  for (const name of ["readUndeclared", "readOther", "envUndeclared"]) {
    assert.equal(byName[name].status, "failed", name);
    assert.equal(byName[name].error.name, "NotCapable", name);
  }
  assert.equal(byName.readDeclared.status, "ok");
  assert.equal(byName.readDeclared.result, SECRET_TEXT);
  assert.equal(byName.envDeclared.status, "ok");
  assert.equal(byName.envDeclared.result, "from-env");
  assert.match(stderr, /FAIL {2}readUndeclared \(cpu, worker \d+\).*Requires read access/);
});

Deno.test("A run with sandboxed tasks needs to start deno and hear back from it, checked before anything starts", async () => {
  // Each sandbox is a deno process that reports back over loopback.
  const denied = await deno(["run", "--no-prompt", "--allow-read", fixture("smoke.ts"), "c1"]);
  assert.equal(denied.code, 2, denied.stderr);
  for (
    const line of [
      `Cannot run task "c1": it needs run access to "deno" (spool runs each sandbox as a deno process), run again with --allow-run=deno`,
      `Cannot run task "c1": it needs net access to "127.0.0.1" (sandboxes report back to spool over loopback), run again with --allow-net=127.0.0.1`,
    ]
  ) assert.ok(denied.stderr.includes(line), denied.stderr);
  assert.doesNotMatch(denied.stderr, /start/, "no task started");

  // The flags it names are enough; the runner needs no read access to the code.
  const allowed = await deno([
    "run",
    "--no-prompt",
    "--allow-run=deno",
    "--allow-net=127.0.0.1",
    `--allow-read=${fixture("smoke.ts")}`,
    fixture("smoke.ts"),
    "c1",
  ]);
  assert.equal(allowed.code, 0, allowed.stderr);
});
