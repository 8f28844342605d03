import assert from "node:assert/strict";
import { cpu, defineTasks, io, isTaskSet, TaskFileError, TaskSet } from "../mod.ts";

// deno-lint-ignore no-explicit-any
type Anything = any;

/** Calls defineTasks and returns the TaskFileError it must throw. */
function rejects(tasks: Record<string, unknown>): TaskFileError {
  try {
    defineTasks(tasks as Anything);
  } catch (error) {
    assert.ok(error instanceof TaskFileError, `expected a TaskFileError, got ${error}`);
    return error;
  }
  assert.fail("defineTasks accepted an invalid task set");
}

Deno.test("io() and cpu() mark the task's kind and keep its spec", () => {
  const run = () => 1;
  const a = io({ description: "an io task", deps: ["x"], run });
  const b = cpu({ run });
  assert.equal(a.kind, "io");
  assert.equal(a.description, "an io task");
  assert.deepEqual(a.deps, ["x"]);
  assert.equal(a.run, run);
  assert.equal(b.kind, "cpu");
});

Deno.test("io() and cpu() reject a spec that is not an object", () => {
  assert.throws(() => io(null as Anything), TypeError);
  assert.throws(() => cpu("run" as Anything), TypeError);
});

Deno.test("defineTasks returns a validated task set that knows its module", () => {
  const run = () => 1;
  const set = defineTasks({
    a: io({ run }),
    b: cpu({ description: "b", deps: ["a", "a"], permissions: { read: ["/x"], env: false }, run }),
  });
  assert.ok(set instanceof TaskSet);
  assert.ok(isTaskSet(set));
  assert.equal(set.module, import.meta.url);
  assert.deepEqual([...set.tasks.keys()], ["a", "b"]);
  const a = set.tasks.get("a")!;
  assert.deepEqual(
    { kind: a.kind, description: a.description, deps: a.deps, permissions: a.permissions },
    { kind: "io", description: "", deps: [], permissions: {} },
  );
  const b = set.tasks.get("b")!;
  assert.equal(b.kind, "cpu");
  assert.deepEqual(b.deps, ["a"], "duplicate deps are dropped");
  assert.deepEqual(b.permissions, { read: ["/x"] });
  assert.equal(b.run, run);
  assert.deepEqual(set.graph.order, ["a", "b"]);
});

Deno.test("isTaskSet tells a task set from look-alikes", () => {
  assert.equal(isTaskSet({ tasks: new Map(), graph: {} }), false);
  assert.equal(isTaskSet(null), false);
  assert.equal(isTaskSet(defineTasks({ a: io({ run: () => 1 }) })), true);
});

Deno.test("defineTasks errors are TaskFileErrors with exit code 2 naming this file", () => {
  const error = rejects({ build: io({ deps: ["nothing"], run: () => 1 }) });
  assert.equal(error.exitCode, 2);
  assert.equal(error.code, "TASK_FILE");
  assert.equal(error.name, "TaskFileError");
  assert.equal(error.file, import.meta.url);
  assert.match(error.message, /define_test\.ts: /);
});

Deno.test("defineTasks rejects an unknown dependency and suggests the closest name", () => {
  const error = rejects({
    build: io({ run: () => 1 }),
    pack: io({ deps: ["biuld"], run: () => 1 }),
  });
  assert.match(error.message, /Task "pack" depends on unknown task "biuld"/);
  assert.match(error.message, /did you mean "build"\?/);

  const far = rejects({ pack: io({ deps: ["zzzzzzzz"], run: () => 1 }) });
  assert.match(far.message, /unknown task "zzzzzzzz"/);
  assert.doesNotMatch(far.message, /did you mean/);
});

Deno.test("defineTasks rejects a task that depends on itself", () => {
  const error = rejects({ loop: io({ deps: ["loop"], run: () => 1 }) });
  assert.match(error.message, /Task "loop" depends on itself/);
  assert.equal(error.exitCode, 2);
});

