import assert from "node:assert/strict";
import { type GraphNode, TaskFileError, TaskGraph, UsageError } from "../mod.ts";

/** A graph from `name: deps` pairs, every task io unless its name starts with "cpu". */
function graph(spec: Record<string, string[]>): TaskGraph {
  return new TaskGraph(nodes(Object.entries(spec)));
}

function nodes(entries: Iterable<[string, string[]]>): Map<string, GraphNode> {
  const map = new Map<string, GraphNode>();
  for (const [name, deps] of entries) {
    map.set(name, { name, kind: name.startsWith("cpu") ? "cpu" : "io", deps });
  }
  return map;
}

/** Asserts every task comes after each of its dependencies that is in `order`. */
function assertDependencyOrder(g: Record<string, string[]>, order: readonly string[]): void {
  const position = new Map(order.map((name, i) => [name, i]));
  for (const name of order) {
    for (const dep of g[name]) {
      assert.ok(position.has(dep), `"${dep}", a dependency of "${name}", is selected`);
      assert.ok(position.get(dep)! < position.get(name)!, `"${dep}" comes before "${name}"`);
    }
  }
}

const DIAMOND = {
  d: ["b", "c"],
  b: ["a"],
  c: ["a"],
  a: [],
  lone: [],
  top: ["d", "lone"],
};

Deno.test("TaskGraph.select picks the targets and everything they need, once, deps first", () => {
  const g = graph(DIAMOND);
  const order = g.select(["d"]);
  assert.deepEqual([...order].sort(), ["a", "b", "c", "d"]);
  assertDependencyOrder(DIAMOND, order);

  const twice = g.select(["d", "b", "d", "a"]);
  assert.deepEqual([...twice].sort(), ["a", "b", "c", "d"], "each task once");
  assertDependencyOrder(DIAMOND, twice);

  assert.deepEqual(g.select(["b", "lone"]).sort(), ["a", "b", "lone"]);
  assert.deepEqual(g.select(["a"]), ["a"]);
});

Deno.test("TaskGraph.select with no targets selects every task in dependency order", () => {
  const g = graph(DIAMOND);
  const all = g.select();
  assert.deepEqual([...all].sort(), Object.keys(DIAMOND).sort());
  assertDependencyOrder(DIAMOND, all);
  assert.deepEqual(g.select([]), all);
  assert.deepEqual(g.order, all);
});

Deno.test("TaskGraph order is stable: independent tasks keep declaration order", () => {
  assert.deepEqual(graph({ z: [], y: [], x: [] }).order, ["z", "y", "x"]);
  assert.deepEqual(graph({ b: ["a"], a: [], c: [] }).order, ["a", "c", "b"]);
});

Deno.test("TaskGraph.select rejects an unknown target with a UsageError (exit 2)", () => {
  const g = graph(DIAMOND);
  assert.throws(() => g.select(["d", "lonley"]), (error: unknown) => {
    assert.ok(error instanceof UsageError);
    assert.equal(error.exitCode, 2);
    assert.match(error.message, /Unknown task "lonley": did you mean "lone"\?/);
    assert.match(error.message, /spool list/);
    return true;
  });
  assert.throws(() => g.select(["qqqqqqqqqq"]), /Unknown task "qqqqqqqqqq": Run 'spool list'/);
});

Deno.test("TaskGraph.dependantsOf lists the direct dependants", () => {
  const g = graph(DIAMOND);
  assert.deepEqual(g.dependantsOf("a"), ["b", "c"]);
  assert.deepEqual(g.dependantsOf("d"), ["top"]);
  assert.deepEqual(g.dependantsOf("top"), []);
});

Deno.test("TaskGraph rejects an unknown dependency with a TaskFileError", () => {
  assert.throws(() => graph({ a: [], b: ["c"] }), (error: unknown) => {
    assert.ok(error instanceof TaskFileError);
    assert.equal(error.exitCode, 2);
    assert.match(error.message, /Task "b" depends on unknown task "c"/);
    return true;
  });
});

Deno.test("TaskGraph handles a 100 000-task chain without overflowing the stack", () => {
  const size = 100_000;
  // Declared last-first, the worst order for a naive walk.
  const entries: [string, string[]][] = [];
  for (let i = size - 1; i >= 0; i--) entries.push([`t${i}`, i === 0 ? [] : [`t${i - 1}`]]);
  const g = new TaskGraph(nodes(entries));
  const order = g.select([`t${size - 1}`]);
  assert.equal(order.length, size);
  assert.equal(order[0], "t0");
  assert.equal(order[size - 1], `t${size - 1}`);
  assert.deepEqual(g.select(["t1"]), ["t0", "t1"]);
  assert.ok(g.toDot().includes(`"t${size - 2}" -> "t${size - 1}";`));
});

