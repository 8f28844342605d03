/**
 * The exit codes of the `spool` command, in one place for the parser and the
 * run command.
 *
 * @module
 */

/** Exit codes of the `spool` command. */
export const ExitCode = {
  /** Every task passed. */
  Ok: 0,
  /** A task failed. */
  TaskFailed: 1,
  /** Bad usage or a broken task file; nothing ran. */
  Usage: 2,
  /** Interrupted by SIGINT. */
  Interrupted: 130,
  /** Terminated by SIGTERM. */
  Terminated: 143,
} as const;
