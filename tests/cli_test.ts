import assert from "node:assert/strict";
import { runCli } from "../cli.ts";
import denoJson from "../deno.json" with { type: "json" };
import {
  captureSink,
  CLI,
  deno,
  fixture,
  lastLine,
  ROOT,
  spool,
  SUMMARY,
  tempDir,
  uncached,
} from "./_helpers.ts";

/** Runs the CLI in this process with capturing sinks. */
async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = captureSink();
  const stderr = captureSink();
  const code = await runCli(uncached(args), {
    stdout,
    stderr,
    handleSignals: false,
    color: false,
  });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

const GRAPH = fixture("graph.ts");
const FAILING = fixture("failing.ts");

interface JsonTask {
  name: string;
  kind: string;
  status: string;
  startMs: number | null;
  endMs: number | null;
  durationMs: number;
  worker?: number;
  result?: unknown;
  reason?: string;
}

function statuses(stdout: string): Record<string, string> {
  const report = JSON.parse(stdout) as { tasks: JsonTask[] };
  return Object.fromEntries(report.tasks.map((t) => [t.name, t.status]));
}

Deno.test("spool with no command runs every task: human output on stderr ending with the summary", async () => {
  const { code, stdout, stderr } = await cli("-f", GRAPH, "--workers", "2");
  assert.equal(code, 0, stderr);
  assert.equal(stdout, "", "nothing on stdout without --report");
  for (const name of ["numbers", "squares", "total", "other"]) {
    assert.match(stderr, new RegExp(`^start ${name} \\((io|cpu)[^)]*\\)$`, "m"));
  }
  assert.match(stderr, /^ok {4}squares \(cpu, worker [01]\) \d+ ms$/m);
  assert.match(stderr, /^ok {4}numbers \(io\) \d+ ms$/m);
  assert.match(lastLine(stderr), SUMMARY);
  assert.match(lastLine(stderr), /^4 tasks: 4 ok in /);
});

Deno.test("spool run <tasks> runs those tasks and what they need", async () => {
  const { code, stdout, stderr } = await cli("run", "-f", GRAPH, "squares", "--report", "json");
  assert.equal(code, 0, stderr);
  assert.deepEqual(statuses(stdout), { numbers: "ok", squares: "ok" });
  assert.match(lastLine(stderr), /^2 tasks: 2 ok in /);
});

Deno.test("spool run --report json prints the report as JSON on stdout", async () => {
  const { code, stdout, stderr } = await cli(
    "run",
    "-f",
    GRAPH,
    "--report",
    "json",
    "--workers",
    "3",
    "--concurrency",
    "5",
  );
  assert.equal(code, 0, stderr);
  const report = JSON.parse(stdout);
  assert.equal(report.ok, true);
  assert.equal(report.workers, 3);
  assert.equal(report.concurrency, 5);
  for (const field of ["wallMs", "busyMs", "speedup"]) {
    assert.equal(typeof report[field], "number", field);
  }
  const tasks = Object.fromEntries((report.tasks as JsonTask[]).map((t) => [t.name, t]));
  assert.deepEqual(Object.keys(tasks).sort(), ["numbers", "other", "squares", "total"]);
  for (const task of Object.values(tasks)) {
    assert.equal(task.status, "ok");
    for (const field of ["startMs", "endMs", "durationMs"] as const) {
      assert.equal(typeof task[field], "number", `${task.name}.${field}`);
    }
  }
  assert.equal(tasks.squares.kind, "cpu");
  assert.ok([0, 1, 2].includes(tasks.squares.worker!));
  assert.equal(tasks.numbers.kind, "io");
  assert.equal(tasks.total.result, 31);
  assert.match(lastLine(stderr), SUMMARY, "human output stays on stderr");
});

Deno.test("spool run exits 1 when a task fails, and skips what depends on it", async () => {
  const { code, stdout, stderr } = await cli("run", "-f", FAILING, "--report", "json");
  assert.equal(code, 1);
  const status = statuses(stdout);
  assert.equal(status.bad, "failed");
  assert.equal(status.after, "skipped");
  assert.match(stderr, /^FAIL {2}bad \(io\) \d+ ms: bad thing happened$/m);
  assert.match(stderr, /^Task "bad" failed:\n\s+Error: bad thing happened\n\s+at /m);
  assert.match(lastLine(stderr), SUMMARY);
  assert.match(lastLine(stderr), /1 failed/);
});

