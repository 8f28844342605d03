/**
 * Task declarations: `io()` and `cpu()` mark a task's lane, `defineTasks()`
 * validates a whole set (names, dependencies, cycles, permissions) the moment
 * the task file is imported, before anything can run.
 *
 * @module
 */

import { isValidLimit } from "../run/_deadline.ts";
import { normalizeBackoff, normalizeRetries } from "../run/_retry.ts";
import { TaskFileError } from "../errors.ts";
import { normalizePermissions, permissionKey, type Permissions } from "./permissions.ts";
import { TaskGraph } from "./task_graph.ts";
import { type CacheFields, normalizeCacheFields } from "./_cache_policy.ts";
import { distinct, stringListProblem } from "./_string_lists.ts";
import { TASK_NAME } from "./_task_name.ts";
import type { TaskShell } from "../commands/task_shell.ts";

/** The lane a task runs in: `io` on the event loop, `cpu` in a worker. */
export type TaskKind = "io" | "cpu";

/** What a task body receives. */
export interface TaskContext<Deps = Record<string, unknown>> {
  /** The task's own name. */
  readonly name: string;
  /**
   * Aborted when the run is cancelled or fails fast, or when this attempt
   * reaches its `timeout` (then with a `TimeoutError`); pass it on to
   * `fetch`, `Deno.Command` and friends so that their work stops too.
   */
  readonly signal: AbortSignal;
  /**
   * The results of the tasks this one depends on, keyed by task name. In a
   * cpu task they are structured clones.
   */
  readonly deps: Deps;
  /**
   * The arguments after `--` on the command line (`spool run build -- --prod`),
   * or `RunOptions.args`; empty when none were given.
   */
  readonly args: readonly string[];
  /**
   * Runs a command with the syntax of `deno task`, bound to this task: its
   * signal stops the command's process tree, it runs in the task file's
   * folder, its output is this task's output. Each program it runs must be in
   * the task's `run` permission. `` await $`git status` `` prints and checks
   * the exit code; `` await $`git rev-parse HEAD`.text() `` returns stdout.
   */
  readonly $: TaskShell;
}

/** How long to wait between the attempts of a task that has `retries`. */
export interface BackoffOptions {
  /** The wait before the first retry, in ms. Default 1000. Minimum 0. */
  delay?: number;
  /** Each later wait is the previous one times this. Default 2. Minimum 1. */
  factor?: number;
  /** The longest wait, in ms. Default 30000. Minimum 0. */
  maxDelay?: number;
}

/**
 * What a task does when it hangs or fails: its time limit and retries.
 *
 * @example A flaky task, tried up to three times, each attempt limited to 5 s
 * ```ts
 * import { defineTasks, io, run } from "@spool/spool";
 *
 * let calls = 0;
 * const tasks = defineTasks({
 *   flaky: io({
 *     timeout: 5_000,
 *     retries: 2,
 *     backoff: { delay: 10 },
 *     run() {
 *       if (++calls < 3) throw new Error("connection reset");
 *       return "downloaded";
 *     },
 *   }),
 * });
 * // Every sandbox imports this module again: run only when it is the program.
 * if (import.meta.main) {
 *   const report = await run(tasks);
 *   console.log(report.tasks[0].status, report.tasks[0].attemptCount); // "ok" 3
 * }
 * ```
 */
export interface FailurePolicy {
  /**
   * The time limit of one attempt, in ms, counted from when the body starts
   * (not while it waits for a slot). At the deadline an io task's signal
   * aborts and a cpu task's worker is terminated and replaced; the attempt
   * fails with a `TimeoutError` naming the limit. Default: the run's
   * `timeout` (`--timeout`), else none; `Infinity` opts out of the run's.
   */
  timeout?: number;
  /**
   * How many times to try again after a failed attempt (timeouts included),
   * waiting as `backoff` says. Default 0. A cancelled run is never retried.
   */
  retries?: number;
  /** The waits between attempts; exponential from 1 s by default. */
  backoff?: BackoffOptions;
}

