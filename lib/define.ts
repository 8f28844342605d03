/**
 * Task declarations: `io()` and `cpu()` mark a task's lane, `defineTasks()`
 * validates a whole set (names, dependencies, cycles, permissions) the moment
 * the task file is imported, before anything can run.
 *
 * @module
 */

import { TaskFileError } from "./errors.ts";
import { normalizePermissions, type Permissions } from "./permissions.ts";
import { TaskGraph } from "./task_graph.ts";

/** The lane a task runs in: `io` on the event loop, `cpu` in a worker. */
export type TaskKind = "io" | "cpu";

/** What a task body receives. */
export interface TaskContext<Deps = Record<string, unknown>> {
  /** The task's own name. */
  readonly name: string;
  /** Aborted when the run is cancelled or fails fast; pass it on to fetch and friends. */
  readonly signal: AbortSignal;
  /**
   * The results of the tasks this one depends on, keyed by task name. In a
   * cpu task they are structured clones.
   */
  readonly deps: Deps;
}

/** What `io()` and `cpu()` take. */
export interface TaskSpec<Result = unknown, Deps = Record<string, unknown>> {
  /** One line shown by `spool list`. */
  description?: string;
  /** Names of the tasks whose results this task needs; they run first. */
  deps?: readonly string[];
  /** What the task may touch; nothing declared means nothing granted. */
  permissions?: Permissions;
  /** The task body. A cpu body's result must be structured-cloneable. */
  run(context: TaskContext<Deps>): Result | Promise<Result>;
}

/** A task as declared: its spec plus its lane. */
export interface TaskDefinition<Result = unknown, Deps = Record<string, unknown>>
  extends TaskSpec<Result, Deps> {
  /** The lane the task runs in. */
  readonly kind: TaskKind;
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
  /** The body. */
  readonly run: (context: TaskContext) => unknown;
}

const TASK_KIND = Symbol.for("spool.task.kind");
const TASK_SET = Symbol.for("spool.taskset");
const REGISTRY = Symbol.for("spool.registry");

function mark<R, D>(kind: TaskKind, spec: TaskSpec<R, D>): TaskDefinition<R, D> {
  if (spec === null || typeof spec !== "object") {
    throw new TypeError(`Cannot declare an ${kind} task: expected an object with a run function`);
  }
  const definition = { ...spec, kind } as TaskDefinition<R, D>;
  Object.defineProperty(definition, TASK_KIND, { value: kind });
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
 * import { io } from "./mod.ts";
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
): TaskDefinition<Result, Deps> {
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
 * import { cpu } from "./mod.ts";
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
): TaskDefinition<Result, Deps> {
  return mark("cpu", spec);
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
 * import { cpu, defineTasks, io } from "./mod.ts";
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
export function defineTasks(tasks: Record<string, TaskDefinition<unknown, never>>): TaskSet {
  const module = callerModule();
  if (tasks === null || typeof tasks !== "object" || Array.isArray(tasks)) {
    throw new TaskFileError(
      "Cannot define tasks: defineTasks() expects an object of tasks keyed by name",
      { file: module },
    );
  }
  const validated = new Map<string, Task>();
  for (const [name, definition] of Object.entries(tasks)) {
    validated.set(name, validateTask(name, definition, module));
  }
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

const NAME = /^[\p{L}\p{N}_][\p{L}\p{N}_.:\-]*$/u;

function validateTask(name: string, definition: unknown, file: string | undefined): Task {
  const fail = (message: string): never => {
    throw new TaskFileError(message, { file });
  };
  if (!NAME.test(name)) {
    fail(
      `Task name "${name}" is invalid: use letters, digits, '_', '.', ':' or '-', starting with a letter, digit or '_'`,
    );
  }
  if (definition === null || typeof definition !== "object") {
    fail(`Task "${name}" is neither io nor cpu: declare it as io({ run }) or cpu({ run })`);
  }
  const d = definition as Record<PropertyKey, unknown>;
  const kind = d[TASK_KIND] ?? d.kind;
  if (kind !== "io" && kind !== "cpu") {
    fail(`Task "${name}" is neither io nor cpu: declare it as io({ run }) or cpu({ run })`);
  }
  if (typeof d.run !== "function") {
    fail(`Task "${name}" has no run function: give it run(context) { ... }`);
  }
  if (d.description !== undefined && typeof d.description !== "string") {
    fail(`Task "${name}" has an invalid 'description': expected a string`);
  }
  const deps = d.deps ?? [];
  if (!Array.isArray(deps) || deps.some((dep) => typeof dep !== "string")) {
    fail(`Task "${name}" has invalid 'deps': expected a list of task names`);
  }
  let permissions: Permissions = {};
  try {
    permissions = normalizePermissions(name, d.permissions);
  } catch (error) {
    fail((error as Error).message);
  }
  return {
    name,
    kind: kind as TaskKind,
    description: (d.description as string | undefined) ?? "",
    deps: [...new Set(deps as string[])],
    permissions,
    run: d.run as (context: TaskContext) => unknown,
  };
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