Deno.test("spool run --keep-going runs every branch a failure does not reach", async () => {
  const { code, stdout } = await cli("run", "-f", FAILING, "--keep-going", "--report", "json");
  assert.equal(code, 1);
  assert.deepEqual(statuses(stdout), {
    bad: "failed",
    after: "skipped",
    fine: "ok",
    later: "ok",
  });
  const report = JSON.parse(stdout) as { tasks: JsonTask[] };
  assert.equal(report.tasks.find((t) => t.name === "after")?.reason, 'dependency "bad" failed');
});

Deno.test("spool list prints name, kind, deps, permissions and description", async () => {
  const { code, stdout } = await cli("list", "-f", GRAPH);
  assert.equal(code, 0);
  assert.equal(
    stdout,
    [
      "TASK     KIND  DEPS     PERMISSIONS  DESCRIPTION",
      "numbers  io    -        -            Produce the numbers",
      "squares  cpu   numbers  -            Sum of squares, in a worker",
      "total    io    squares  -            Add one",
      "other    io    -        -            Independent of the rest",
      "",
    ].join("\n"),
  );
});

Deno.test("spool graph prints DOT by default and Mermaid on request", async () => {
  const dot = await cli("graph", "-f", GRAPH);
  assert.equal(dot.code, 0);
  assert.match(dot.stdout, /^digraph spool \{/);
  assert.ok(dot.stdout.includes('"numbers" -> "squares";'));
  assert.ok(dot.stdout.includes('"squares" -> "total";'));

  const part = await cli("graph", "-f", GRAPH, "squares");
  assert.ok(part.stdout.includes('"numbers" -> "squares";'));
  assert.ok(!part.stdout.includes("total") && !part.stdout.includes("other"), part.stdout);

  const mermaid = await cli("graph", "-f", GRAPH, "--format", "mermaid");
  assert.equal(mermaid.code, 0);
  assert.match(mermaid.stdout, /^flowchart LR\n/);
  const id = (name: string) =>
    mermaid.stdout.match(new RegExp(`^ {2}(\\w+)\\(?\\["${name} `, "m"))?.[1];
  assert.ok(mermaid.stdout.includes(`  ${id("numbers")} --> ${id("squares")}\n`), mermaid.stdout);
  assert.ok(mermaid.stdout.includes(`  ${id("squares")} --> ${id("total")}\n`), mermaid.stdout);
  assert.ok(mermaid.stdout.includes(`  ${id("squares")}["squares (cpu)"]\n`), mermaid.stdout);
  assert.equal(mermaid.stdout.match(/-->/g)?.length, 2);

  const bad = await cli("graph", "-f", GRAPH, "--format", "png");
  assert.equal(bad.code, 2);
});

Deno.test("spool rejects --workers and --concurrency that are not positive integers (exit 2)", async () => {
  for (const flag of ["--workers", "--concurrency"]) {
    for (const value of ["0", "-1", "abc", "1.5"]) {
      const { code, stderr } = await cli("run", "-f", GRAPH, flag, value);
      assert.equal(code, 2, `${flag} ${value}`);
      assert.match(
        stderr,
        new RegExp(
          `'${flag}' must be a positive integer: current value is "${value.replace(".", "\\.")}"`,
        ),
      );
      assert.doesNotMatch(stderr, /^start /m, "nothing ran");
    }
  }
});

Deno.test("spool exits 2 on an unknown flag, an unknown task or a bad --report", async () => {
  const flag = await cli("run", "-f", GRAPH, "--wokers", "2");
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /unknown option '--wokers'/);
  assert.match(flag.stderr, /Did you mean --workers\?/);

  const task = await cli("run", "-f", GRAPH, "sqares");
  assert.equal(task.code, 2);
  assert.match(task.stderr, /^error: Unknown task "sqares": did you mean "squares"\?/m);
  assert.doesNotMatch(task.stderr, /^start /m);

  const report = await cli("run", "-f", GRAPH, "--report", "xml");
  assert.equal(report.code, 2);
  assert.match(report.stderr, /Allowed choices are json/);
});