Deno.test("TaskGraph names every task of a cycle of any length from 1 to 100", () => {
  for (let length = 1; length <= 100; length++) {
    const entries: [string, string[]][] = [["entry", ["c0"]]];
    for (let i = 0; i < length; i++) entries.push([`c${i}`, [`c${(i + 1) % length}`]]);
    entries.push(["free", []]);
    assert.throws(() => new TaskGraph(nodes(entries)), (error: unknown) => {
      assert.ok(error instanceof TaskFileError, `length ${length}`);
      if (length === 1) {
        assert.match(error.message, /Task "c0" depends on itself/);
      } else {
        assert.match(error.message, /Tasks form a cycle/);
        for (let i = 0; i < length; i++) {
          assert.ok(error.message.includes(`"c${i}"`), `length ${length} names c${i}`);
        }
        assert.ok(!error.message.includes(`"entry"`), `length ${length}: entry is off the cycle`);
        assert.ok(!error.message.includes(`"free"`), `length ${length}: free is off the cycle`);
      }
      return true;
    });
  }
});

Deno.test("TaskGraph reports a 50 000-task cycle without overflowing the stack", () => {
  const size = 50_000;
  const entries: [string, string[]][] = [];
  for (let i = 0; i < size; i++) entries.push([`c${i}`, [`c${(i + 1) % size}`]]);
  assert.throws(() => new TaskGraph(nodes(entries)), (error: unknown) => {
    assert.ok(error instanceof TaskFileError);
    assert.ok(error.message.includes(`"c0"`) && error.message.includes(`"c${size - 1}"`));
    return true;
  });
});

Deno.test("TaskGraph.toDot draws each edge from a dependency to its dependant", () => {
  const g = graph({ fetch: [], cpuSum: ["fetch"], report: ["cpuSum", "fetch"], lone: [] });
  const dot = g.toDot();
  assert.match(dot, /^digraph spool \{\n/);
  assert.match(dot, /\}\n$/);
  for (const edge of ['"fetch" -> "cpuSum";', '"cpuSum" -> "report";', '"fetch" -> "report";']) {
    assert.ok(dot.includes(edge), `${edge} in\n${dot}`);
  }
  assert.equal(dot.match(/->/g)?.length, 3);
  assert.match(dot, /"cpuSum" \[label="cpuSum \(cpu\)", shape=box\];/);
  assert.match(dot, /"lone" \[label="lone \(io\)", shape=ellipse\];/);

  const part = g.toDot(g.select(["cpuSum"]));
  assert.ok(part.includes('"fetch" -> "cpuSum";'));
  assert.ok(!part.includes("report") && !part.includes("lone"), part);
});

Deno.test("TaskGraph.toDot quotes names that DOT would misread", () => {
  const g = graph({ 'say "hi"': [], "b\\c": ['say "hi"'] });
  assert.ok(g.toDot().includes('"say \\"hi\\"" -> "b\\\\c";'), g.toDot());
});

Deno.test("TaskGraph.toMermaid draws each edge from a dependency to its dependant", () => {
  const g = graph({ fetch: [], cpuSum: ["fetch"], report: ["cpuSum", "fetch"], lone: [] });
  const mermaid = g.toMermaid();
  assert.match(mermaid, /^flowchart LR\n/);
  const ids = new Map<string, string>();
  for (const match of mermaid.matchAll(/^ {2}(\w+)\(?\["(\w+) \((io|cpu)\)"\]\)?$/gm)) {
    ids.set(match[2], match[1]);
  }
  assert.deepEqual([...ids.keys()].sort(), ["cpuSum", "fetch", "lone", "report"]);
  const edges = [...mermaid.matchAll(/^ {2}(\w+) --> (\w+)$/gm)].map(([, from, to]) =>
    `${from}>${to}`
  )
    .sort();
  const expected = [["fetch", "cpuSum"], ["cpuSum", "report"], ["fetch", "report"]]
    .map(([from, to]) => `${ids.get(from)}>${ids.get(to)}`).sort();
  assert.deepEqual(edges, expected);
  assert.match(mermaid, new RegExp(`^  ${ids.get("cpuSum")}\\["cpuSum \\(cpu\\)"\\]$`, "m"));
  assert.match(mermaid, new RegExp(`^  ${ids.get("fetch")}\\(\\["fetch \\(io\\)"\\]\\)$`, "m"));
});

Deno.test("TaskGraph orders a graph declared dependencies first as it orders any other", () => {
  // Each level after the one before it, not declaration order: "c" is ready before "b".
  const g = graph({ a: [], b: ["a"], c: [], d: ["b", "c"] });
  assert.deepEqual(g.dependantsOf("a"), ["b"]);
  assert.deepEqual(g.order, ["a", "c", "b", "d"]);
  assert.deepEqual(g.select(["d"]), ["a", "c", "b", "d"]);
  assert.deepEqual(graph({ a: [], b: [], c: [] }).select(), ["a", "b", "c"]);
});
