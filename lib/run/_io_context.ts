/**
 * The context of an io task's body on the runner's thread. Its signal and
 * its `$` are made if the body reads them: most bodies never do, and 10,000
 * attempts may be alive at once. They are getters on the prototype, not on
 * each context (an object literal's getters cost two closures per context
 * and a slower object: measured, they undid the saving).
 *
 * @module
 */

import type { TaskContext } from "../declare/define.ts";
import type { TaskShell } from "../commands/task_shell.ts";
import type { Deadline } from "./_deadline.ts";

/** Makes a task's `$`, bound to its signal. */
export type ShellMaker = (signal: AbortSignal) => TaskShell;

/** An io task attempt's context: `signal` and `$` made on first use. */
export class IoContext implements TaskContext {
  readonly name: string;
  readonly deps: Record<string, unknown>;
  readonly args: readonly string[];
  #deadline: Deadline;
  #makeShell: ShellMaker;
  #shell: TaskShell | undefined;

  /**
   * @param name The task's name.
   * @param deps Its dependencies' results.
   * @param args The run's arguments.
   * @param deadline The attempt's deadline, which makes its signal.
   * @param makeShell Makes its `$`.
   */
  constructor(
    name: string,
    deps: Record<string, unknown>,
    args: readonly string[],
    deadline: Deadline,
    makeShell: ShellMaker,
  ) {
    this.name = name;
    this.deps = deps;
    this.args = args;
    this.#deadline = deadline;
    this.#makeShell = makeShell;
  }

  /** Aborted when the run stops or the attempt times out. */
  get signal(): AbortSignal {
    return this.#deadline.signal;
  }

  /** Runs commands bound to this task. */
  get $(): TaskShell {
    return this.#shell ??= this.#makeShell(this.signal);
  }
}
