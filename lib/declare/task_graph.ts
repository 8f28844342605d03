/**
 * The task dependency graph: validation (unknown dependencies, cycles with
 * every task on them named), selection of targets with exactly what they
 * depend on, a dependency order, and DOT / Mermaid renderings.
 *
 * Everything here is iterative so that very deep graphs cannot overflow the
 * stack.
 *
 * @module
 */

import { TaskFileError, UsageError } from "../errors.ts";

/** The part of a task the graph needs. */
export interface GraphNode {
  /** The task's name. */
  readonly name: string;
  /** The lane, shown in renderings. */
  readonly kind: string;
  /** The names of the tasks it depends on. */
  readonly deps: readonly string[];
}

/** A validated, acyclic dependency graph. */
export class TaskGraph {
  #nodes: ReadonlyMap<string, GraphNode>;
  #order: readonly string[] | undefined;
  #dependants: Map<string, string[]> | undefined;
  #edges: boolean;

  /**
   * Validates the graph: every dependency exists, none is the task itself,
   * and there is no cycle.
   *
   * @param nodes The tasks by name.
   * @throws {TaskFileError} On a dependency that does not exist, a task that
   * depends on itself, or a cycle; the message names every task on it.
   */
  constructor(nodes: ReadonlyMap<string, GraphNode>) {
    this.#nodes = nodes;
    // Every sandbox host imports the task file again and builds this graph,
    // then runs one task: the order and the dependants are computed on first
    // use, and the common graph, whose tasks only depend on tasks declared
    // before them, is found acyclic in one pass without them.
    let edges = false;
    let forward = true;
    // The names declared before the current node, from the first node with deps on.
    let before: Set<string> | undefined;
    let index = 0;
    for (const node of nodes.values()) {
      const deps = node.deps;
      if (deps.length > 0 && before === undefined) before = firstNames(nodes, index);
      for (let i = 0; i < deps.length; i++) {
        const dep = deps[i];
        if (!nodes.has(dep)) {
          const hint = closest(dep, [...nodes.keys()]);
          throw new TaskFileError(
            `Task "${node.name}" depends on unknown task "${dep}": ${
              hint === undefined
                ? "declare it or remove it from deps"
                : `did you mean "${hint}"? Declare it or fix the name in deps`
            }`,
          );
        }
        if (dep === node.name) {
          throw new TaskFileError(
            `Task "${node.name}" depends on itself: remove "${dep}" from its deps`,
          );
        }
        edges = true;
        if (forward && !before!.has(dep)) forward = false;
      }
      if (forward && before !== undefined) before.add(node.name);
      index++;
    }
    this.#edges = edges;
    // Kahn's algorithm finds the cycle, if any, and names it.
    if (!forward) this.#order = topologicalOrder(nodes, this.#dependantsMap());
  }