Deno.test("spool exits 2 with the file named when the task file is missing or broken", async () => {
  const missing = await cli("run", "-f", "no/such/tasks.ts");
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^error: .*no\/such\/tasks\.ts: Cannot find the task file/m);
  await using dir = await tempDir();
  const named = await dir.write("named.ts", "export const tasks = 1;\n");
  const notTasks = await cli("list", "-f", named);
  assert.equal(notTasks.code, 2);
  assert.ok(notTasks.stderr.startsWith(`error: ${named}: The task file has no default export`));
});

Deno.test("spool --help and --version exit 0", async () => {
  const help = await cli("--help");
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage: spool/);
  for (const text of ["run", "list", "graph", "--file", "Exit codes"]) {
    assert.ok(help.stdout.includes(text), text);
  }
  const runHelp = await cli("run", "--help");
  assert.equal(runHelp.code, 0);
  for (const text of ["--workers", "--concurrency", "--keep-going", "--report"]) {
    assert.ok(runHelp.stdout.includes(text), text);
  }
  const version = await cli("--version");
  assert.equal(version.code, 0);
  assert.equal(version.stdout.trim(), denoJson.version);
});

Deno.test("cli.ts as a subprocess: run, report JSON, exit codes", async () => {
  const ok = await spool(["-f", GRAPH, "--report", "json", "--workers", "2"]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(JSON.parse(ok.stdout).ok, true);
  assert.match(lastLine(ok.stderr), SUMMARY);

  const failed = await spool(["run", "-f", FAILING]);
  assert.equal(failed.code, 1);
  assert.match(failed.stderr, /bad thing happened/);

  const usage = await spool(["run", "-f", GRAPH, "--workers", "0"]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /'--workers' must be a positive integer: current value is "0"/);

  const help = await spool(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage: spool/);

  const version = await spool(["--version"]);
  assert.equal(version.code, 0);
  assert.equal(version.stdout.trim(), denoJson.version);
});

Deno.test("cli.ts as a subprocess: list and graph", async () => {
  const list = await spool(["list", "-f", GRAPH], ["--allow-read"]);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^squares +cpu +numbers +- +Sum of squares/m);
  const graph = await spool(["graph", "-f", GRAPH, "--format", "mermaid"], ["--allow-read"]);
  assert.equal(graph.code, 0, graph.stderr);
  assert.equal(graph.stdout.match(/^ {2}t\d+ --> t\d+$/gm)?.length, 2, graph.stdout);
});

Deno.test("SIGINT stops a run: exit 130, tasks told to stop, summary printed", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", "-A", CLI, "run", "-f", fixture("long.ts"), "--no-cache"],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = new Response(child.stdout).text();
  let stderr = "";
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  // Wait for the task to start: by then the run is listening for signals.
  while (!/^start long/m.test(stderr)) {
    const { value, done } = await reader.read();
    if (done) break;
    stderr += value;
  }
  assert.match(stderr, /^start long \(io\)$/m, "the long task started");
  child.kill("SIGINT");
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
    stderr += chunk.value;
  }
  const status = await child.status;
  await stdout;
  assert.equal(status.code, 130, stderr);
  assert.match(stderr, /Interrupted: stopping tasks/);
  assert.match(stderr, /^skip {2}after: .*interrupted \(SIGINT\)$/m);
  assert.match(lastLine(stderr), SUMMARY);
  assert.match(lastLine(stderr), /1 skipped/);
});

const ARGS = fixture("args.ts");
// Sandboxes are deno processes that report back over loopback.
const SANDBOX_FLAGS = ["--allow-read", "--allow-run=deno", "--allow-net=127.0.0.1"];

Deno.test("spool run passes what follows -- to every task as context.args, not as task names", async () => {
  const { code, stdout, stderr } = await spool(
    ["run", "-f", ARGS, "echo:io", "echo:cpu", "--report", "json", "--", "--prod", "other"],
    SANDBOX_FLAGS,
  );
  assert.equal(code, 0, stderr);
  const report = JSON.parse(stdout) as { tasks: JsonTask[] };
  assert.deepEqual(report.tasks.map((t) => [t.name, t.result]), [
    ["echo:io", ["--prod", "other"]],
    ["echo:cpu", ["--prod", "other"]],
  ]);
});

