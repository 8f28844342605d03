/**
 * What a service task's body returns once its command is ready: the running
 * process, branded so that the run can keep it up while dependants run and
 * stop it after the last one. Dependants see only its `info`.
 *
 * @module
 */

const SERVICE = Symbol.for("spool.service");

/** A running service, as the run holds it. */
export interface ServiceHandle {
  /** What dependants get as the service task's result. */
  readonly info: unknown;
  /** Stops the process tree (SIGTERM, SIGKILL after the grace) and waits for its end. */
  stop(): Promise<void>;
  /**
   * Settles when the process ends; with an error naming the service, its exit
   * code and its output's last lines when it ended on its own.
   */
  readonly exited: Promise<Error | undefined>;
}

/**
 * Brands a handle.
 *
 * @param handle The running service.
 * @returns The value for the service body to return.
 */
export function serviceValue(handle: ServiceHandle): unknown {
  return { [SERVICE]: handle };
}

/**
 * The handle in a task's result, if it is a running service.
 *
 * @param value A task's result.
 * @returns The handle, or `undefined`.
 */
export function serviceHandle(value: unknown): ServiceHandle | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  return (value as Record<symbol, ServiceHandle | undefined>)[SERVICE];
}