/**
 * What a task's result depends on, for incremental runs (see README,
 * "Incremental runs"): the files it reads, the files it writes, and the
 * environment variables that matter.
 */
export interface CachePolicy {
  /**
   * Files the result depends on: paths or globs (`src/**\/*.ts`) relative to
   * the task file's folder. Default: the `permissions.read` scopes.
   */
  inputs?: readonly string[];
  /**
   * Files the task writes, stored with its result and put back on a cache
   * hit: paths or globs relative to the task file's folder. Default: the
   * `permissions.write` scopes.
   */
  outputs?: readonly string[];
  /** Environment variables whose values the result depends on. Default: the `permissions.env` names. */
  env?: readonly string[];
  /**
   * `true`: cache the task even where spool cannot tell that is sound (it
   * has net, run, ffi or sys access and declares no `inputs`); `false`:
   * never cache it. Default: cache it when it declares `inputs` or is pure.
   */
  cache?: boolean;
}

/** What `io()` and `cpu()` take. */
export interface TaskSpec<Result = unknown, Deps = Record<string, unknown>>
  extends FailurePolicy, CachePolicy {
  /** One line shown by `spool list`. */
  description?: string;
  /** Names of the tasks whose results this task needs; they run first. */
  deps?: readonly string[];
  /** What the task may touch; nothing declared means nothing granted. */
  permissions?: Permissions;
  /**
   * io only: run the body on the runner's own thread with every permission
   * the process holds, instead of in a sandbox holding exactly `permissions`.
   * For bodies that must share objects with the runner (not just results).
   * `list`, `--dry-run` and the report mark such a task. Default `false`.
   */
  trusted?: boolean;
  /**
   * The heap limit of the process that hosts the task, in MiB: a body that
   * allocates past it fails alone, with an out-of-memory error, instead of
   * taking the run down. Default: V8's own limit. Minimum 16.
   */
  maxHeapMb?: number;
  /**
   * Where the task's sandbox lives: `"process"`, a worker inside a host
   * process of its own that contains any fault; or `"worker"`, a Web Worker in
   * the runner's process, which can share a `SharedArrayBuffer` with the
   * runner and have buffers moved to it, but cannot contain a heap exhausted or
   * a signal sent to its own process. Default: the run's `isolation`
   * (`"process"`).
   */
  isolation?: "process" | "worker";
  /** The task body. A cpu body's result must be structured-cloneable. */
  run(context: TaskContext<Deps>): Result | Promise<Result>;
}

/** A task as declared: its spec plus its lane. */
export interface TaskDefinition<Result = unknown, Deps = Record<string, unknown>>
  extends TaskSpec<Result, Deps> {
  /** The lane the task runs in. */
  readonly kind: TaskKind;
}

/** What a sharded task's items can be: a list, a typed array, or any iterable. */
export type ShardItems<Item> = Iterable<Item> | ArrayLike<Item>;

/**
 * What `cpu()` takes for a sharded task: items and a body per item instead of
 * one `run` body. spool splits the items into chunks over every worker and
 * hands back the results in input order, or their fold with `reduce`.
 */
export interface ShardSpec<Item = unknown, Result = unknown, Deps = Record<string, unknown>>
  extends FailurePolicy, CachePolicy {
  /** One line shown by `spool list`. */
  description?: string;
  /** Names of the tasks whose results this task needs; they run first. */
  deps?: readonly string[];
  /** What the task may touch; nothing declared means nothing granted. */
  permissions?: Permissions;
  /** The heap limit of each process that hosts the task's chunks, in MiB; see {@linkcode TaskSpec.maxHeapMb}. */
  maxHeapMb?: number;
  /** Where the task's sandboxes live; see {@linkcode TaskSpec.isolation}. */
  isolation?: "process" | "worker";
  /**
   * The items, or a function of the task's context that returns them (it
   * runs once, in a worker with the task's permissions, before the chunks:
   * use it to pick items out of `deps` or build a range). A typed array moves to the workers in
   * chunks without cloning; a view on a `SharedArrayBuffer` is shared.
   */
  items:
    | ShardItems<Item>
    | ((context: TaskContext<Deps>) => ShardItems<Item> | Promise<ShardItems<Item>>);
  /**
   * The body, run in a worker once per item; synchronous. Its results must be
   * structured-cloneable.
   *
   * @param item One item.
   * @param index The item's index among all items.
   */
  map(item: Item, index: number): Result;
  /**
   * Folds two results into one. It must be associative: each chunk is folded
   * in its worker, then the chunks' folds in order on the main thread.
   * Without it the task's result is the array of `map` results.
   *
   * @param a The fold so far.
   * @param b The next result.
   */
  reduce?(a: Result, b: Result): Result;
  /** The fold's starting value; with no items and none given, the result is `undefined`. */
  initial?: Result;
  /** Items per chunk. Default: chosen from the item count, workers and measured cost. Minimum 1. */
  chunkSize?: number;
}