Deno.test("A task file run with deno run passes what follows -- to its tasks", async () => {
  const { code, stdout, stderr } = await deno([
    "run",
    "--no-prompt",
    ...SANDBOX_FLAGS,
    ARGS,
    "echo:cpu",
    "--report",
    "json",
    "--",
    "--prod",
  ]);
  assert.equal(code, 0, stderr);
  const report = JSON.parse(stdout) as { tasks: JsonTask[] };
  assert.deepEqual(report.tasks.map((t) => [t.name, t.result]), [["echo:cpu", ["--prod"]]]);
});

Deno.test("--help works without env access, from cli.ts and from a task file", async () => {
  const help = await spool(["--help"], ["--allow-read"]);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /Usage: spool/);
  const own = await deno(["run", "--no-prompt", "--allow-read", GRAPH, "--help"]);
  assert.equal(own.code, 0, own.stderr);
  assert.match(own.stdout, /Usage: spool/);
});

Deno.test("spool run selects tasks by glob pattern", async () => {
  const { code, stdout, stderr } = await cli("run", "-f", ARGS, "echo:*", "--report", "json");
  assert.equal(code, 0, stderr);
  assert.deepEqual(statuses(stdout), { "echo:io": "ok", "echo:cpu": "ok" });
});

Deno.test("spool run rejects a glob pattern that matches no task, naming it", async () => {
  const { code, stderr } = await cli("run", "-f", ARGS, "test:*");
  assert.equal(code, 2);
  assert.equal(
    stderr,
    'error: No task matches the pattern "test:*": run "spool list" to see the tasks\n',
  );
});

Deno.test("spool run --show-results prints each target's result after the summary", async () => {
  const { code, stderr } = await cli("run", "-f", GRAPH, "total", "other", "--show-results");
  assert.equal(code, 0, stderr);
  assert.match(stderr, /\nresult total: 31\nresult other: "other"\n$/);
});

Deno.test("spool list shows each task's permissions", async () => {
  const { code, stdout } = await cli("list", "-f", fixture("permission_tasks.ts"));
  assert.equal(code, 0);
  assert.match(stdout, /^TASK +KIND +DEPS +PERMISSIONS +DESCRIPTION$/m);
  assert.match(stdout, /\bread=\S+/);
});

Deno.test("spool list shows escape sequences in descriptions as visible text", async () => {
  await using dir = await tempDir();
  const file = await dir.write(
    "tasks.ts",
    `import { defineTasks, io } from ${JSON.stringify(`${ROOT}/mod.ts`)};
export default defineTasks({ evil: io({ description: "a\\x1b]0;pwned\\x07b", run: () => 1 }) });
`,
  );
  const { code, stdout } = await cli("list", "-f", file);
  assert.equal(code, 0);
  assert.ok(!stdout.includes("\x1b"), "no raw escape on stdout");
  assert.match(stdout, /a\\x1b\]0;pwned\\x07b/);
});

Deno.test("What a task file prints while it loads goes to stderr: stdout carries only the JSON report", async () => {
  const { code, stdout, stderr } = await spool(
    ["run", "-f", fixture("noisy.ts"), "--report", "json"],
    SANDBOX_FLAGS,
  );
  assert.equal(code, 0, stderr);
  assert.equal(JSON.parse(stdout).ok, true);
  assert.match(stderr, /loading the noisy task file\nstill loading\n/);
});

Deno.test("spool run --help shows run()'s default io concurrency", async () => {
  const { DEFAULT_CONCURRENCY } = await import("../mod.ts");
  const { code, stdout } = await cli("run", "--help");
  assert.equal(code, 0);
  assert.match(stdout, new RegExp(`--concurrency <n> .*\\(default: ${DEFAULT_CONCURRENCY}\\)`));
});

Deno.test("spool run --env-file loads a .env file; a sandbox reads only the variables its task declares", async () => {
  await using dir = await tempDir();
  const envFile = await dir.write(
    "test.env",
    "SPOOL_TEST_GREETING=hello from .env\nSPOOL_TEST_SECRET=hidden\n",
  );
  const { code, stdout, stderr } = await spool([
    "run",
    "-f",
    fixture("env_tasks.ts"),
    `--env-file=${envFile}`,
    "--report",
    "json",
  ]);
  assert.equal(code, 0, stderr);
  const report = JSON.parse(stdout) as { tasks: JsonTask[] };
  assert.deepEqual(report.tasks.map((t) => [t.name, t.result]), [
    ["declared", "hello from .env"],
    ["undeclared", "NotCapable"],
  ]);
});

