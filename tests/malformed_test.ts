import assert from "node:assert/strict";
import { runCli } from "../lib/cli/cli.ts";
import { captureSink, ROOT, spool } from "./_helpers.ts";

/**
 * One malformed task file: its source (or raw bytes), and what the error
 * must say about it besides the file's name.
 */
interface Case {
  name: string;
  source: string | Uint8Array;
  problem: RegExp;
  /** The file's extension; `ts` by default. */
  ext?: string;
  /** Run it as a real subprocess too. */
  subprocess?: boolean;
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

const HEADER = `import { cpu, defineTasks, io } from "../../../mod.ts";\n`;
const task = `io({ run: () => 1 })`;

/** A task file exporting `defineTasks({ <body> })`. */
function tasks(body: string): string {
  return `${HEADER}export default defineTasks({ ${body} });\n`;
}

/** A task with `props` added to an otherwise valid io task. */
function withProps(props: string): string {
  return tasks(`a: io({ ${props}, run: () => 1 })`);
}

/** A chain t0 <- t1 <- ... of `length` tasks, each depending on the one before. */
function chain(length: number, prefix = "t"): string[] {
  return Array.from(
    { length },
    (_, i) =>
      `${prefix}${i}: io({ deps: [${i === 0 ? "" : `"${prefix}${i - 1}"`}], run: () => ${i} })`,
  );
}

/** A cycle of `length` tasks: c0 depends on c1, ..., the last on c0. */
function cycle(length: number): string {
  return tasks(
    Array.from({ length }, (_, i) => `c${i}: io({ deps: ["c${(i + 1) % length}"], run: () => 1 })`)
      .join(",\n"),
  );
}

const CASES: Case[] = [
  // Files that do not load.
  {
    name: "syntax: missing closing brace",
    source: `${HEADER}export default defineTasks({ a: io({ run() { return 1; } })\n`,
    problem:
      /^Cannot load the task file: SyntaxError: Expected ',', got '<eof>' \(line 2, column \d+\)$/,
    subprocess: true,
  },
  {
    name: "syntax: stray bracket",
    source: `${tasks(`a: ${task}`)}]\n`,
    problem: /^Cannot load the task file: SyntaxError: .* \(line 3, column 1\)$/,
  },
  {
    name: "syntax: broken type annotation",
    source: `${HEADER}const x: = 1;\nexport default defineTasks({ a: ${task} });\n`,
    problem:
      /^Cannot load the task file: SyntaxError: Unexpected token `=`.* \(line 2, column 10\)$/,
  },
  {
    name: "binary garbage",
    source: new Uint8Array([0, 159, 146, 150, 255, 1, 2, 3, 0x7b, 0x7d, 0]),
    problem:
      /^Cannot load the task file: SyntaxError: Unexpected character .* \(line 1, column 1\)$/,
  },
  {
    name: "JSON instead of a module",
    source: `{ "a": { "run": "echo" } }\n`,
    ext: "json",
    problem: /Cannot load the task file: .*(JSON|Json)/,
  },
  {
    name: "import of a missing module",
    source: `import "./does-not-exist.ts";\n${tasks(`a: ${task}`)}`,
    problem:
      /^Cannot load the task file: .*Module not found ".*\/does-not-exist\.ts" \(line 1, column 8\)$/,
  },
  {
    name: "import of a name spool does not export",
    source: `import { nope } from "../../../mod.ts";\nconsole.log(nope);\n`,
    problem: /Cannot load the task file: .*does not provide an export named 'nope'/,
  },
  {
    name: "throws while loading",
    source: `${HEADER}throw new Error("boom at load");\n`,
    problem: /Cannot load the task file: boom at load$/,
    subprocess: true,
  },
  {
    name: "throws a non-error while loading",
    source: `${HEADER}throw 42;\n`,
    problem: /Cannot load the task file: 42$/,
  },
  {
    name: "top-level await rejects",
    source: `${HEADER}await Promise.reject(new TypeError("async boom"));\n`,
    problem: /Cannot load the task file: TypeError: async boom$/,
  },

  // Wrong default exports.
  { name: "empty file", source: "", problem: /has no default export/ },
  {
    name: "named export only",
    source: `${HEADER}export const tasks = defineTasks({ a: ${task} });\n`,
    problem: /has no default export: end it with "export default defineTasks/,
  },
  { name: "default export a number", source: "export default 42;\n", problem: /got a number/ },
  { name: "default export a string", source: `export default "a";\n`, problem: /got a string/ },
  { name: "default export null", source: "export default null;\n", problem: /got null/ },
  {
    name: "default export undefined",
    source: "export default undefined;\n",
    problem: /got undefined\)/,
  },
  {
    name: "default export a function",
    source: "export default function tasks() {}\n",
    problem: /got a function/,
  },
  { name: "default export an array", source: "export default [];\n", problem: /got an array/ },
  {
    name: "default export the tasks without defineTasks",
    source: `${HEADER}export default { a: ${task} };\n`,
    problem: /got an object/,
  },
  {
    name: "default export a promise of a task set",
    source: `${HEADER}export default Promise.resolve(defineTasks({ a: ${task} }));\n`,
    problem: /got a promise/,
  },

