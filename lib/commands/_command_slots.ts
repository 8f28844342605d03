/**
 * How many `$` commands of one task the runner runs at once. Every command
 * is a `deno` process the runner starts on the task's behalf, and a body
 * with no permissions at all may call `$` (dax's builtins need none): without
 * a bound, `Promise.all` over ten thousand `` $`echo` `` would start ten
 * thousand processes in the runner and exhaust the machine, not the task's
 * own sandbox. A task's commands beyond {@linkcode COMMANDS_AT_ONCE} wait
 * their turn, and past {@linkcode COMMANDS_WAITING} waiting a command fails.
 *
 * @module
 */

import { Semaphore } from "../sync/semaphore.ts";

/** How many commands of one task run at once; the rest wait, first come first served. */
export const COMMANDS_AT_ONCE = 8;

/** How many commands of one task may wait for a turn; one more fails. */
export const COMMANDS_WAITING = 1_000;

/**
 * The command slots of one task run (one job: a retry gets its own), and the
 * signal its commands run under: the task's, and the end of the job, so that
 * a command the body did not await stops when its task ends instead of
 * outliving the task and the run.
 */
export class CommandSlots {
  #slots = new Semaphore(COMMANDS_AT_ONCE);
  #ended = new AbortController();
  /** Aborts when the task's signal does or the job has ended. */
  readonly signal: AbortSignal;

  /**
   * Makes the slots of one job.
   *
   * @param signal The task's signal, when it has one.
   */
  constructor(signal?: AbortSignal) {
    this.signal = signal === undefined
      ? this.#ended.signal
      : AbortSignal.any([signal, this.#ended.signal]);
  }

  /** The job has ended: its commands still running are stopped, waiting ones never start. */
  end(): void {
    this.#ended.abort(new Error("The task has ended"));
  }

  /**
   * Runs `fn` once one of the task's slots is free.
   *
   * @param task The task's name, for the error.
   * @param command The command text, for the error.
   * @param fn Starts the command under {@linkcode CommandSlots.signal} and settles when it has ended.
   * @returns What `fn` returns.
   * @throws {Error} When the task already has {@linkcode COMMANDS_WAITING} commands waiting.
   */
  async run<T>(task: string, command: string, fn: () => Promise<T>): Promise<T> {
    if (this.#slots.waiting >= COMMANDS_WAITING) {
      throw new Error(
        `Cannot run command "${command}" in task "${task}": it already has ${COMMANDS_WAITING} commands waiting and ${COMMANDS_AT_ONCE} running; await some before starting more`,
      );
    }
    using _slot = await this.#slots.acquire({ signal: this.signal });
    return await fn();
  }
}