/** A sharded task as declared: its spec plus its lane, always `cpu`. */
export interface ShardedTaskDefinition<
  Item = unknown,
  Result = unknown,
  Deps = Record<string, unknown>,
> extends ShardSpec<Item, Result, Deps> {
  /** The lane the task runs in. */
  readonly kind: "cpu";
}

/** A sharded task's items and bodies, as the scheduler and workers see them. */
export interface TaskShard {
  /** The items, or the function of the context that returns them. */
  readonly items: ShardItems<unknown> | ((context: TaskContext) => unknown);
  /** The per-item body. */
  readonly map: (item: unknown, index: number) => unknown;
  /** The associative fold, when the task reduces. */
  readonly reduce: ((a: unknown, b: unknown) => unknown) | undefined;
  /** The fold's starting value. */
  readonly initial: unknown;
  /** Whether `initial` was given (it may be `undefined` on purpose). */
  readonly hasInitial: boolean;
  /** The chunk size the task asked for; automatic when absent. */
  readonly chunkSize: number | undefined;
}

/** A validated task, as the scheduler sees it. */
export interface Task {
  /** The task's name, its key in `defineTasks`. */
  readonly name: string;
  /** The lane it runs in. */
  readonly kind: TaskKind;
  /** One-line description, empty when none was given. */
  readonly description: string;
  /** Its dependencies, in declaration order. */
  readonly deps: readonly string[];
  /** Its normalized permissions. */
  readonly permissions: Permissions;
  /**
   * The body. For a sharded task it maps every item in one go, for a cpu
   * lane that cannot run chunks.
   */
  readonly run: (context: TaskContext) => unknown;
  /** Present for a sharded cpu task: its items, map and reduce. */
  readonly shard?: TaskShard;
  /** The time limit of one attempt in ms; the run's default applies when absent. */
  readonly timeout?: number;
  /** How many times a failed attempt is tried again; absent means 0. */
  readonly retries?: number;
  /** The waits between attempts, with defaults filled in; present with `retries`. */
  readonly backoff?: Required<BackoffOptions>;
  /** An io task that runs on the runner's thread, outside any sandbox. */
  readonly trusted?: boolean;
  /** The heap limit of the process hosting the task, in MiB; V8's default when absent. */
  readonly maxHeapMb?: number;
  /** Where its sandbox lives; the run's default when absent. */
  readonly isolation?: "process" | "worker";
  /** Declared inputs (paths or globs); the read scopes when absent. */
  readonly inputs?: readonly string[];
  /** Declared outputs (paths or globs); the write scopes when absent. */
  readonly outputs?: readonly string[];
  /** Environment variables its result depends on; the env scopes when absent. */
  readonly env?: readonly string[];
  /** `true` or `false` to override whether the task is cached. */
  readonly cache?: boolean;
  /** The command of a task made with `sh()` or `service()`. */
  readonly command?: string;
  /** A task made with `service()`: it stays up while its dependants run. */
  readonly service?: true;
}

const TASK_KIND = Symbol.for("spool.task.kind");
const TASK_SET = Symbol.for("spool.taskset");
const REGISTRY = Symbol.for("spool.registry");

