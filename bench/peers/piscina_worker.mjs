// deno-lint-ignore-file explicit-module-boundary-types
// Piscina's side of the benchmarks: the bodies of bench/_work.ts, line for line.

export function sumSquaresBig(n) {
  let sum = 0n;
  for (let i = 0; i < n; i++) sum += BigInt(i * i);
  return sum;
}

export function sumSquaresNumber(n) {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += i * i;
  return sum;
}

export function tiny(x) {
  return x * 2 + 1;
}

export function tinyBatch(items) {
  const out = new Array(items.length);
  for (let i = 0; i < items.length; i++) out[i] = tiny(items[i]);
  return out;
}

export function noop() {
  return 0;
}

export default noop;

// Keeps a thread busy for `ms`, so that a pool's every thread takes one.
export function spin(ms) {
  const end = Date.now() + ms;
  while (Date.now() < end);
  return 0;
}
