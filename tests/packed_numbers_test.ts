import assert from "node:assert/strict";
import { CpuExecutor, IoExecutor, moduleFunction } from "../mod.ts";
import { packNumbers, unpackNumbers } from "../lib/pool/_packed_numbers.ts";

// A chunk of numbers crosses to a worker and back packed in a Float64Array:
// what the function sees and what the loop gets must not change.

const source = [
  "export const same = (x) => x;",
  "export const describe = (x) => Object.is(x, -0) ? '-0' : `${typeof x} ${x}`;",
  "export const half = (x) => x % 2 === 0 ? x : String(x);",
].join("\n");
const MODULE = `data:application/javascript,${encodeURIComponent(source)}`;
const same = moduleFunction<(x: number) => number>(MODULE, "same");
const describe = moduleFunction<(x: unknown) => string>(MODULE, "describe");
const half = moduleFunction<(x: number) => number | string>(MODULE, "half");

const SPECIAL = [
  -0,
  0,
  NaN,
  Infinity,
  -Infinity,
  Number.MAX_SAFE_INTEGER,
  Number.MIN_VALUE,
  -1.5,
  2 ** 31,
  -(2 ** 31) - 1,
  0.1 + 0.2,
  Number.EPSILON,
  1e308,
  -7,
  42,
  3,
  5,
];

Deno.test("packNumbers packs a long run of numbers exactly and leaves anything else alone", () => {
  const packed = packNumbers(SPECIAL);
  assert.ok(packed instanceof Float64Array);
  const back = unpackNumbers(packed);
  assert.ok(Array.isArray(back));
  assert.equal(back.length, SPECIAL.length);
  for (let i = 0; i < SPECIAL.length; i++) assert.ok(Object.is(back[i], SPECIAL[i]), `item ${i}`);
  assert.equal(packNumbers([...SPECIAL, "x"]), undefined);
  assert.equal(packNumbers([...SPECIAL, 1n]), undefined);
  assert.equal(packNumbers([1, 2, 3]), undefined, "a short chunk is not worth packing");
  const plain = [1, "two"];
  assert.equal(unpackNumbers(plain), plain);
});

Deno.test("a cpu map over numbers gives every number back exactly, -0 and NaN included", async () => {
  await using pool = new CpuExecutor({ maxWorkers: 2 });
  const inputs = Array.from({ length: 10 }, () => SPECIAL).flat();
  const results = await Array.fromAsync(pool.map(same, inputs, { chunkSize: 40 }));
  assert.equal(results.length, inputs.length);
  for (let i = 0; i < inputs.length; i++) assert.ok(Object.is(results[i], inputs[i]), `item ${i}`);
  // The function got one number per call, as it would on the event loop.
  const seen = await Array.fromAsync(pool.map(describe, SPECIAL, { chunkSize: SPECIAL.length }));
  await using io = new IoExecutor();
  const expected = await Array.fromAsync(io.map(describe, SPECIAL));
  assert.deepEqual(seen, expected);
  assert.equal(seen[0], "-0");
});

Deno.test("mapChunks yields plain arrays, of numbers or of mixed results", async () => {
  await using pool = new CpuExecutor({ maxWorkers: 1 });
  const inputs = Array.from({ length: 64 }, (_, i) => i * 2);
  for await (const chunk of pool.mapChunks(same, inputs, { chunkSize: 32 })) {
    assert.ok(Array.isArray(chunk));
    assert.deepEqual(chunk, inputs.slice(chunk[0] / 2, chunk[0] / 2 + 32));
  }
  const odd = Array.from({ length: 40 }, (_, i) => i);
  const mixed = (await Array.fromAsync(pool.mapChunks(half, odd, { chunkSize: 20 }))).flat();
  assert.deepEqual(mixed, odd.map((x) => x % 2 === 0 ? x : String(x)));
});

Deno.test("a chunk of mixed inputs crosses as it is", async () => {
  await using pool = new CpuExecutor({ maxWorkers: 1 });
  const inputs: unknown[] = [...SPECIAL, "text", null, undefined, { a: 1 }, 7n];
  const results = await Array.fromAsync(pool.map(describe, inputs, { chunkSize: inputs.length }));
  assert.deepEqual(results.slice(SPECIAL.length), [
    "string text",
    "object null",
    "undefined undefined",
    "object [object Object]",
    "bigint 7",
  ]);
});

Deno.test("map reads an array as its iterator would: items pushed during the loop, holes as undefined", async () => {
  await using pool = new CpuExecutor({ maxWorkers: 1 });
  const inputs: number[] = [1, 2, 3];
  const results: number[] = [];
  for await (const value of pool.map(same, inputs, { chunkSize: 2, bufferSize: 1 })) {
    results.push(value);
    if (value === 1) inputs.push(4, 5);
  }
  assert.deepEqual(results, [1, 2, 3, 4, 5]);
  // deno-lint-ignore no-sparse-arrays
  const sparse = [1, , 3];
  const described = await Array.fromAsync(pool.map(describe, sparse, { chunkSize: 3 }));
  assert.deepEqual(described, ["number 1", "undefined undefined", "number 3"]);
});