Deno.test("spool completions prints a script for bash, zsh and fish that asks spool complete", async () => {
  for (const shell of ["bash", "zsh", "fish"]) {
    const { code, stdout, stderr } = await spool(["completions", shell], ["--allow-read"]);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /spool complete --/, shell);
  }
  const bad = await cli("completions", "tcsh");
  assert.equal(bad.code, 2);
});

Deno.test("spool complete offers the task file's task names after run and graph", async () => {
  for (const command of ["run", "graph"]) {
    const { code, stdout, stderr } = await spool(
      ["complete", "--", command, "-f", GRAPH, ""],
      ["--allow-read"],
    );
    assert.equal(code, 0, stderr);
    const names = stdout.split("\n").filter((line) => line.includes("\t")).map((line) =>
      line.split("\t")[0]
    );
    assert.deepEqual(names, ["numbers", "squares", "total", "other"], command);
  }
});

Deno.test("spool complete offers commands and flags", async () => {
  const commands = await spool(["complete", "--", ""], ["--allow-read"]);
  assert.match(commands.stdout, /^run\t/m);
  assert.match(commands.stdout, /^completions\t/m);
  const flags = await spool(["complete", "--", "run", "--rep"], ["--allow-read"]);
  assert.match(flags.stdout, /^--report\t/m);
  assert.match(flags.stdout, /^--report-file\t/m);
});

Deno.test("Pasting the 'Add these flags' line makes the run start: every needed flag is named", async () => {
  const first = await spool(["run", "-f", GRAPH], ["--allow-read"]);
  assert.equal(first.code, 2, first.stderr);
  const line = first.stderr.match(/^(?:error: )?Add these flags: (.*)$/m);
  assert.ok(line !== null, first.stderr);
  const flags = line[1].split(" ");
  const second = await spool(["run", "-f", GRAPH], ["--allow-read", ...flags]);
  assert.equal(second.code, 0, second.stderr);
});

Deno.test("spool run --show-results cuts a long result to one short line", async () => {
  await using dir = await tempDir();
  const file = await dir.write(
    "tasks.ts",
    `import { defineTasks, io } from ${JSON.stringify(`${ROOT}/mod.ts`)};
export default defineTasks({ big: io({ run: () => "x".repeat(1000) }) });
`,
  );
  const { code, stderr } = await cli("run", "-f", file, "--show-results");
  assert.equal(code, 0, stderr);
  assert.match(stderr, /^result big: "x{199}\.\.\. \(1002 characters: see --report json\)$/m);
});

Deno.test("A failed task's stack shows the user's frames and hides spool's unless --verbose", async () => {
  await using dir = await tempDir();
  const file = await dir.write(
    "tasks.ts",
    `import { cpu, defineTasks } from ${JSON.stringify(`${ROOT}/mod.ts`)};
function inner(): never {
  throw new Error("bad thing");
}
export default defineTasks({ broken: cpu({ run: () => inner() }) });
`,
  );
  const short = await cli("run", "-f", file);
  assert.equal(short.code, 1);
  assert.match(short.stderr, /at inner \(file:\/\/.*tasks\.ts:3:9\)/);
  assert.match(short.stderr, /\(\d+ spool frames? hidden: --verbose shows them\)/);
  assert.doesNotMatch(short.stderr, /\/lib\/(pool|run)\//);
  const report = JSON.parse((await cli("run", "-f", file, "--report", "json")).stdout);
  assert.match(report.tasks[0].error.stack, /\/lib\//, "the JSON report keeps the whole stack");

  const verbose = await cli("run", "-f", file, "--verbose");
  assert.match(verbose.stderr, /at inner \(file:\/\/.*tasks\.ts:3:9\)/);
  assert.match(verbose.stderr, /\/lib\/(pool|run)\//);
  assert.doesNotMatch(verbose.stderr, /frames? hidden/);
});
