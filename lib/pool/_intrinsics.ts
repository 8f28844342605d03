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
export function uncurry<F extends Fn>(
  fn: F,
): (self: unknown, ...args: Parameters<F>) => ReturnType<F> {
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
export const weakSetAdd = uncurry(WeakSet.prototype.add);
export const weakSetHas = uncurry(WeakSet.prototype.has);
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
/** A typed array's `length`, through the original getter. */
export const typedArrayLength = uncurry(
  Object.getOwnPropertyDescriptor(TypedArray.prototype, "length")!.get!,
) as (view: unknown) => number;
const detachedGetter = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, "detached")?.get;
/** Whether an ArrayBuffer is detached, through the original getter. */
export const bufferDetached = (buffer: ArrayBuffer): boolean =>
  detachedGetter === undefined ? false : reflectApply(detachedGetter, buffer, []) as boolean;
export const NativeSharedArrayBuffer = typeof SharedArrayBuffer === "function"
  ? SharedArrayBuffer
  : undefined;
const domExceptionMessage = NativeDOMException === undefined
  ? undefined
  : Object.getOwnPropertyDescriptor(NativeDOMException.prototype, "message")?.get;
/**
 * The message of an error the runtime raised (a `DOMException` such as
 * `DataCloneError`, or any error), read through the original getters.
 */
export function errorMessage(error: unknown): string {
  if (
    NativeDOMException !== undefined && domExceptionMessage !== undefined &&
    isInstance(error, NativeDOMException)
  ) return NativeString(reflectApply(domExceptionMessage, error, []));
  if (isInstance(error, NativeError)) {
    const own = getOwnPropertyDescriptor(error, "message");
    if (own !== undefined && "value" in own) return NativeString(own.value);
  }
  return "unknown error";
}
/** A `DataView`'s `buffer`, through the original getter. */
export const dataViewBuffer = uncurry(
  Object.getOwnPropertyDescriptor(DataView.prototype, "buffer")!.get!,
) as (view: unknown) => ArrayBufferLike;
export const NativeString = String;
/** The language's own error classes. */
export const BUILT_IN_ERROR_CLASSES: readonly { readonly prototype: Error }[] = [
  Error,
  AggregateError,
  EvalError,
  RangeError,
  ReferenceError,
  SyntaxError,
  TypeError,
  URIError,
];
export const NativeTypeError = TypeError;
const functionToString = uncurry(Function.prototype.toString) as (fn: unknown) => string;
const stringEndsWith = uncurry(String.prototype.endsWith) as (text: string, end: string) => boolean;
/** Whether `fn` is the engine's own (its source reads `[native code]`). */
export const isNativeFunction = (fn: unknown): boolean =>
  stringEndsWith(functionToString(fn), "{ [native code] }");
/** `Date.prototype.toString`, the original. */
export const dateToString = uncurry(Date.prototype.toString) as (date: Date) => string;
export const NativeMapPrototype = Map.prototype;
export const NativeSetPrototype = Set.prototype;
const arrayFromOriginal = Array.from;
/** `Array.from(items)`, the original (which still asks `items` for its own iterator). */
export const arrayFrom = <T>(items: Iterable<T> | ArrayLike<T>): T[] =>
  reflectApply(arrayFromOriginal, Array, [items]);
/** A new empty list: an array without a prototype (see the module doc). */
export function list<T>(): T[] {
  const out: T[] = [];
  setPrototypeOf(out, null);
  return out;
}

/**
 * An ordinary array of `items`, made without any setter a task could have
 * added: for a value the main side uses as an array (`find`, `map`).
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
 * The prototypes of the realm's built-in classes (every constructor on the
 * global object, and the iterator prototypes), filled by
 * {@linkcode lockHooks}: a `then` found on one of them never makes a value
 * a thenable of its class's own.
 */
const builtInPrototypes = new NativeSet<object>();

/** Whether `holder` is the prototype of a built-in class (see {@linkcode lockHooks}). */
export function isBuiltInPrototype(holder: object): boolean {
  return holder === NativeObjectPrototype || holder === NativeArrayPrototype ||
    holder === NativeFunctionPrototype || setHas(builtInPrototypes, holder);
}

/** Counts `value`'s `prototype` among the built-in ones, if `value` is a class. */
function addClassPrototype(value: unknown): void {
  if (typeof value !== "function") return;
  const proto = getOwnPropertyDescriptor(value, "prototype")?.value;
  if (proto !== null && typeof proto === "object") setAdd(builtInPrototypes, proto);
}

