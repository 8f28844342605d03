/**
 * Errors a user can cause. Each carries a stable `code` and the process exit
 * code the CLI maps it to, so that embedding scripts can catch them by class
 * and the CLI never has to guess.
 *
 * @module
 */

/** Base class of every error spool raises for a condition the user can fix. */
export class SpoolError extends Error {
  /** Stable machine-readable code, such as `"TASK_FILE"`. */
  readonly code: string;
  /** The exit code the CLI uses when this error ends a run. */
  readonly exitCode: number;

  /**
   * Creates an error with a code and an exit code.
   *
   * @param message What went wrong and the way out.
   * @param code Stable machine-readable code.
   * @param exitCode Exit code for the CLI.
   * @param options Standard error options (`cause`).
   */
  constructor(
    message: string,
    code: string,
    exitCode: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "SpoolError";
    this.code = code;
    this.exitCode = exitCode;
  }
}

/**
 * A task file that cannot be used: it does not load, has no task set as its
 * default export, or declares tasks that are invalid (an unknown dependency,
 * a cycle, a bad permission). Nothing runs. Exit code 2.
 */
export class TaskFileError extends SpoolError {
  /** The task file, when known. */
  readonly file: string | undefined;

  /**
   * Creates a task-file error; the message is prefixed with the file.
   *
   * @param message What is wrong and how to fix it.
   * @param options `file` names the task file; `cause` the underlying error.
   */
  constructor(message: string, options: { file?: string; cause?: unknown } = {}) {
    super(
      options.file === undefined ? message : `${displayFile(options.file)}: ${message}`,
      "TASK_FILE",
      2,
      { cause: options.cause },
    );
    this.name = "TaskFileError";
    this.file = options.file;
  }
}

/** A bad command line: an unknown task, a bad flag value. Exit code 2. */
export class UsageError extends SpoolError {
  /**
   * Creates a usage error.
   *
   * @param message What is wrong and how to fix it.
   */
  constructor(message: string) {
    super(message, "USAGE", 2);
    this.name = "UsageError";
  }
}

/** One permission a task declared but the process was not granted. */
export interface MissingGrant {
  /** The task that declared the permission. */
  task: string;
  /** The permission name, such as `"read"`. */
  permission: string;
  /** The declared value: `true` or the list of scopes. */
  value: true | readonly string[];
  /**
   * The exact flag that grants it, such as `--allow-read=./dist`, unquoted;
   * messages show it quoted for a shell where it needs quotes.
   */
  flag: string;
  /** Why spool needs it, when the task did not declare it itself. */
  reason?: string;
}

/**
 * Declared permissions the process does not hold. Raised before any task
 * runs, listing every missing grant with the flag to add. Exit code 2.
 */
export class PermissionError extends SpoolError {
  /** Every missing grant, in task order. */
  readonly missing: readonly MissingGrant[];

  /**
   * Creates the error from every missing grant.
   *
   * @param missing The grants that are missing; must not be empty.
   */
  constructor(missing: readonly MissingGrant[]) {
    const lines = missing.map((m) =>
      `Cannot run task "${m.task}": it needs ${describeGrant(m)}${
        m.reason === undefined ? "" : ` (${m.reason})`
      }, run again with ${shellFlag(m.flag)}`
    );
    const flags = [...new Set(missing.map((m) => shellFlag(m.flag)))].join(" ");
    super(
      lines.length === 1 ? lines[0] : `${lines.join("\n")}\nAdd these flags: ${flags}`,
      "PERMISSION",
      2,
    );
    this.name = "PermissionError";
    this.missing = missing;
  }
}

/**
 * A flag as it must be typed in a POSIX shell: `--allow-read=./dist` stays as
 * it is, `--allow-read=/tmp/my dir` becomes `--allow-read='/tmp/my dir'`, so
 * that pasting it grants exactly the path named.
 *
 * @param flag A flag, `--name` or `--name=value`.
 * @returns The flag with its value single-quoted when the shell would split
 * or expand it.
 */
export function shellFlag(flag: string): string {
  const eq = flag.indexOf("=");
  if (eq < 0) return shellWord(flag);
  return flag.slice(0, eq + 1) + shellWord(flag.slice(eq + 1));
}

function shellWord(word: string): string {
  if (/^[\w@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

function describeGrant(m: MissingGrant): string {
  const what = m.permission === "run" ? "run" : m.permission;
  if (m.value === true) return `${what} access`;
  return `${what} access to ${m.value.map((v) => `"${v}"`).join(", ")}`;
}

/** The run was cancelled by a signal (Ctrl-C or SIGTERM) or an `AbortSignal`. */
export class CancelledError extends SpoolError {
  /**
   * Creates a cancellation error.
   *
   * @param message What cancelled the run.
   * @param exitCode 130 for SIGINT, 143 for SIGTERM.
   */
  constructor(message = "Run cancelled", exitCode = 130) {
    super(message, "CANCELLED", exitCode);
    this.name = "CancelledError";
  }
}

/**
 * The NATS server of a `--nats` run or of `spool worker` cannot be used: it
 * cannot be reached, refuses the credentials, or has no JetStream. Nothing
 * runs. Exit code 2.
 */
export class NatsError extends SpoolError {
  /** The server's URL, as given. */
  readonly url: string;

  /**
   * Creates the error; the message names the URL.
   *
   * @param url The server's URL.
   * @param detail What went wrong and the way out.
   * @param options `cause`: the client's error.
   */
  constructor(url: string, detail: string, options?: ErrorOptions) {
    super(`Cannot use the NATS server at "${url}": ${detail}`, "NATS", 2, options);
    this.name = "NatsError";
    this.url = url;
  }
}

/**
 * A task file as people read it: a `file:` URL below the working directory
 * becomes a relative path, anything else is left as it is.
 *
 * @param file A path or URL.
 * @returns The path to show in messages.
 */
export function displayFile(file: string): string {
  if (!file.startsWith("file://")) return file;
  let path = decodeURIComponent(new URL(file).pathname);
  try {
    // Reading the working directory needs read permission, which a worker
    // may not have; the absolute path is fine there.
    const cwd = Deno.cwd();
    if (path.startsWith(cwd + "/")) path = "./" + path.slice(cwd.length + 1);
  } catch {
    // Keep the absolute path.
  }
  return path;
}