// One descriptor per lane rather than one per call: io() and cpu() run once
// per task in every process that imports the task file.
const IO_MARK: PropertyDescriptor = { value: "io" };
const CPU_MARK: PropertyDescriptor = { value: "cpu" };

function mark<T>(kind: TaskKind, spec: T): T & { readonly kind: TaskKind } {
  if (spec === null || typeof spec !== "object") {
    throw new TypeError(
      `Cannot declare ${
        kind === "io" ? "an" : "a"
      } ${kind} task: expected an object with a run function`,
    );
  }
  const definition = { ...spec, kind };
  Object.defineProperty(definition, TASK_KIND, kind === "io" ? IO_MARK : CPU_MARK);
  return definition;
}

/**
 * Declares an io task: it waits (network, disk, subprocesses) and runs
 * concurrently with other io tasks on the main event loop.
 *
 * @param spec The task's description, deps, permissions and body.
 * @returns The declaration, for `defineTasks`.
 * @example Download a page
 * ```ts
 * import { io } from "@spool/spool";
 * const page = io({
 *   description: "Fetch the front page",
 *   permissions: { net: ["example.com"] },
 *   async run({ signal }) {
 *     const res = await fetch("https://example.com", { signal });
 *     return await res.text();
 *   },
 * });
 * ```
 */
export function io<Result = unknown, Deps = Record<string, unknown>>(
  spec: TaskSpec<Result, Deps>,
  // NoInfer: inside defineTasks() the expected type would otherwise infer Deps as never.
): TaskDefinition<Result, NoInfer<Deps>> {
  return mark("io", spec);
}

/**
 * Declares a cpu task: it computes, and its body runs in a Web Worker from
 * the pool, with exactly the permissions it declares.
 *
 * @param spec The task's description, deps, permissions and body.
 * @returns The declaration, for `defineTasks`.
 * @example Sum of squares
 * ```ts
 * import { cpu } from "@spool/spool";
 * const squares = cpu({
 *   description: "Sum of i*i below ten million",
 *   run() {
 *     let total = 0;
 *     for (let i = 0; i < 10_000_000; i++) total += i * i;
 *     return total;
 *   },
 * });
 * ```
 */
export function cpu<Result = unknown, Deps = Record<string, unknown>>(
  spec: TaskSpec<Result, Deps>,
  // NoInfer: see io().
): TaskDefinition<Result, NoInfer<Deps>>;
/**
 * Declares a sharded cpu task: `map` runs once per item, in chunks spread
 * over every worker; the result is the array of `map` results in input
 * order, or their fold with `reduce`. A failing item fails the task with the
 * item's index and its own error.
 *
 * @param spec The task's items, map, optional reduce and chunk size, and its
 * description, deps and permissions.
 * @returns The declaration, for `defineTasks`.
 * @example Sum of squares over every worker
 * ```ts
 * import { cpu } from "@spool/spool";
 * const squares = cpu({
 *   description: "Sum of i*i below ten million, in chunks",
 *   items: () => Array.from({ length: 10_000_000 }, (_, i) => i),
 *   map: (i) => i * i,
 *   reduce: (a, b) => a + b,
 *   initial: 0,
 * });
 * ```
 */
export function cpu<Item = unknown, Result = unknown, Deps = Record<string, unknown>>(
  spec: ShardSpec<Item, Result, Deps>,
  // NoInfer: see io().
): ShardedTaskDefinition<Item, Result, NoInfer<Deps>>;
export function cpu(
  spec: TaskSpec | ShardSpec,
): TaskDefinition | ShardedTaskDefinition {
  return mark("cpu", spec) as TaskDefinition | ShardedTaskDefinition;
}

/**
 * A validated set of tasks: what a task file exports by default and what
 * `run()` executes.
 */
export class TaskSet {
  /** The tasks by name, in declaration order. */
  readonly tasks: ReadonlyMap<string, Task>;
  /** The dependency graph; validated, free of cycles. */
  readonly graph: TaskGraph;
  /**
   * The URL of the module that declared the set, which workers import to
   * find cpu task bodies. Found from the call site; `run()` takes a `module`
   * option where that is not possible.
   */
  readonly module: string | undefined;