  /** Every task in a dependency order (dependencies first). */
  get order(): readonly string[] {
    return this.#order ??= this.#edges
      ? topologicalOrder(this.#nodes, this.#dependantsMap())
      : [...this.#nodes.keys()];
  }

  /**
   * The names of the tasks that depend directly on `name`.
   *
   * @param name A task name.
   * @returns Its direct dependants, in declaration order.
   */
  dependantsOf(name: string): readonly string[] {
    return this.#dependantsMap().get(name) ?? [];
  }

  #dependantsMap(): Map<string, string[]> {
    if (this.#dependants !== undefined) return this.#dependants;
    const dependants = new Map<string, string[]>();
    for (const node of this.#nodes.values()) {
      const deps = node.deps;
      for (let i = 0; i < deps.length; i++) {
        let list = dependants.get(deps[i]);
        if (list === undefined) dependants.set(deps[i], list = []);
        list.push(node.name);
      }
    }
    return this.#dependants = dependants;
  }

  /**
   * The targets and everything they depend on, each once, in dependency
   * order. No targets selects every task.
   *
   * @param targets Task names to run.
   * @returns The names to run, dependencies first.
   * @throws {UsageError} When a target does not exist.
   */
  select(targets: readonly string[] = []): string[] {
    const order = this.order;
    if (targets.length === 0) return [...order];
    const wanted = new Set<string>();
    const stack: string[] = [];
    for (const target of targets) {
      if (!this.#nodes.has(target)) {
        const hint = closest(target, [...this.#nodes.keys()]);
        throw new UsageError(
          `Unknown task "${target}": ${
            hint === undefined ? "" : `did you mean "${hint}"? `
          }Run 'spool list' to see the tasks`,
        );
      }
      stack.push(target);
    }
    while (stack.length > 0) {
      const name = stack.pop()!;
      if (wanted.has(name)) continue;
      wanted.add(name);
      for (const dep of this.#nodes.get(name)!.deps) stack.push(dep);
    }
    return order.filter((name) => wanted.has(name));
  }

  /**
   * The graph in Graphviz DOT, edges pointing from a dependency to its
   * dependant.
   *
   * @param names The tasks to include; all by default.
   * @returns DOT source.
   */
  toDot(names: readonly string[] = this.order): string {
    const include = new Set(names);
    const lines = ["digraph spool {", "  rankdir=LR;"];
    for (const name of names) {
      const node = this.#nodes.get(name)!;
      const shape = node.kind === "cpu" ? "box" : "ellipse";
      lines.push(`  ${quote(name)} [label=${quote(`${name} (${node.kind})`)}, shape=${shape}];`);
    }
    for (const name of names) {
      for (const dep of this.#nodes.get(name)!.deps) {
        if (include.has(dep)) lines.push(`  ${quote(dep)} -> ${quote(name)};`);
      }
    }
    lines.push("}");
    return lines.join("\n") + "\n";
  }

  /**
   * The graph as a Mermaid flowchart, edges from a dependency to its
   * dependant.
   *
   * @param names The tasks to include; all by default.
   * @returns Mermaid source.
   */
  toMermaid(names: readonly string[] = this.order): string {
    const include = new Set(names);
    const id = new Map(names.map((name, i) => [name, `t${i}`]));
    const lines = ["flowchart LR"];
    for (const name of names) {
      const node = this.#nodes.get(name)!;
      const label = `${name} (${node.kind})`.replaceAll('"', "#quot;");
      lines.push(
        node.kind === "cpu" ? `  ${id.get(name)}["${label}"]` : `  ${id.get(name)}(["${label}"])`,
      );
    }
    for (const name of names) {
      for (const dep of this.#nodes.get(name)!.deps) {
        if (include.has(dep)) lines.push(`  ${id.get(dep)} --> ${id.get(name)}`);
      }
    }
    return lines.join("\n") + "\n";
  }
}

function firstNames(nodes: ReadonlyMap<string, GraphNode>, count: number): Set<string> {
  const names = new Set<string>();
  let taken = 0;
  for (const node of nodes.values()) {
    if (taken++ === count) break;
    names.add(node.name);
  }
  return names;
}

function quote(text: string): string {
  return `"${text.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}

/**
 * Kahn's algorithm over declaration order, so that the order is stable. When
 * tasks remain, they lie on or behind a cycle; find one and name it.
 */
function topologicalOrder(
  nodes: ReadonlyMap<string, GraphNode>,
  dependants: ReadonlyMap<string, readonly string[]>,
): string[] {
  const pending = new Map<string, number>();
  for (const node of nodes.values()) pending.set(node.name, node.deps.length);
  const order: string[] = [];
  for (const [name, count] of pending) if (count === 0) order.push(name);
  for (let i = 0; i < order.length; i++) {
    const next = dependants.get(order[i]);
    if (next === undefined) continue;
    for (let j = 0; j < next.length; j++) {
      const left = pending.get(next[j])! - 1;
      pending.set(next[j], left);
      if (left === 0) order.push(next[j]);
    }
  }
  if (order.length < nodes.size) {
    const cycle = findCycle(nodes, new Set(order));
    throw new TaskFileError(
      `Tasks form a cycle (each depends on the next): ${
        [...cycle, cycle[0]].map((n) => `"${n}"`).join(" -> ")
      }. Remove one of these dependencies to break it`,
    );
  }
  return order;
}

/** A cycle among the tasks Kahn's algorithm could not order, as a path. */
function findCycle(nodes: ReadonlyMap<string, GraphNode>, ordered: Set<string>): string[] {
  // Every unordered task has an unordered dependency, so walking unordered
  // dependencies must revisit a task; the walk from that point is the cycle.
  const start = [...nodes.keys()].find((name) => !ordered.has(name))!;
  const seenAt = new Map<string, number>();
  const path: string[] = [];
  let current = start;
  while (!seenAt.has(current)) {
    seenAt.set(current, path.length);
    path.push(current);
    current = nodes.get(current)!.deps.find((dep) => !ordered.has(dep))!;
  }
  // The walk goes from dependant to dependency; present it in dependency
  // direction, "a -> b" meaning a depends on b.
  return path.slice(seenAt.get(current)!);
}

/** The closest name by edit distance, when close enough to be a likely typo. */
function closest(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const candidate of candidates) {
    const d = distance(name, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function distance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 3) return Infinity;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(
        prev[j] + 1,
        row[j - 1] + 1,
        prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = row;
  }
  return prev[b.length];
}
