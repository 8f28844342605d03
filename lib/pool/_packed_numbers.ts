/**
 * How a chunk of plain numbers crosses between the main thread and a worker:
 * as one `Float64Array` whose buffer is transferred, not as an array that
 * `postMessage` clones item by item. A cpu executor's `map` over many tiny
 * calls sends chunks of numbers and gets chunks of numbers back; cloning them
 * one by one was most of the main thread's time (a chunk of 1,000 numbers:
 * about 70 µs cloned each way, a few µs packed).
 *
 * Nothing changes for the code on either side: a `Float64Array` holds every
 * JavaScript number exactly (`-0`, `NaN` and `Infinity` included), the
 * worker's function still gets one number per call, and the pool turns the
 * results back into an array before anyone sees them.
 *
 * The worker side imports this file: it imports nothing.
 *
 * @module
 */

/** Below this many values, packing saves less than it costs. */
const MIN_PACKED = 16;

/**
 * The values as one `Float64Array`, when every one is a number and there are
 * enough of them to be worth it.
 *
 * @param values Inputs or results of a chunk of calls.
 * @returns The packed values, or `undefined` to send `values` as they are.
 */
export function packNumbers(values: readonly unknown[]): Float64Array<ArrayBuffer> | undefined {
  const length = values.length;
  if (length < MIN_PACKED) return undefined;
  for (let i = 0; i < length; i++) {
    if (typeof values[i] !== "number") return undefined;
  }
  const packed = new Float64Array(length);
  for (let i = 0; i < length; i++) packed[i] = values[i] as number;
  return packed;
}

/**
 * The values of a chunk as an array, whichever way they crossed.
 *
 * @param values What arrived: an array, or a `Float64Array` that
 * {@linkcode packNumbers} made on the other side.
 * @returns A plain array of the values.
 */
export function unpackNumbers(values: unknown[] | Float64Array): unknown[] {
  if (!(values instanceof Float64Array)) return values;
  const length = values.length;
  const array = new Array<number>(length);
  for (let i = 0; i < length; i++) array[i] = values[i];
  return array;
}