  // defineTasks() given the wrong thing.
  {
    name: "defineTasks() with no argument",
    source: `${HEADER}export default (defineTasks as (x?: unknown) => unknown)();\n`,
    problem: /defineTasks\(\) expects an object of tasks keyed by name/,
  },
  {
    name: "defineTasks(null)",
    source: `${HEADER}export default defineTasks(null as never);\n`,
    problem: /defineTasks\(\) expects an object of tasks keyed by name/,
  },
  {
    name: "defineTasks([...])",
    source: `${HEADER}export default defineTasks([${task}] as never);\n`,
    problem: /defineTasks\(\) expects an object of tasks keyed by name/,
  },
  {
    name: "defineTasks(a Map)",
    source: `${HEADER}export default defineTasks(new Map([["a", ${task}]]) as never);\n`,
    problem: /defineTasks\(\) expects an object of tasks keyed by name, not a Map/,
  },
  {
    name: "defineTasks({})",
    source: tasks(""),
    problem: /the task set is empty, declare at least one task/,
  },

  // Tasks that are not io or cpu, or have no body.
  {
    name: "a task that is a plain object",
    source: tasks(`a: { run: () => 1 } as never`),
    problem: /Task "a" is neither io nor cpu: declare it as io\(\{ run \}\) or cpu\(\{ run \}\)/,
  },
  {
    name: "a task that is a function",
    source: tasks(`a: (() => 1) as never`),
    problem: /Task "a" is neither io nor cpu/,
  },
  {
    name: "a task that is a number",
    source: tasks(`a: 1 as never`),
    problem: /Task "a" is neither io nor cpu/,
  },
  {
    name: "a task that is null",
    source: tasks(`a: null as never`),
    problem: /Task "a" is neither io nor cpu/,
  },
  {
    name: "io(null)",
    source: tasks(`a: io(null as never)`),
    problem: /Cannot declare an io task: expected an object with a run function/,
  },
  {
    name: `cpu("a string")`,
    source: tasks(`a: cpu("a string" as never)`),
    problem: /Cannot declare a cpu task: expected an object with a run function/,
  },
  {
    name: "a task without run",
    source: tasks(`a: io({} as never)`),
    problem: /Task "a" has no run function: give it run\(context\) \{ \.\.\. \}/,
  },
  {
    name: "run is a number",
    source: tasks(`a: io({ run: 42 } as never)`),
    problem: /Task "a" has no run function/,
  },
  {
    name: "run is a string of code",
    source: tasks(`a: cpu({ run: "return 1" } as never)`),
    problem: /Task "a" has no run function/,
  },
  {
    name: "description is a number",
    source: withProps(`description: 5 as never`),
    problem: /Task "a" has an invalid 'description': expected a string/,
  },

