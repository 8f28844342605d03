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
export const NativeMapPrototype = Map.prototype;
export const NativeSetPrototype = Set.prototype;
const arrayFromOriginal = Array.from;
/** `Array.from(items)`, the original (which still asks `items` for its own iterator). */
export const arrayFrom = <T>(items: Iterable<T> | ArrayLike<T>): T[] =>
  reflectApply(arrayFromOriginal, Array, [items]);
const GeneratorPrototype = getPrototypeOf(function* () {}.prototype);
const generatorNextOriginal = GeneratorPrototype.next;
/** Whether `value` is a generator object (its prototype a generator function's). */
export const isGenerator = (value: object): boolean => {
  const proto = getPrototypeOf(value);
  return proto !== null && getPrototypeOf(proto) === GeneratorPrototype;
};
/** A generator's `next()`, the original. */
export const generatorNext = uncurry(generatorNextOriginal) as (generator: unknown) => unknown;

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

/**
 * `items` as an iterable that uses nothing of `Array.prototype` or of the
 * array iterator: for `postMessage`'s transfer list, which Deno converts as a
 * sequence, through `[Symbol.iterator]()` and `next()`. An array there would
 * hand each of a result's buffers to whoever replaced those.
 */
export function sequenceOf<T>(items: ArrayLike<T>): Iterable<T> {
  return {
    __proto__: null,
    [Symbol.iterator]() {
      let i = 0;
      return {
        __proto__: null,
        next: () =>
          i < items.length
            ? { __proto__: null, value: items[i++], done: false }
            : { __proto__: null, value: undefined, done: true },
      };
    },
  } as unknown as Iterable<T>;
}

/** Appends `item` to `to`, a {@linkcode list}, without any setter a task could have added. */
export function append<T>(to: T[], item: T): void {
  to[to.length] = item;
}

/**
 * Locks the hooks the language itself consults on values as they pass
 * through a worker, in Deno's code as much as in spool's: a task that could
 * set them would see every later job's deps and results go by, in Deno's own
 * `await` of the message it receives, and could rewrite them. Called once,
 * in a worker, before the task module is evaluated.
 *
 * - `Object.prototype` takes no new property: no `then` on every plain
 *   object (a promise resolved with a message looks it up), no getter for a
 *   field a message or an options dictionary leaves out (`deps`, `origin`),
 *   no `get` or `set` read off a property descriptor.
 * - `Promise.prototype.constructor` and `Promise[Symbol.species]` stay the
 *   originals: `await` and `then` read them on every promise, Deno's own
 *   included.
 * - The other built-in prototypes an object in flight may have get a `then`
 *   that is always `undefined`; assigning `then` on an instance still makes
 *   it that instance's own, as it would without the lock.
 *
 * What it takes from tasks: adding a property to `Object.prototype`, which
 * then throws (README, "Permissions").
 */
export function lockHooks(): void {
  const constructor = getOwnPropertyDescriptor(Promise.prototype, "constructor")!;
  defineProperty(Promise.prototype, "constructor", {
    __proto__: null,
    value: constructor.value,
    writable: false,
    enumerable: false,
    configurable: false,
  } as PropertyDescriptor);
  const species = getOwnPropertyDescriptor(Promise, Symbol.species)!;
  defineProperty(Promise, Symbol.species, {
    __proto__: null,
    get: species.get,
    enumerable: false,
    configurable: false,
  } as PropertyDescriptor);
  const noThen = (): undefined => undefined;
  const ownThen = function (this: object, value: unknown): void {
    defineProperty(this, "then", {
      __proto__: null,
      value,
      writable: true,
      enumerable: true,
      configurable: true,
    } as PropertyDescriptor);
  };
  const prototypes = [
    Array.prototype,
    Map.prototype,
    Set.prototype,
    WeakMap.prototype,
    WeakSet.prototype,
    TypedArray.prototype,
    ArrayBuffer.prototype,
    DataView.prototype,
    Date.prototype,
    RegExp.prototype,
    Error.prototype,
    Function.prototype,
  ];
  // Each kind of typed array has a prototype of its own between its
  // instances and %TypedArray%.prototype: Deno hands a received message over
  // as a Uint8Array.
  const typedArrays = [
    Int8Array,
    Uint8Array,
    Uint8ClampedArray,
    Int16Array,
    Uint16Array,
    Int32Array,
    Uint32Array,
    Float32Array,
    Float64Array,
    BigInt64Array,
    BigUint64Array,
  ];
  for (let i = 0; i < typedArrays.length; i++) {
    prototypes[prototypes.length] = typedArrays[i].prototype;
  }
  const float16 = (globalThis as { Float16Array?: { prototype: object } }).Float16Array;
  if (float16 !== undefined) prototypes[prototypes.length] = float16.prototype;
  if (typeof SharedArrayBuffer === "function") {
    prototypes[prototypes.length] = SharedArrayBuffer.prototype;
  }
  for (let i = 0; i < prototypes.length; i++) {
    defineProperty(prototypes[i], "then", {
      __proto__: null,
      get: noThen,
      set: ownThen,
      enumerable: false,
      configurable: false,
    } as PropertyDescriptor);
  }
  Object.preventExtensions(Object.prototype);
}