  /**
   * Builds a task set from validated tasks; use `defineTasks` instead.
   *
   * @param tasks Validated tasks by name.
   * @param module The declaring module's URL, when known.
   */
  constructor(tasks: ReadonlyMap<string, Task>, module?: string) {
    this.tasks = tasks;
    this.graph = new TaskGraph(tasks);
    this.module = module;
    Object.defineProperty(this, TASK_SET, { value: true });
  }
}

/**
 * Tells whether a value is a task set, even one made by another copy of
 * spool (a task file importing spool from JSR, run by a local CLI).
 *
 * @param value Any value.
 * @returns `true` for a task set.
 */
export function isTaskSet(value: unknown): value is TaskSet {
  return typeof value === "object" && value !== null &&
    (value as Record<symbol, unknown>)[TASK_SET] === true;
}

/**
 * Validates a set of tasks and returns it ready to run. Every problem a task
 * file can have is reported here, when the file is imported: a task that is
 * neither io nor cpu, a missing body, an unknown dependency, a cycle (every
 * task on it named), an invalid permission.
 *
 * @param tasks Task declarations by name, made with `io()` and `cpu()`.
 * @returns The validated task set; export it as the task file's default.
 * @throws {TaskFileError} Naming the task and the problem.
 * @example A two-task file
 * ```ts
 * import { cpu, defineTasks, io } from "@spool/spool";
 *
 * export default defineTasks({
 *   numbers: io({ run: () => [1, 2, 3] }),
 *   total: cpu({
 *     deps: ["numbers"],
 *     run: ({ deps }) => (deps.numbers as number[]).reduce((a, b) => a + b, 0),
 *   }),
 * });
 * ```
 */
export function defineTasks(
  tasks: Record<
    string,
    TaskDefinition<unknown, never> | ShardedTaskDefinition<unknown, unknown, never>
  >,
): TaskSet {
  const module = callerModule();
  if (tasks === null || typeof tasks !== "object" || Array.isArray(tasks)) {
    throw new TaskFileError(
      "Cannot define tasks: defineTasks() expects an object of tasks keyed by name",
      { file: module },
    );
  }
  if (tasks instanceof Map) {
    throw new TaskFileError(
      "Cannot define tasks: defineTasks() expects an object of tasks keyed by name, not a Map: pass Object.fromEntries(map)",
      { file: module },
    );
  }
  // Indexed loops over Object.keys, not Object.entries: every sandbox host
  // imports the task file again, so this runs cold once per host, over up to
  // tens of thousands of tasks (bench/_sandbox.ts, bench/_io.ts).
  const names = Object.keys(tasks);
  const validated = new Map<string, Task>();
  const shared: SharedDeclarations = { permissions: new Map(), byKey: new Map() };
  // Names other than lowercase ASCII: only these can be confused with another name.
  let unusual: string[] | undefined;
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    if (!LOWER_ASCII_NAME.test(name)) {
      if (!TASK_NAME.test(name)) {
        fail(
          module,
          `Task name ${
            quoteName(name)
          } is invalid: use letters, digits, '_', '.', ':' or '-', starting with a letter, digit or '_'`,
        );
      }
      (unusual ??= []).push(name);
    }
    validated.set(name, validateTask(name, tasks[name], module, shared));
  }
  if (unusual !== undefined) assertDistinctNames(unusual, validated, module);
  if (validated.size === 0) {
    throw new TaskFileError(
      "Cannot define tasks: the task set is empty, declare at least one task",
      {
        file: module,
      },
    );
  }
  let set: TaskSet;
  try {
    set = new TaskSet(validated, module);
  } catch (error) {
    if (error instanceof TaskFileError && module !== undefined && error.file === undefined) {
      throw new TaskFileError(error.message, { file: module, cause: error.cause });
    }
    throw error;
  }
  register(set);
  return set;
}