let lazyGlobalsAdded = false;

/**
 * {@linkcode isBuiltInPrototype}, counting also the classes Deno defines on
 * the global object behind a getter (`Buffer`, `Response`, `ReadableStream`),
 * which {@linkcode lockHooks} leaves alone so that a worker does not load
 * them all. Loads them the first time it is asked: only for a value that
 * has a `then` somewhere up its prototype chain.
 */
export function isRealmPrototype(holder: object): boolean {
  if (isBuiltInPrototype(holder)) return true;
  if (!lazyGlobalsAdded && lockedOnce) {
    lazyGlobalsAdded = true;
    // The one built-in iterable class that no constructor names:
    // `Intl.Segmenter`'s segments (made here: it loads ICU's data, 20 ms).
    if (typeof Intl?.Segmenter === "function") {
      setAdd(builtInPrototypes, getPrototypeOf(new Intl.Segmenter().segment("")));
    }
    for (let i = 0; i < lazyGlobals.length; i++) {
      try {
        addClassPrototype(reflectApply(lazyGlobals[i], globalThis, []));
      } catch {
        // A getter that throws holds no class.
      }
    }
    return setHas(builtInPrototypes, holder);
  }
  return false;
}

/** The original getters of the globals Deno defines lazily, taken by {@linkcode lockHooks}. */
const lazyGlobals: (() => unknown)[] = list();
let lockedOnce = false;

/** The original `next` of each kind of built-in iterator, by its prototype. */
const iteratorNexts = new NativeMap<object, (iterator: unknown) => unknown>();
function addIterator(sample: object): void {
  const proto = getPrototypeOf(sample);
  const next = getOwnPropertyDescriptor(proto, "next")?.value;
  if (typeof next === "function") mapSet(iteratorNexts, proto, uncurry(next));
}
addIterator([].values());
addIterator(new Map().values());
addIterator(new Set().values());
addIterator(""[Symbol.iterator]());
addIterator(/x/g[Symbol.matchAll](""));
const GeneratorPrototype = getPrototypeOf(function* () {}.prototype);
const generatorNext = uncurry(GeneratorPrototype.next) as (iterator: unknown) => unknown;
mapSet(iteratorNexts, GeneratorPrototype, generatorNext);
// An iterator helper (`values().map(...)`), where the runtime has them.
const iteratorMap = ([].values() as unknown as { map?: (fn: unknown) => object }).map;
if (typeof iteratorMap === "function") {
  addIterator(reflectApply(iteratorMap, [].values(), [(x: unknown) => x]));
}

/**
 * The original `next` of a built-in iterator (of an array, a Map, a Set, a
 * string, a generator, an iterator helper), or `undefined` for any other
 * value.
 */
export function builtInNext(value: object): ((iterator: unknown) => unknown) | undefined {
  const proto = getPrototypeOf(value);
  if (proto === null) return undefined;
  const next = mapGet(iteratorNexts, proto) as ((iterator: unknown) => unknown) | undefined;
  if (next !== undefined) return next;
  // A generator object's prototype is its function's `prototype`, whose own is %GeneratorPrototype%.
  return getPrototypeOf(proto) === GeneratorPrototype && !hasOwn(proto, "next")
    ? generatorNext
    : undefined;
}
let stacksQuiet = 0;
let userPrepareStackTrace: unknown;

/**
 * Runs `read` with `Error.prepareStackTrace` out of the way: a stack the
 * worker side reads (a failed task's error, or V8's serializer on an error
 * in a result) is formatted by V8 itself, not by a function a task put
 * there, which would get the other task's error. Harmless to task code
 * that calls it: it only hides a function from its own stacks.
 *
 * @param read What reads stacks.
 * @returns What `read` returns.
 */
export function withQuietStacks<T>(read: () => T): T {
  stacksQuiet++;
  try {
    return read();
  } finally {
    stacksQuiet--;
  }
}

/** An accessor that reads `get()` and makes an assigned value the receiver's own. */
export function lockedAccessor(key: PropertyKey, get: () => unknown): PropertyDescriptor {
  return {
    __proto__: null,
    get,
    set(this: object, value: unknown) {
      defineProperty(this, key, {
        __proto__: null,
        value,
        writable: true,
        enumerable: true,
        configurable: true,
      } as PropertyDescriptor);
    },
    enumerable: false,
    configurable: false,
  } as PropertyDescriptor;
}