  // Dependencies.
  {
    name: "deps is a string",
    source: withProps(`deps: "b" as never`),
    problem: /Task "a" has invalid 'deps': expected a list of task names/,
  },
  {
    name: "deps holds a number",
    source: withProps(`deps: [1] as never`),
    problem: /Task "a" has invalid 'deps': expected a list of task names \(element 0 is a number\)/,
  },
  {
    // It reached the graph as undefined: "Cannot read properties of undefined".
    name: "deps with a hole",
    source: withProps(`deps: ["b", , ]`),
    problem: /Task "a" has invalid 'deps': .*\(element 1 is missing: a doubled comma\?\)/,
  },
  {
    name: "inputs with a hole",
    source: withProps(`inputs: ["x.txt", , "y.txt"]`),
    problem: /Task "a" has invalid 'inputs': .*\(element 1 is missing: a doubled comma\?\)/,
  },
  {
    name: "a dependency with a typo",
    source: tasks(`build: ${task}, test: io({ deps: ["bulid"], run: () => 1 })`),
    problem: /Task "test" depends on unknown task "bulid": did you mean "build"\?/,
  },
  {
    name: "a huge graph whose deepest task depends on an unknown one",
    source: tasks(
      [...chain(50_000), `last: io({ deps: ["t49999", "nowhere"], run: () => 1 })`].join(",\n"),
    ),
    problem: /Task "last" depends on unknown task "nowhere"/,
  },
  {
    name: "a huge graph whose last task depends on itself",
    source: tasks(
      [...chain(100_000), `t100000: io({ deps: ["t100000"], run: () => 1 })`].join(",\n"),
    ),
    problem: /Task "t100000" depends on itself: remove "t100000" from its deps/,
  },
  {
    name: "a huge graph with a small cycle at its far end",
    source: tasks(
      [
        ...chain(20_000),
        `x: io({ deps: ["t19999", "z"], run: () => 1 })`,
        `y: io({ deps: ["x"], run: () => 1 })`,
        `z: io({ deps: ["y"], run: () => 1 })`,
      ].join(",\n"),
    ),
    problem:
      /Tasks form a cycle \(each depends on the next\): "(x|y|z)" -> "(x|y|z)" -> "(x|y|z)" -> "\1"/,
  },
  // Cycles of every length from 1 to 100, each naming every task on it.
  ...Array.from({ length: 100 }, (_, i): Case => {
    const length = i + 1;
    const names = Array.from({ length }, (_, j) => `"c${j}"`);
    return {
      name: `a cycle of ${length}`,
      source: cycle(length),
      problem: length === 1 ? /Task "c0" depends on itself/ : new RegExp(
        `Tasks form a cycle \\(each depends on the next\\): ${
          names.map((n) => `(?=.*${n} ->)`).join("")
        }.*Remove one of these dependencies to break it$`,
      ),
      subprocess: length === 100,
    };
  }),

  // Names.
  {
    name: "a name with a space",
    source: tasks(`"has space": ${task}`),
    problem: /Task name "has space" is invalid/,
  },
  { name: "an empty name", source: tasks(`"": ${task}`), problem: /Task name "" is invalid/ },
  {
    name: "a name starting with '-'",
    source: tasks(`"-x": ${task}`),
    problem: /Task name "-x" is invalid/,
  },
  { name: "an emoji name", source: tasks(`"🚀": ${task}`), problem: /Task name "🚀" is invalid/ },
  {
    name: "a name with a zero-width space",
    source: tasks(`"a\\u200bb": ${task}`),
    problem: /Task name "a\\u200bb" is invalid/,
  },
  {
    name: "a name with a right-to-left override",
    source: tasks(`"\\u202eabc": ${task}`),
    problem: /Task name "\\u202eabc" is invalid/,
  },
  {
    name: "a name with a newline",
    source: tasks(`"a\\nb": ${task}`),
    problem: /Task name "a\\nb" is invalid/,
  },
  {
    name: "two names, one NFC and one NFD",
    source: tasks(`"caf\\u00e9": ${task}, "cafe\\u0301": ${task}`),
    problem: new RegExp(
      escape(
        `Tasks "caf\u00e9" and "cafe\u0301" are the same text in different Unicode normalization forms ` +
          `(U+0063 U+0061 U+0066 U+00E9 and U+0063 U+0061 U+0066 U+0065 U+0301): rename one of them`,
      ),
    ),
  },
  {
    name: "two names differing only in case",
    source: tasks(`build: ${task}, Build: ${task}`),
    problem: /Tasks "build" and "Build" differ only in case, width or Unicode normalization/,
  },
  {
    name: "a full-width name beside its ASCII twin",
    source: tasks(`build: ${task}, "ｂｕｉｌｄ": ${task}`),
    problem: /Tasks "build" and "ｂｕｉｌｄ" differ only in case, width or Unicode normalization/,
  },