Deno.test("defineTasks rejects a cycle and names every task on it", () => {
  const run = () => 1;
  const error = rejects({
    start: io({ run }),
    a: io({ deps: ["start", "c"], run }),
    b: io({ deps: ["a"], run }),
    c: cpu({ deps: ["b"], run }),
    outside: io({ deps: ["c"], run }),
  });
  assert.match(error.message, /cycle/);
  for (const name of ["a", "b", "c"]) assert.match(error.message, new RegExp(`"${name}"`));
  assert.doesNotMatch(error.message, /"start"/, "a task off the cycle is not named");
  assert.equal(error.file, import.meta.url);
});

Deno.test("defineTasks rejects a task that is neither io nor cpu", () => {
  for (const value of [{ run: () => 1 }, () => 1, 42, null, { kind: "gpu", run: () => 1 }]) {
    const error = rejects({ plain: value });
    assert.match(error.message, /Task "plain" is neither io nor cpu/);
    assert.match(error.message, /io\(\{ run \}\)/, "the message shows the way out");
  }
});

Deno.test("defineTasks rejects a task without a run function", () => {
  const error = rejects({ empty: io({ description: "no body" } as Anything) });
  assert.match(error.message, /Task "empty" has no run function/);
  const notFunction = rejects({ empty: cpu({ run: "code" } as Anything) });
  assert.match(notFunction.message, /Task "empty" has no run function/);
});

Deno.test("defineTasks rejects deps that are not a list of names", () => {
  for (const deps of ["a", [1], { a: true }]) {
    const error = rejects({ a: io({ run: () => 1 }), b: io({ deps, run: () => 1 } as Anything) });
    assert.match(error.message, /Task "b" has invalid 'deps': expected a list of task names/);
  }
});

Deno.test("defineTasks rejects a description that is not a string", () => {
  const error = rejects({ a: io({ description: 7, run: () => 1 } as Anything) });
  assert.match(error.message, /Task "a" has an invalid 'description'/);
});

Deno.test("defineTasks rejects invalid task names", () => {
  for (const name of ["has space", "-dash-first", ""]) {
    const error = rejects({ [name]: io({ run: () => 1 }) });
    assert.match(error.message, /is invalid: use letters, digits/);
  }
});

Deno.test("defineTasks rejects bad permission values and names the task and key", () => {
  const cases: [unknown, RegExp][] = [
    [{ network: true }, /declares unknown permission 'network': use one of net, read/],
    [{ net: "example.com" }, /invalid permission 'net': expected true, false or a list/],
    [{ read: 1 }, /invalid permission 'read': expected true, false or a list/],
    [{ env: [""] }, /invalid permission 'env': every entry must be a non-empty string/],
    [{ write: ["  "] }, /invalid permission 'write': every entry must be a non-empty string/],
    [{ net: [42] }, /invalid permission 'net': every entry must be a non-empty string/],
    [{ sys: ["cpu"] }, /invalid permission 'sys': unknown kind "cpu"/],
    [{ net: ["a.com,b.com"] }, /must not contain a comma or white space/],
    [["net"], /has invalid 'permissions': expected an object/],
    ["all", /has invalid 'permissions': expected an object/],
  ];
  for (const [permissions, message] of cases) {
    const error = rejects({ fetcher: io({ permissions, run: () => 1 } as Anything) });
    assert.match(error.message, /Task "fetcher"/, `for ${JSON.stringify(permissions)}`);
    assert.match(error.message, message, `for ${JSON.stringify(permissions)}`);
    assert.equal(error.exitCode, 2);
    assert.equal(error.file, import.meta.url);
  }
});

Deno.test("defineTasks rejects an empty task set and a value that is not an object", () => {
  assert.match(rejects({}).message, /the task set is empty/);
  for (const value of [null, [io({ run: () => 1 })], "tasks"]) {
    const error = rejects(value as Anything);
    assert.match(error.message, /defineTasks\(\) expects an object of tasks/);
    assert.equal(error.exitCode, 2);
  }
});