// The common case, tested first: a valid name that is its own key in
// assertDistinctNames (ASCII letters are \p{L}, ASCII digits \p{N}).
const LOWER_ASCII_NAME = /^[a-z0-9_][a-z0-9_.:\-]*$/;

/**
 * Freezes a normalized permission set and its scope lists: shared by every
 * task that declares it, it must not be changed through any one of them
 * after the grants were checked.
 */
function deepFreeze(permissions: Permissions): Permissions {
  for (const value of Object.values(permissions)) {
    if (Array.isArray(value)) Object.freeze(value);
  }
  return Object.freeze(permissions);
}

function fail(file: string | undefined, message: string): never {
  throw new TaskFileError(message, { file });
}

/**
 * What tasks of one file often declare with one object (`const permissions =
 * {...}` given to every task), normalized once per object: the tasks then
 * share the normalized value. The first task that declares an invalid one
 * is still the one named, since an invalid value is never remembered.
 */
interface SharedDeclarations {
  permissions: Map<unknown, Permissions>;
  /**
   * The one normalized object of each distinct permission set, by its key:
   * tasks that declare equal sets with objects of their own (or none at all)
   * share it too. The pool, the grant check and the run's sandbox lookup key
   * their work by this object, so that 10,000 tasks declaring nothing cost
   * one lookup, not 10,000 permission keys and sandbox entries.
   */
  byKey: Map<string, Permissions>;
}