  // Permissions of the wrong type.
  {
    name: "permissions is a string",
    source: withProps(`permissions: "all" as never`),
    problem: /Task "a" has invalid 'permissions': expected an object/,
  },
  {
    name: "permissions is an array",
    source: withProps(`permissions: [] as never`),
    problem: /Task "a" has invalid 'permissions': expected an object/,
  },
  {
    name: "a permission given as a string",
    source: withProps(`permissions: { net: "example.com" } as never`),
    problem: /Task "a" has invalid permission 'net': expected true, false or a list of strings/,
  },
  {
    name: "a permission scope that is a number",
    source: withProps(`permissions: { read: [1] } as never`),
    problem: /Task "a" has invalid permission 'read': every entry must be a non-empty string/,
  },
  {
    name: "an empty permission scope",
    source: withProps(`permissions: { net: [""] }`),
    problem: /Task "a" has invalid permission 'net': every entry must be a non-empty string/,
  },
  {
    name: "a permission that is null",
    source: withProps(`permissions: { run: null } as never`),
    problem: /Task "a" has invalid permission 'run': expected true, false or a list of strings/,
  },
  {
    name: "an unknown permission",
    source: withProps(`permissions: { bogus: true } as never`),
    problem: /Task "a" declares unknown permission 'bogus': use one of net, read/,
  },
  {
    name: "an unknown sys kind",
    source: withProps(`permissions: { sys: ["nope"] }`),
    problem: /Task "a" has invalid permission 'sys': unknown kind "nope"/,
  },
  {
    name: "an env scope with white space",
    source: withProps(`permissions: { env: ["A B"] }`),
    problem: /Task "a" has invalid permission 'env': "A B" must not contain a comma or white space/,
  },

  // Time limits and retries.
  {
    name: "timeout as a string",
    source: withProps(`timeout: "5s" as never`),
    problem:
      /Task "a" has invalid 'timeout': expected a number of ms above 0 \(Infinity for none\), got "5s"/,
  },
  { name: "timeout of 0", source: withProps(`timeout: 0`), problem: /invalid 'timeout'.*got 0$/ },
  {
    name: "negative timeout",
    source: withProps(`timeout: -1`),
    problem: /invalid 'timeout'.*got -1$/,
  },
  {
    name: "timeout NaN",
    source: withProps(`timeout: NaN`),
    problem: /invalid 'timeout'.*got NaN$/,
  },
  {
    name: "negative retries",
    source: withProps(`retries: -1`),
    problem:
      /Task "a" has invalid 'retries': expected a whole number of retries, 0 or more, got -1$/,
  },
  {
    name: "fractional retries",
    source: withProps(`retries: 1.5`),
    problem: /invalid 'retries'.*got 1\.5$/,
  },
  {
    name: "retries as a string",
    source: withProps(`retries: "3" as never`),
    problem: /invalid 'retries'.*got "3"$/,
  },
  {
    name: "backoff as a number",
    source: withProps(`retries: 2, backoff: 100 as never`),
    problem:
      /Task "a" has invalid 'backoff': expected an object such as \{ delay: 500, factor: 2 \}, got 100$/,
  },
  {
    name: "backoff factor below 1",
    source: withProps(`retries: 2, backoff: { factor: 0.5 }`),
    problem: /Task "a" has invalid 'backoff\.factor': expected a number, 1 or more, got 0\.5$/,
  },
  {
    name: "negative backoff delay",
    source: withProps(`retries: 2, backoff: { delay: -1 }`),
    problem: /Task "a" has invalid 'backoff\.delay': expected a number of ms, 0 or more, got -1$/,
  },
  {
    name: "an unknown backoff option",
    source: withProps(`retries: 2, backoff: { jitter: true } as never`),
    problem: /Task "a" has unknown 'backoff' option 'jitter': use delay, factor or maxDelay$/,
  },
];

