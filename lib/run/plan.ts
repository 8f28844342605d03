/**
 * The plan of a run: which tasks would run (the targets and what they depend
 * on), in which lane, in what order, with which permissions. `run()` starts
 * from it, and `spool run --dry-run` prints it, as text or JSON, and runs
 * nothing.
 *
 * @module
 */

import type { TaskSet } from "../declare/define.ts";
import type { MissingGrant } from "../errors.ts";
import {
  findMissingGrants,
  flagFor,
  PERMISSION_NAMES,
  type PermissionName,
  type Permissions,
} from "../declare/permissions.ts";
import type { PlannedTask, RunPlan } from "../report/reporter.ts";
import { palette } from "../report/_ansi.ts";
import { safeLine } from "../report/_sanitize.ts";
import { DEFAULT_CONCURRENCY } from "./scheduler.ts";
import { hostGrants } from "./_sandbox_checks.ts";
import { shellGrants } from "../commands/sh.ts";

/** Options for {@linkcode planRun}. */
export interface PlanOptions {
  /** Tasks to run, with what they depend on; every task when empty. */
  targets?: readonly string[];
  /** Worker pool size; default `navigator.hardwareConcurrency`. */
  workers?: number;
  /** io concurrency limit; default {@linkcode DEFAULT_CONCURRENCY}. */
  concurrency?: number;
}

/**
 * Plans a run without running anything.
 *
 * @param tasks The task set.
 * @param options Targets and lane sizes.
 * @returns The tasks in dependency order with their lane, step and
 * permissions, and the lane sizes.
 * @throws {UsageError} When a target does not exist.
 * @example What would `build` run?
 * ```ts
 * import { cpu, defineTasks, io, planRun } from "@spool/spool";
 *
 * const tasks = defineTasks({
 *   fetch: io({ permissions: { net: ["example.com"] }, run: () => "data" }),
 *   build: cpu({ deps: ["fetch"], run: () => 1 }),
 * });
 * const plan = planRun(tasks, { targets: ["build"], workers: 2 });
 * console.log(plan.tasks.map((task) => `${task.step} ${task.kind} ${task.name}`));
 * // ["1 io fetch", "2 cpu build"]
 * ```
 */
export function planRun(tasks: TaskSet, options: PlanOptions = {}): RunPlan {
  const steps = new Map<string, number>();
  const planned: PlannedTask[] = [];
  for (const name of tasks.graph.select(options.targets ?? [])) {
    const { kind, deps, permissions, trusted, command } = tasks.tasks.get(name)!;
    // Dependency order: every dependency already has its step.
    let step = 1;
    for (const dep of deps) step = Math.max(step, (steps.get(dep) ?? 0) + 1);
    steps.set(name, step);
    planned.push({
      name,
      kind,
      deps,
      permissions,
      step,
      ...(trusted ? { trusted } : {}),
      ...(command === undefined ? {} : { command }),
    });
  }
  const hasCpu = planned.some((task) => task.kind === "cpu");
  return {
    tasks: planned,
    workers: hasCpu ? options.workers ?? navigator.hardwareConcurrency : 0,
    concurrency: options.concurrency ?? DEFAULT_CONCURRENCY,
  };
}

/**
 * The permission flags the process needs to run a plan: every task's
 * declarations merged (io tasks run in the process; cpu tasks' workers
 * cannot get more than the process holds).
 *
 * @param plan A run plan.
 * @returns Flags such as `--allow-net=example.com`, in flag order.
 */
export function planFlags(plan: RunPlan): string[] {
  // Sandboxes are deno processes that report back over loopback.
  const sandboxed = plan.tasks.some((task) => !task.trusted);
  // Commands run in deno shell processes.
  const shells = plan.tasks.some((task) => task.command !== undefined);
  return PERMISSION_NAMES.flatMap((name) => {
    const declared = plan.tasks.map((task) => task.permissions[name]);
    if (sandboxed && name === "net") declared.push(["127.0.0.1"]);
    if (sandboxed && name === "run") declared.push(["deno"]);
    if (shells && name === "run") declared.push(true);
    const merged = mergeScopes(declared);
    return merged === undefined ? [] : [flagFor(name, merged)];
  });
}

function mergeScopes(
  values: (Permissions[PermissionName])[],
): true | readonly string[] | undefined {
  const scopes = new Set<string>();
  for (const value of values) {
    if (value === true) return true;
    if (Array.isArray(value)) { for (const scope of value) scopes.add(scope); }
  }
  return scopes.size === 0 ? undefined : [...scopes];
}

