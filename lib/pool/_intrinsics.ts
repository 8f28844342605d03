/**
 * The built-ins the worker side uses on the pool's messages, taken when a
 * worker starts, before the task module (or any package it imports) is
 * evaluated. A task can replace `Array.prototype.push`, `Map.prototype.get`
 * or `Promise.prototype.then` in the realm it shares with the other tasks of
 * its worker; the worker side's own code must then not call them, or they
 * would see those tasks' deps and results go by, and could rewrite them.
 *
 * Methods are uncurried (`mapGet(map, key)`): a bound `Function.prototype.call`
 * keeps the original even when a task replaces `call` later. Lists are arrays
 * without a prototype, appended to by index: even the original `push` sets
 * the new index through the prototype chain, where a task could have put a
 * setter. They clone as ordinary arrays.
 *
 * Imports nothing.
 *
 * @module
 */

// deno-lint-ignore no-explicit-any
type Fn = (...args: any[]) => any;

const bind = Function.prototype.bind;
const call = Function.prototype.call;

/** `fn` as a function of its receiver and its arguments, immune to later patches of `call`. */
function uncurry<F extends Fn>(fn: F): (self: unknown, ...args: Parameters<F>) => ReturnType<F> {
  return Reflect.apply(bind, call, [fn]);
}

export const reflectApply = Reflect.apply;
export const hasOwn = Object.hasOwn;
export const isArray = Array.isArray;
export const defineProperty = Object.defineProperty;
export const getPrototypeOf = Object.getPrototypeOf;
const setPrototypeOf = Object.setPrototypeOf;
export const isExtensible = Object.isExtensible;
export const freeze = Object.freeze;
export const objectKeys = Object.keys;
export const objectValues = Object.values;
export const getOwnPropertyDescriptor = Object.getOwnPropertyDescriptor;
export const objectToString = Object.prototype.toString;
export const nativeStructuredClone = structuredClone;
export const isView = ArrayBuffer.isView;

export const NativeObjectPrototype = Object.prototype;
export const NativeArrayPrototype = Array.prototype;
export const NativeFunctionPrototype = Function.prototype;
export const NativeError = Error;
export const NativeAggregateError = AggregateError;
export const NativeDOMException = typeof DOMException === "function" ? DOMException : undefined;
export const NativeAbortController = AbortController;
export const NativeDate = Date;
export const NativeRegExp = RegExp;
export const NativeMap = Map;
export const NativeSet = Set;
export const NativePromise = Promise;
export const NativeFloat64Array = Float64Array;
export const NativeArrayBuffer = ArrayBuffer;
export const NativeDataView = DataView;

export const mapGet = uncurry(Map.prototype.get);
export const mapSet = uncurry(Map.prototype.set);
export const mapDelete = uncurry(Map.prototype.delete);
export const mapValues = uncurry(Map.prototype.values);
export const mapEntries = uncurry(Map.prototype.entries);
export const mapSize = uncurry(Object.getOwnPropertyDescriptor(Map.prototype, "size")!.get!);
export const mapIteratorNext = uncurry(getPrototypeOf(new Map().values()).next);
export const setHas = uncurry(Set.prototype.has);
export const setAdd = uncurry(Set.prototype.add);
export const setValues = uncurry(Set.prototype.values);
export const setIteratorNext = uncurry(getPrototypeOf(new Set().values()).next);
export const weakSetDelete = uncurry(WeakSet.prototype.delete);
export const promiseThen = uncurry(Promise.prototype.then);
const promiseResolve = Promise.resolve;
/** `Promise.resolve(value)`, the original. */
export const resolvePromise = (value: unknown): Promise<unknown> =>
  reflectApply(promiseResolve, NativePromise, [value]);
const hasInstanceOf = uncurry(Function.prototype[Symbol.hasInstance]);
/** `value instanceof Class` without looking up `Class[Symbol.hasInstance]`. */
export const isInstance = <T>(
  value: unknown,
  // deno-lint-ignore no-explicit-any
  Class: abstract new (...args: any[]) => T,
): value is T => hasInstanceOf(Class, value);
const TypedArray = getPrototypeOf(Uint8Array);
/** A typed array's `buffer`, through the original getter. */
export const typedArrayBuffer = uncurry(
  Object.getOwnPropertyDescriptor(TypedArray.prototype, "buffer")!.get!,
) as (view: unknown) => ArrayBufferLike;
/** A `DataView`'s `buffer`, through the original getter. */
export const dataViewBuffer = uncurry(
  Object.getOwnPropertyDescriptor(DataView.prototype, "buffer")!.get!,
) as (view: unknown) => ArrayBufferLike;
export const NativeString = String;

/** A new empty list: an array without a prototype (see the module doc). */
export function list<T>(): T[] {
  const out: T[] = [];
  setPrototypeOf(out, null);
  return out;
}

/**
 * An ordinary array of `items`, made without any setter a task could have
 * added: for an API that wants a real array (a transfer list).
 */
export function arrayOf<T>(items: ArrayLike<T>): T[] {
  const out: T[] = [];
  for (let i = 0; i < items.length; i++) {
    defineProperty(out, i, {
      value: items[i],
      writable: true,
      enumerable: true,
      configurable: true,
    });
  }
  return out;
}

/** Appends `item` to `to`, a {@linkcode list}, without any setter a task could have added. */
export function append<T>(to: T[], item: T): void {
  to[to.length] = item;
}