/** Validates one declaration whose name is already known to be valid. */
function validateTask(
  name: string,
  definition: unknown,
  file: string | undefined,
  shared: SharedDeclarations,
): Task {
  if (definition === null || typeof definition !== "object") {
    fail(file, `Task "${name}" is neither io nor cpu: declare it as io({ run }) or cpu({ run })`);
  }
  const d = definition as Record<PropertyKey, unknown>;
  const kind = d[TASK_KIND] ?? d.kind;
  if (kind !== "io" && kind !== "cpu") {
    fail(file, `Task "${name}" is neither io nor cpu: declare it as io({ run }) or cpu({ run })`);
  }
  const shard = d.items !== undefined || d.map !== undefined
    ? validateShard(name, kind as TaskKind, d, file)
    : undefined;
  if (shard === undefined && typeof d.run !== "function") {
    fail(file, `Task "${name}" has no run function: give it run(context) { ... }`);
  }
  if (d.description !== undefined && typeof d.description !== "string") {
    fail(file, `Task "${name}" has an invalid 'description': expected a string`);
  }
  const deps = d.deps ?? [];
  const depsProblem = Array.isArray(deps) ? stringListProblem(deps, false) : "it is not a list";
  if (depsProblem !== undefined) {
    fail(file, `Task "${name}" has invalid 'deps': expected a list of task names (${depsProblem})`);
  }
  let permissions: Permissions = {};
  let retries = 0;
  let backoff: Required<BackoffOptions> | undefined;
  let cacheFields: CacheFields | undefined;
  try {
    cacheFields = normalizeCacheFields(name, d);
    const declared = d.permissions;
    // An object, or nothing declared (undefined, null): the same value
    // normalizes to the same set. Only valid values are remembered.
    const reusable = declared === undefined || typeof declared === "object";
    let known = reusable ? shared.permissions.get(declared) : undefined;
    if (known === undefined) {
      const normalized = normalizePermissions(name, declared);
      const key = permissionKey(normalized);
      known = shared.byKey.get(key);
      if (known === undefined) shared.byKey.set(key, known = deepFreeze(normalized));
      if (reusable) shared.permissions.set(declared, known);
    }
    permissions = known;
    retries = normalizeRetries(name, d.retries);
    backoff = normalizeBackoff(name, d.backoff);
  } catch (error) {
    fail(file, (error as Error).message);
  }
  if (d.timeout !== undefined && !isValidLimit(d.timeout)) {
    fail(
      file,
      `Task "${name}" has invalid 'timeout': expected a number of ms above 0 (Infinity for none), got ${
        typeof d.timeout === "string" ? JSON.stringify(d.timeout) : String(d.timeout)
      }`,
    );
  }
  if (d.trusted !== undefined && typeof d.trusted !== "boolean") {
    fail(file, `Task "${name}" has invalid 'trusted': expected true or false`);
  }
  if (d.trusted === true && kind !== "io") {
    fail(
      file,
      `Task "${name}" is a cpu task and cannot be 'trusted': only io tasks may run on the runner's thread`,
    );
  }
  if (
    d.maxHeapMb !== undefined &&
    (typeof d.maxHeapMb !== "number" || !Number.isInteger(d.maxHeapMb) || d.maxHeapMb < 16)
  ) {
    fail(
      file,
      `Task "${name}" has invalid 'maxHeapMb': expected a whole number of MiB, at least 16, got ${
        JSON.stringify(d.maxHeapMb) ?? String(d.maxHeapMb)
      }`,
    );
  }
  if (d.isolation !== undefined && d.isolation !== "process" && d.isolation !== "worker") {
    fail(
      file,
      `Task "${name}" has invalid 'isolation': expected "process" or "worker", got ${
        JSON.stringify(d.isolation) ?? String(d.isolation)
      }`,
    );
  }
  // Built field by field rather than with spreads: defineTasks validates
  // every task again in each sandbox that imports the task file, and
  // spreading conditional objects costs several times as much over 10,000
  // tasks (bench/_sandbox.ts).
  const task: {
    -readonly [K in keyof Task]: Task[K];
  } = {
    name,
    kind: kind as TaskKind,
    description: (d.description as string | undefined) ?? "",
    deps: distinct(deps as string[]),
    permissions,
    run: shard === undefined
      ? d.run as (context: TaskContext) => unknown
      : (context: TaskContext) => mapAll(shard, context),
  };
  if (shard !== undefined) task.shard = shard;
  if (d.timeout !== undefined) task.timeout = d.timeout as number;
  if (retries !== 0) {
    task.retries = retries;
    task.backoff = backoff;
  }
  if (d.trusted === true) task.trusted = true;
  if (d.maxHeapMb !== undefined) task.maxHeapMb = d.maxHeapMb as number;
  if (d.isolation !== undefined) task.isolation = d.isolation as "process" | "worker";
  if (cacheFields !== undefined) Object.assign(task, cacheFields);
  if (typeof d.command === "string") task.command = d.command;
  if (d.service === true) task.service = true;
  // Frozen, as its type says: a trusted task runs on the runner's thread
  // with the task set in reach, and must not widen a later task's sandbox
  // (its permissions, `trusted`, `isolation`) after the grants were checked.
  return Object.freeze(task);
}

function validateShard(
  name: string,
  kind: TaskKind,
  d: Record<PropertyKey, unknown>,
  file: string | undefined,
): TaskShard {
  if (kind !== "cpu") {
    fail(
      file,
      `Task "${name}" is an io task with 'items': only cpu tasks can be sharded, use cpu()`,
    );
  }
  if (d.run !== undefined) {
    fail(
      file,
      `Task "${name}" has both 'run' and 'items': give either run(context) or items with map`,
    );
  }
  if (typeof d.map !== "function") {
    fail(file, `Task "${name}" has 'items' but no map function: give it map(item, index) { ... }`);
  }
  const items = d.items;
  const listLike = typeof items === "object" && items !== null &&
    (Symbol.iterator in items || typeof (items as ArrayLike<unknown>).length === "number");
  if (typeof items !== "function" && !listLike) {
    fail(
      file,
      `Task "${name}" has invalid 'items': expected an array, a typed array, an iterable or a function returning one`,
    );
  }
  if (d.reduce !== undefined && typeof d.reduce !== "function") {
    fail(
      file,
      `Task "${name}" has an invalid 'reduce': expected a function (a, b) => a combined with b`,
    );
  }
  const size = d.chunkSize;
  if (size !== undefined && (!Number.isSafeInteger(size) || (size as number) < 1)) {
    fail(
      file,
      `Task "${name}" has an invalid 'chunkSize': expected a positive integer, got ${String(size)}`,
    );
  }
  // Frozen with its task: a body that reaches the task set must not swap
  // another task's `map` or `items` for its own.
  return Object.freeze({
    items: items as TaskShard["items"],
    map: d.map as TaskShard["map"],
    reduce: d.reduce as TaskShard["reduce"],
    initial: d.initial,
    hasInitial: "initial" in d,
    chunkSize: size as number | undefined,
  });
}