Deno.test("defineTasks accepts names that differ in more than case and names the first pair that does not", () => {
  const run = () => 1;
  const set = defineTasks({
    Build: io({ run }),
    deploy: io({ run }),
    "Ünïcode": io({ run }),
    "t\u00e9st": io({ run }),
    build2: io({ run }),
  });
  assert.deepEqual([...set.tasks.keys()], ["Build", "deploy", "Ünïcode", "t\u00e9st", "build2"]);
  const cases: [string[], string][] = [
    // The second of each pair is the one that clashes with a name declared before it.
    [["a", "B", "x", "b"], 'Tasks "B" and "b" differ'],
    [["Build", "BUILD"], 'Tasks "Build" and "BUILD" differ'],
    [["ｂｕｉｌｄ", "Build", "build"], 'Tasks "ｂｕｉｌｄ" and "Build" differ'],
    [["tests", "caf\u00e9", "CAF\u00c9"], 'Tasks "caf\u00e9" and "CAF\u00c9" differ'],
  ];
  for (const [names, message] of cases) {
    const error = rejects(Object.fromEntries(names.map((name) => [name, io({ run })])));
    assert.ok(error.message.includes(`: ${message} only in case`), error.message);
  }
});

Deno.test("defineTasks gives tasks that share one permissions object the same normalized set", () => {
  const run = () => 1;
  const permissions = { read: ["src", "src"], write: ["out"], env: false };
  const set = defineTasks({
    a: io({ permissions, run }),
    b: cpu({ permissions, run }),
    c: io({ permissions: { read: ["src"] }, run }),
  });
  assert.deepEqual(set.tasks.get("a")!.permissions, { read: ["src"], write: ["out"] });
  assert.deepEqual(set.tasks.get("b")!.permissions, { read: ["src"], write: ["out"] });
  assert.deepEqual(set.tasks.get("c")!.permissions, { read: ["src"] });
  // An invalid shared object is reported on the first task that declares it.
  const bad = { read: ["src"], sys: ["cpu"] };
  const error = rejects({
    ok: io({ run }),
    first: io({ permissions: bad, run } as Anything),
    second: io({ permissions: bad, run } as Anything),
  });
  assert.match(error.message, /Task "first" has invalid permission 'sys': unknown kind "cpu"/);
});

Deno.test("defineTasks gives tasks that declare equal permission sets one frozen object, whatever objects they wrote", () => {
  const run = () => 1;
  const set = defineTasks({
    none1: io({ run }),
    none2: io({ run }),
    empty: io({ permissions: {}, run }),
    falsy: cpu({ permissions: { net: false }, run }),
    net1: io({ permissions: { net: ["a.example", "b.example"] }, run }),
    net2: io({ permissions: { net: ["b.example", "a.example"] }, run }),
    read: io({ permissions: { read: ["src"] }, run }),
  });
  const of = (name: string) => set.tasks.get(name)!.permissions;
  // The pool, the grant check and the sandbox lookup key their work by this
  // object: 10,000 tasks that declare nothing are one sandbox, looked up once.
  assert.equal(of("none1"), of("none2"));
  assert.equal(of("none1"), of("empty"));
  assert.equal(of("none1"), of("falsy"));
  assert.equal(of("net1"), of("net2"));
  assert.notEqual(of("net1"), of("read"));
  assert.deepEqual(of("none1"), {});
  // Shared by several tasks, it cannot be widened through one of them.
  assert.ok(Object.isFrozen(of("net1")));
  assert.ok(Object.isFrozen(of("net1").net));
  assert.throws(() => (of("read").read as string[]).push("/"), TypeError);
  assert.throws(() => {
    (of("none1") as Record<string, unknown>).net = true;
  }, TypeError);
});

Deno.test("defineTasks keeps each dependency once, in the order first declared", () => {
  const run = () => 1;
  const names = Array.from({ length: 20 }, (_, i) => `d${i}`);
  const set = defineTasks({
    ...Object.fromEntries(names.map((name) => [name, io({ run })])),
    few: io({ deps: ["d2", "d1", "d2", "d0", "d1"], run }),
    distinct: io({ deps: ["d3", "d1"], run }),
    many: io({ deps: [...names, ...names.toReversed()], run }),
  });
  assert.deepEqual(set.tasks.get("few")!.deps, ["d2", "d1", "d0"]);
  assert.deepEqual(set.tasks.get("distinct")!.deps, ["d3", "d1"]);
  assert.deepEqual(set.tasks.get("many")!.deps, names);
});
