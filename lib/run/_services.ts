/**
 * The services of a run: tasks made with `service()` stay up after their
 * body returns (once ready) while any task that depends on them runs, and
 * are stopped, process tree and all, when the last dependant ends or the run
 * ends. A service that exits on its own fails its running dependants with its
 * exit code and output tail.
 *
 * @module
 */

import type { Task } from "../declare/define.ts";
import { type ServiceHandle, serviceHandle } from "../commands/_service_handle.ts";

interface Running {
  handle: ServiceHandle;
  /** Dependants that have not ended yet. */
  waiting: Set<string>;
  stopped: boolean;
}

/** The services of one run. */
export class Services {
  #dependants: (name: string) => readonly string[];
  #running = new Map<string, Running>();
  /** Per dependant of a service: aborted when one of its services goes down. */
  #down = new Map<string, AbortController>();
  #isService: (name: string) => boolean;

  /**
   * Creates the services of a run.
   *
   * @param tasks The run's tasks.
   * @param dependants The names of a task's dependants in this run.
   */
  constructor(tasks: readonly Task[], dependants: (name: string) => readonly string[]) {
    const services = new Set(tasks.filter((task) => task.service === true).map((t) => t.name));
    this.#isService = (name) => services.has(name);
    this.#dependants = dependants;
  }

  /**
   * The signal an attempt of `task` follows: the run's, and for a dependant of
   * a service also its services' going down.
   *
   * @param task The task.
   * @param run The run's signal.
   * @returns The signal.
   */
  signalFor(task: Task, run: AbortSignal): AbortSignal {
    if (!task.deps.some(this.#isService)) return run;
    let down = this.#down.get(task.name);
    if (down === undefined) this.#down.set(task.name, down = new AbortController());
    return AbortSignal.any([run, down.signal]);
  }

  /**
   * Takes a service task's result: holds its running process and gives back
   * what dependants see.
   *
   * @param name The task.
   * @param value Its body's result.
   * @returns The result for dependants and the report.
   */
  adopt(name: string, value: unknown): unknown {
    const handle = serviceHandle(value);
    if (handle === undefined) return value;
    const running: Running = { handle, waiting: new Set(this.#dependants(name)), stopped: false };
    this.#running.set(name, running);
    handle.exited.then((error) => {
      if (running.stopped || error === undefined) return;
      running.stopped = true;
      for (const dependant of running.waiting) {
        let down = this.#down.get(dependant);
        if (down === undefined) this.#down.set(dependant, down = new AbortController());
        down.abort(error);
      }
    });
    if (running.waiting.size === 0) this.#stop(running);
    return handle.info;
  }

  /**
   * A task ended (ran, failed or was skipped): a service none waits for any
   * more stops.
   *
   * @param name The task.
   */
  ended(name: string): void {
    for (const running of this.#running.values()) {
      if (running.waiting.delete(name) && running.waiting.size === 0) this.#stop(running);
    }
  }

  /**
   * Why a dependant cannot run: a service it depends on went down.
   *
   * @param name The dependant.
   * @returns The service's exit error, when it went down.
   */
  downReason(name: string): string | undefined {
    const down = this.#down.get(name)?.signal;
    return down?.aborted ? (down.reason as Error).message : undefined;
  }

  /** Stops every service still up, and waits for their ends. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.#running.values()].map((running) => this.#stop(running)));
  }

  #stop(running: Running): Promise<void> {
    running.stopped = true;
    return running.handle.stop();
  }
}