/**
 * Locks the hooks the language itself consults on values as they pass
 * through a worker, in Deno's code as much as in spool's: a task that could
 * set them would see every later job's deps and results go by (in Deno's own
 * `await` of the message it receives, say), and could rewrite them. Called
 * once, in a worker, before the task module is evaluated.
 *
 * - `Object.prototype` takes no new property: no `then` on every plain
 *   object (a promise resolved with a message looks it up), no getter for a
 *   field a message or an options dictionary leaves out (`deps`, `origin`),
 *   no `get` or `set` read off a property descriptor.
 * - `Promise.prototype.constructor` and `Promise[Symbol.species]` stay the
 *   originals: `await` and `then` read them on every promise, Deno's own
 *   included.
 * - The prototype of every built-in class (each constructor on the global
 *   object, the iterators') gets a `then` that is always `undefined`, and
 *   the built-in errors' prototypes keep their `name` (V8 reads both on
 *   values it resolves or clones); assigning either on an instance still
 *   makes it that instance's own, as it would without the lock.
 * - `Error.prepareStackTrace` still works for task code, but not while the
 *   worker side reads a stack ({@linkcode withQuietStacks}).
 * - `Deno[Deno.internal]`, Deno's internals (promise hooks, the error
 *   classes' registry), is removed.
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
  // Only constructors held as values: a global behind a getter is one Deno
  // loads at first use, which every worker would then pay for.
  lockedOnce = true;
  const globals = Reflect.ownKeys(globalThis);
  for (let i = 0; i < globals.length; i++) {
    const descriptor = getOwnPropertyDescriptor(globalThis, globals[i]);
    if (descriptor?.get !== undefined) append(lazyGlobals, descriptor.get as () => unknown);
    addClassPrototype(descriptor?.value);
  }
  // The classes of the namespaces (`Intl`'s).
  const namespaces = [globalThis.Intl, (globalThis as { WebAssembly?: object }).WebAssembly];
  for (let n = 0; n < namespaces.length; n++) {
    const namespace = namespaces[n];
    if (namespace === undefined || namespace === null) continue;
    const keys = Reflect.ownKeys(namespace);
    for (let i = 0; i < keys.length; i++) {
      addClassPrototype(getOwnPropertyDescriptor(namespace, keys[i])?.value);
    }
  }
  const typed = getOwnPropertyDescriptor(TypedArray, "prototype")!.value as object;
  setAdd(builtInPrototypes, typed);
  const iterators = mapEntries(iteratorNexts);
  for (let step = mapIteratorNext(iterators); !step.done; step = mapIteratorNext(iterators)) {
    const proto = (step.value as [object, unknown])[0];
    setAdd(builtInPrototypes, proto);
    setAdd(builtInPrototypes, getPrototypeOf(proto));
  }
  const protos = setValues(builtInPrototypes);
  for (let step = setIteratorNext(protos); !step.done; step = setIteratorNext(protos)) {
    const proto = step.value as object;
    // Object.prototype takes nothing (below); a promise's `then` is its own.
    if (proto === NativeObjectPrototype || hasOwn(proto, "then") || !isExtensible(proto)) continue;
    try {
      defineProperty(proto, "then", lockedAccessor("then", () => undefined));
    } catch {
      // A prototype that refuses it (exotic): nothing to lock there.
    }
  }
  for (let i = 0; i < BUILT_IN_ERROR_CLASSES.length; i++) {
    const proto = BUILT_IN_ERROR_CLASSES[i].prototype;
    const name = proto.name;
    defineProperty(proto, "name", lockedAccessor("name", () => name));
  }
  userPrepareStackTrace = getOwnPropertyDescriptor(Error, "prepareStackTrace")?.value;
  defineProperty(Error, "prepareStackTrace", {
    __proto__: null,
    get: () => stacksQuiet > 0 ? undefined : userPrepareStackTrace,
    set: (value: unknown) => {
      userPrepareStackTrace = value;
    },
    enumerable: false,
    configurable: false,
  } as PropertyDescriptor);
  if (typeof Deno === "object") {
    const internal = (Deno as unknown as { internal?: symbol }).internal;
    if (typeof internal === "symbol") delete (Deno as unknown as Record<symbol, unknown>)[internal];
  }
  Object.preventExtensions(Object.prototype);
}
