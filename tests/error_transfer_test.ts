import assert from "node:assert/strict";
import { CpuExecutor, IoExecutor, moduleFunction } from "../mod.ts";
import { deserializeError, serializeError } from "../lib/pool/_protocol.ts";
import type * as errors from "./fixtures/executor/errors.ts";

const throwKind = moduleFunction<typeof errors.throwKind>(
  import.meta.resolve("./fixtures/executor/errors.ts"),
  "throwKind",
);

/** What postMessage does to a serialized error on its way. */
function crossed(error: unknown): Error {
  return deserializeError(structuredClone(serializeError(error)));
}

Deno.test("an error crossing from a worker keeps its built-in class, name, message and stack", () => {
  for (
    const Class of [Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError]
  ) {
    const original = new Class("it broke");
    const copy = crossed(original);
    assert.ok(copy instanceof Class, Class.name);
    assert.equal(copy.constructor, Class);
    assert.equal(copy.name, Class.name);
    assert.equal(copy.message, "it broke");
    assert.equal(copy.stack, original.stack);
  }
});

Deno.test("a DOMException crosses as a DOMException with its name", () => {
  for (const name of ["AbortError", "TimeoutError", "DataCloneError"]) {
    const copy = crossed(new DOMException("stopped", name));
    assert.ok(copy instanceof DOMException);
    assert.equal(copy.name, name);
    assert.equal(copy.message, "stopped");
  }
});

Deno.test("an error's cause and an AggregateError's errors cross recursively", () => {
  const copy = crossed(
    new Error("outer", { cause: new RangeError("inner", { cause: { detail: 42 } }) }),
  );
  assert.ok(copy.cause instanceof RangeError);
  assert.equal(copy.cause.message, "inner");
  assert.deepEqual(copy.cause.cause, { detail: 42 });
  const aggregate = crossed(new AggregateError([new TypeError("a"), new URIError("b")], "both"));
  assert.ok(aggregate instanceof AggregateError);
  assert.ok(aggregate.errors[0] instanceof TypeError);
  assert.ok(aggregate.errors[1] instanceof URIError);
});

Deno.test("a cycle of causes stops a few levels deep instead of looping", () => {
  const a = new Error("a");
  const b = new Error("b", { cause: a });
  a.cause = b;
  let copy: unknown = crossed(a);
  let depth = 0;
  while (copy instanceof Error) {
    copy = copy.cause;
    depth++;
  }
  assert.ok(depth > 2 && depth < 20, `depth ${depth}`);
});

Deno.test("a Deno.errors error crosses as its own class", () => {
  for (const [name, Class] of Object.entries(Deno.errors)) {
    const copy = crossed(new Class("it failed"));
    assert.ok(copy instanceof Class, name);
    assert.equal(copy.constructor, Class, name);
    assert.equal(copy.name, name);
    assert.equal(copy.message, "it failed");
  }
});

Deno.test("a custom error class crosses as its built-in ancestor with its name, message and code", () => {
  class ParseError extends SyntaxError {
    code = "E_PARSE";
    constructor(message: string) {
      super(message);
      this.name = "ParseError";
    }
  }
  const copy = crossed(new ParseError("bad token"));
  assert.ok(copy instanceof SyntaxError);
  assert.equal(copy.name, "ParseError");
  assert.equal(copy.message, "bad token");
  assert.equal((copy as unknown as { code: string }).code, "E_PARSE");
});

Deno.test("instanceof is the same for errors from the io and the cpu executor", async () => {
  await using io = new IoExecutor();
  await using cpu = new CpuExecutor({ maxWorkers: 1 });
  const local = (await import("./fixtures/executor/errors.ts")).throwKind;
  const cases: [string, new (...args: never[]) => Error, string][] = [
    ["RangeError", RangeError, "RangeError"],
    ["TypeError", TypeError, "TypeError"],
    ["AbortError", DOMException, "AbortError"],
    ["aggregate", AggregateError, "AggregateError"],
    ["custom", SyntaxError, "ParseError"],
    ["NotFound", Deno.errors.NotFound, "NotFound"],
  ];
  for (const [kind, Class, name] of cases) {
    for (const [flavour, pool, fn] of [["io", io, local], ["cpu", cpu, throwKind]] as const) {
      const error = await pool.submit(fn, kind).then(() => undefined, (e: unknown) => e);
      assert.ok(error instanceof Class, `${flavour} ${kind}`);
      assert.equal((error as Error).name, name, `${flavour} ${kind}`);
    }
  }
  const error = await cpu.submit(throwKind, "cause").exception() as Error;
  assert.ok(error.cause instanceof RangeError);
  assert.deepEqual((error.cause as Error).cause, { detail: 42 });
});
