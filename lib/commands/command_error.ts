/**
 * The error of a command that exited with a non-zero code: what `sh()` tasks
 * and the context's `$` throw. Its message carries the exit code and the
 * last lines of stderr, so a failed task's summary says why.
 *
 * @module
 */

/** A non-zero exit of a command: the exit code and the end of its stderr. */
export class CommandError extends Error {
  /** The exit code. */
  readonly code: number;
  /** The last lines the command wrote to stderr. */
  readonly stderrTail: readonly string[];

  /**
   * Creates the error of a failed command.
   *
   * @param command The command text.
   * @param code Its exit code.
   * @param stderrTail The last lines of its stderr.
   */
  constructor(command: string, code: number, stderrTail: readonly string[]) {
    const tail = stderrTail.length === 0
      ? " (no stderr)"
      : `, last lines of stderr:\n${stderrTail.join("\n")}`;
    super(`Command "${command}" exited with code ${code}${tail}`);
    this.name = "CommandError";
    this.code = code;
    this.stderrTail = stderrTail;
  }
}