/** A sharded task's work in one go, for a cpu lane that cannot run chunks. */
async function mapAll(shard: TaskShard, context: TaskContext): Promise<unknown> {
  const source = typeof shard.items === "function" ? await shard.items(context) : shard.items;
  const results = Array.from(source as ShardItems<unknown>, (item, i) => shard.map(item, i));
  const { reduce } = shard;
  if (reduce === undefined) return results;
  if (results.length === 0) return shard.initial;
  let acc = shard.hasInitial ? reduce(shard.initial, results[0]) : results[0];
  for (let i = 1; i < results.length; i++) acc = reduce(acc, results[i]);
  return acc;
}

/**
 * Names are typed on command lines and read in reports: two that differ only
 * in case, width or Unicode normalization ("café" typed two ways) would be
 * told apart by spool but not by people, so they are rejected.
 *
 * Two different names can share a key only if one of them is not its own key,
 * and a lowercase ASCII name is its own key: so only the other names are
 * looked at, each against every name and against each other. When one may
 * clash, every name is checked in declaration order, as the message names
 * the first pair.
 *
 * @param unusual The names that are not lowercase ASCII, in declaration order.
 * @param all Every task, by name.
 * @param file The task file, for the message.
 */
function assertDistinctNames(
  unusual: readonly string[],
  all: ReadonlyMap<string, unknown>,
  file: string | undefined,
): void {
  const keys = new Set<string>();
  for (let i = 0; i < unusual.length; i++) {
    const name = unusual[i];
    const key = nameKey(name);
    if (key === name) continue;
    if (all.has(key) || keys.has(key)) return assertAllDistinct([...all.keys()], file);
    keys.add(key);
  }
}

function nameKey(name: string): string {
  return name.normalize("NFKC").toLowerCase();
}

function assertAllDistinct(names: readonly string[], file: string | undefined): void {
  const seen = new Map<string, string>();
  for (const name of names) {
    const key = nameKey(name);
    const other = seen.get(key);
    if (other === undefined) {
      seen.set(key, name);
      continue;
    }
    const how = other.normalize("NFC") === name.normalize("NFC")
      ? `are the same text in different Unicode normalization forms (${codePoints(other)} and ${
        codePoints(name)
      })`
      : "differ only in case, width or Unicode normalization";
    throw new TaskFileError(
      `Tasks "${other}" and "${name}" ${how}: rename one of them so that people can tell them apart`,
      { file },
    );
  }
}

/** A name in quotes, with control and invisible characters escaped so the message shows them. */
function quoteName(name: string): string {
  return JSON.stringify(name).replace(
    /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu,
    (c) => `\\u${c.codePointAt(0)!.toString(16).padStart(4, "0")}`,
  );
}

function codePoints(text: string): string {
  return [...text].map((c) => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`)
    .join(" ");
}

/** Every task set defined in this realm, so a worker can find one that was not exported. */
function register(set: TaskSet): void {
  const g = globalThis as unknown as Record<symbol, TaskSet[] | undefined>;
  (g[REGISTRY] ??= []).push(set);
}

/** The URL of the module that called defineTasks, read off the stack. */
function callerModule(): string | undefined {
  const stack = new Error().stack ?? "";
  const here = import.meta.url;
  for (const line of stack.split("\n").slice(1)) {
    const match = line.match(/((?:file|https?|data|blob):[^\s()]+?):\d+:\d+\)?\s*$/);
    if (match === null) continue;
    const url = match[1];
    if (url === here) continue;
    return url;
  }
  return undefined;
}