/** A plan as `spool run --dry-run --report json` prints it. */
export interface PlanJson {
  /** Always `true`: nothing ran. */
  dryRun: true;
  /** Size of the worker pool (0 when no cpu task is planned). */
  workers: number;
  /** The io lane's concurrency limit. */
  concurrency: number;
  /** The tasks, in dependency order. */
  tasks: (PlannedTask & { flags: string[] })[];
  /** What the process needs, from {@linkcode planFlags}. */
  flags: string[];
  /** Declared permissions this process does not hold: a real run would stop. */
  missing: MissingGrant[];
}

/**
 * The plan as data, with each task's permission flags and the grants this
 * process lacks (querying them never prompts).
 *
 * @param plan A run plan.
 * @returns The JSON shape of `--dry-run --report json`.
 */
export function planToJson(plan: RunPlan): PlanJson {
  return {
    dryRun: true,
    workers: plan.workers,
    concurrency: plan.concurrency,
    tasks: plan.tasks.map((task) => ({ ...task, flags: taskFlags(task.permissions) })),
    flags: planFlags(plan),
    missing: [
      ...findMissingGrants(plan.tasks),
      ...(plan.tasks.some((task) => !task.trusted)
        ? hostGrants(plan.tasks.find((task) => !task.trusted)!.name)
        : []),
      ...shellGrantsOf(plan.tasks),
    ],
  };
}

function taskFlags(permissions: Permissions): string[] {
  return PERMISSION_NAMES.flatMap((name) => {
    const value = permissions[name];
    return value === undefined || value === false ? [] : [flagFor(name, value)];
  });
}

/**
 * The plan for people: one row per task with its step, lane, permissions
 * and what it waits for, then what the process needs. Declared paths and
 * hosts are shown with any control characters escaped.
 *
 * @param plan A run plan.
 * @param options `color` for escape codes; default `false`.
 * @returns The text, ending with a newline.
 */
export function formatPlan(plan: RunPlan, options: { color?: boolean } = {}): string {
  const c = palette(options.color ?? false);
  const json = planToJson(plan);
  const kinds = { io: 0, cpu: 0 };
  for (const task of plan.tasks) kinds[task.kind]++;
  const count = plan.tasks.length;
  const lanes = [
    kinds.io > 0 ? `${kinds.io} io (concurrency ${plan.concurrency})` : "",
    kinds.cpu > 0 ? `${kinds.cpu} cpu (${plan.workers} ${plural(plan.workers, "worker")})` : "",
  ].filter((part) => part !== "").join(", ");
  const rows = [
    ["STEP", "LANE", "TASK", "PERMISSIONS", "AFTER"],
    ...json.tasks.map((task) => [
      String(task.step),
      task.command !== undefined ? "io (sh)" : task.trusted ? "io (trusted)" : task.kind,
      task.name,
      task.flags.length === 0 ? "-" : safeLine(task.flags.join(" ")),
      task.deps.length === 0 ? "-" : task.deps.join(", "),
    ]),
  ];
  // With the cache on, each task says whether it would run, and why.
  if (json.tasks.some((task) => task.why !== undefined)) {
    rows[0].push("WHY");
    json.tasks.forEach((task, i) => rows[i + 1].push(safeLine(task.why ?? "-")));
  }
  const lines = [
    c.bold(`Plan: ${count} ${plural(count, "task")}: ${lanes}`),
    "",
    ...table(rows).map((line, i) => i === 0 ? c.dim(line) : line),
    "",
    "Each task starts once every task it comes after is done; tasks of one step can run at once.",
    `The process needs: ${
      json.flags.length === 0 ? "no permissions" : safeLine(json.flags.join(" "))
    }`,
  ];
  for (const grant of json.missing) {
    lines.push(
      c.yellow(
        `Missing: task "${grant.task}" needs ${safeLine(grant.flag)}; a real run would stop`,
      ),
    );
  }
  lines.push(c.dim("Dry run: nothing ran."));
  return lines.join("\n") + "\n";
}

function plural(n: number, noun: string): string {
  return n === 1 ? noun : `${noun}s`;
}

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  return rows.map((row) =>
    row.map((cell, i) => i === row.length - 1 ? cell : cell.padEnd(widths[i])).join("  ")
      .trimEnd()
  );
}

/**
 * What the runner needs to start and stop the shell processes of command tasks.
 *
 * @param tasks The planned tasks.
 * @returns The missing grant, or none.
 */
export function shellGrantsOf(
  tasks: readonly { name: string; command?: string }[],
): MissingGrant[] {
  const shell = tasks.find((task) => task.command !== undefined);
  return shell === undefined ? [] : shellGrants(shell.name);
}