/** A directory for generated task files, inside the repository so they can import mod.ts. */
async function fixturesDir(): Promise<AsyncDisposable & { path: string }> {
  const path = `${ROOT}/tests/fixtures/.tmp-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.mkdir(path);
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

function slug(name: string, index: number): string {
  const base = name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 40);
  return `${String(index).padStart(3, "0")}-${base}`;
}

/** Checks one error output: exit 2, one paragraph naming the file and the problem, no stack. */
function assertOneParagraph(output: string, file: string, problem: RegExp, code: number) {
  assert.equal(code, 2, output);
  assert.ok(output.startsWith("error: "), output);
  const message = output.slice("error: ".length).trimEnd();
  assert.ok(message.startsWith(`${file}: `), `names the file: ${message.slice(0, 200)}`);
  assert.doesNotMatch(message, /\n\s*\n/, "one paragraph");
  assert.doesNotMatch(message, /^\s+at /m, "no stack trace");
  assert.ok(!message.includes("\x1b["), "no escape codes");
  assert.match(message.slice(file.length + 2), problem);
}

Deno.test("Every malformed task file ends spool with exit 2 and one paragraph naming the file and the problem", async (t) => {
  assert.ok(CASES.length >= 30);
  await using dir = await fixturesDir();
  const relative = dir.path.slice(ROOT.length + 1);
  const files = await Promise.all(CASES.map(async (c, i) => {
    const name = `${slug(c.name, i)}.${c.ext ?? "ts"}`;
    const path = `${dir.path}/${name}`;
    if (typeof c.source === "string") await Deno.writeTextFile(path, c.source);
    else await Deno.writeFile(path, c.source);
    return { path, shown: `./${relative}/${name}` };
  }));

  for (const [i, c] of CASES.entries()) {
    await t.step(c.name, async () => {
      const stderr = captureSink();
      const stdout = captureSink();
      const code = await runCli(["run", "-f", files[i].path], {
        stdout,
        stderr,
        handleSignals: false,
      });
      assert.equal(stdout.text, "", "nothing ran");
      assertOneParagraph(stderr.text, files[i].shown, c.problem, code);
    });
  }

  for (const [i, c] of CASES.entries()) {
    if (!c.subprocess) continue;
    await t.step(`${c.name}, through the spool command`, async () => {
      const { code, stdout, stderr } = await spool(["run", "-f", files[i].shown]);
      assert.equal(stdout, "");
      assertOneParagraph(stderr, files[i].shown, c.problem, code);
    });
  }
});

Deno.test("Task names in any script load fine: letters with marks, CJK, digits first", async () => {
  await using dir = await fixturesDir();
  const path = `${dir.path}/unicode.ts`;
  await Deno.writeTextFile(path, tasks(`"日本語": ${task}, "नमस्ते": ${task}, "2fa_check": ${task}`));
  const stdout = captureSink();
  const code = await runCli(["list", "-f", path], { stdout, stderr: captureSink() });
  assert.equal(code, 0);
  assert.match(stdout.text, /^日本語 /m);
  assert.match(stdout.text, /^नमस्ते /m);
  assert.match(stdout.text, /^2fa_check /m);
});
