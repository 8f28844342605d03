import assert from "node:assert/strict";
import { defineTasks, io, run } from "../mod.ts";
import type { Reporter, TaskOutputEvent } from "../lib/report/reporter.ts";
import { fixtureUrl } from "./_helpers.ts";

function collect(): { reporter: Reporter; events: TaskOutputEvent[]; lines(): string[] } {
  const events: TaskOutputEvent[] = [];
  return {
    reporter: { taskOutput: (event) => events.push(event) },
    events,
    lines: () => events.map((event) => `${event.name}: ${event.text}`),
  };
}

function tick(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

Deno.test("io task output goes to the reporter under the name of the task that printed it", async () => {
  // Two tasks that print in turns across awaits and timers: the prints
  // interleave, and each must still be attributed to its own task.
  const tasks = defineTasks({
    a: io({
      trusted: true,
      async run() {
        console.log("a1");
        await tick(20);
        console.log("a2");
        await Promise.all([tick(1).then(() => console.log("a3"))]);
      },
    }),
    b: io({
      trusted: true,
      async run() {
        console.log("b1");
        await tick(10);
        setTimeout(() => console.error("b2"), 0);
        await tick(30);
      },
    }),
  });
  const out = collect();
  await run(tasks, { reporter: out.reporter });
  const lines = out.lines();
  assert.deepEqual(lines.filter((line) => line.startsWith("a:")), ["a: a1", "a: a2", "a: a3"]);
  assert.deepEqual(lines.filter((line) => line.startsWith("b:")), ["b: b1", "b: b2"]);
  assert.equal(lines.length, 5);
  assert.equal(out.events.find((event) => event.text === "b2")?.stream, "stderr");
});

Deno.test("cpu task output from inside a worker reaches the reporter, a line per event", async () => {
  const { default: tasks } = await import(fixtureUrl("output.ts"));
  const out = collect();
  const report = await run(tasks, {
    targets: ["crunch"],
    workers: 1,
    module: fixtureUrl("output.ts"),
    reporter: out.reporter,
  });
  assert.equal(report.ok, true);
  assert.deepEqual(out.lines(), [
    "prepare: preparing inputs",
    "prepare: careful: this is stderr",
    "prepare: { rows: 3 }",
    "crunch: crunching 3 rows in a worker",
    "crunch: two lines",
    "crunch: from one call",
  ]);
  assert.deepEqual(
    out.events.filter((event) => event.name === "crunch").map((event) => event.stream),
    ["stdout", "stderr", "stderr"],
  );
});

Deno.test("console formatting inside a task is the console's: %s, objects, groups, tables", async () => {
  const tasks = defineTasks({
    fmt: io({
      trusted: true,
      run() {
        console.log("%s has %d rows", "table", 2, { ok: true });
        console.group("group");
        console.info("inside");
        console.groupEnd();
        console.table([{ a: 1 }]);
      },
    }),
  });
  const out = collect();
  await run(tasks, { reporter: out.reporter });
  const texts = out.events.map((event) => event.text);
  assert.equal(texts[0], "table has 2 rows { ok: true }");
  assert.deepEqual(texts.slice(1, 3), ["group", "  inside"]);
  assert.ok(texts.some((text) => text.includes("│ a │")), texts.join("\n"));
});

Deno.test("the console is patched only while a run captures output, and restored after", async () => {
  const original = console.log;
  let during: unknown;
  const tasks = defineTasks({ look: io({ trusted: true, run: () => during = console.log }) });
  await run(tasks, { reporter: { taskOutput() {} } });
  assert.notEqual(during, original, "patched during a run that shows output");
  assert.equal(console.log, original, "restored after it");
  await run(tasks, { reporter: { taskEnd() {} } });
  assert.equal(during, original, "left alone when no reporter shows output");
});

Deno.test("a reporter that logs from taskOutput does not loop back into the task's output", async () => {
  const seen: string[] = [];
  const original = console.log;
  const printed: unknown[][] = [];
  console.log = (...args: unknown[]) => printed.push(args);
  try {
    const tasks = defineTasks({
      talk: io({ trusted: true, run: () => console.log("from the task") }),
    });
    await run(tasks, {
      reporter: {
        taskOutput(event) {
          seen.push(event.text);
          console.log(`reporter saw: ${event.text}`);
        },
      },
    });
  } finally {
    console.log = original;
  }
  assert.deepEqual(seen, ["from the task"]);
  assert.deepEqual(printed, [["reporter saw: from the task"]]);
});

Deno.test("without a reporter that shows output, a cpu task's output is printed on the console", async () => {
  const { default: tasks } = await import(fixtureUrl("output.ts"));
  const original = { log: console.log, warn: console.warn, error: console.error };
  const printed: string[] = [];
  console.log = console.warn = console.error = (...args: unknown[]) => printed.push(args.join(" "));
  try {
    await run(tasks, { targets: ["crunch"], workers: 1, module: fixtureUrl("output.ts") });
  } finally {
    Object.assign(console, original);
  }
  assert.ok(printed.includes("crunching 3 rows in a worker"), printed.join("\n"));
  assert.ok(printed.includes("two lines\nfrom one call"), printed.join("\n"));
});
