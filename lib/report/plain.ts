/**
 * The plain reporter: one line when a task starts and one when it ends, each
 * line a task prints prefixed by its name, then the summary (slowest tasks,
 * critical path, each failure with its error, the summary line). No cursor
 * movement, so it reads the same in a terminal, a pipe and a CI log, and
 * control characters in what tasks print or throw are shown escaped
 * (`\x1b`), never sent raw.
 *
 * Lines are written in batches, not one `write` each (a system call per
 * line was most of the reporter's cost on a wide fan-out): once per
 * macrotask, when 64 KiB are waiting, at the end of the run, and on
 * process exit.
 *
 * @module
 */

import type { Reporter } from "./reporter.ts";
import { formatMs, type RunReport, type TaskReport } from "./report.ts";
import { palette } from "./_ansi.ts";
import { summaryBlock } from "./_summary.ts";
import { safeLine } from "./_sanitize.ts";

/** Where reporters write: anything with a synchronous `write(text)`. */
export interface TextSink {
  /** Writes text as it is; the reporter adds the newlines. */
  write(text: string): void;
}

/** Options for {@linkcode plainReporter}. */
export interface PlainReporterOptions {
  /** Emit colour escape codes. Default `false`. */
  color?: boolean;
  /**
   * Print only failures and the summary; a task's output is held back and
   * shown only if the task fails. Default `false`.
   */
  quiet?: boolean;
}

/** In quiet mode, the most lines of output kept per task (the last ones). */
const HELD_LINES = 200;
/** Lines waiting to be written are written once they reach this many characters. */
const FLUSH_CHARS = 64 * 1024;

/**
 * The plain reporter. It writes its lines in batches; `runEnd` writes out
 * the last of them, and so does `flush()` (or disposing it) for a caller
 * that writes to the same sink in between or stops before the run ends.
 */
export interface PlainReporter extends Reporter, Disposable {
  /** Writes out the lines not yet written. */
  flush(): void;
}

/**
 * Creates the plain, line-by-line reporter.
 *
 * @param out Where the lines go (the CLI passes stderr).
 * @param options Colour and quiet mode.
 * @returns A reporter for `run()`; its lines reach `out` at the latest when
 * the current macrotask ends, and all of them by the end of `runEnd`.
 * @example Log a run to a string
 * ```ts
 * import { defineTasks, io, plainReporter, run } from "@spool/spool";
 *
 * const tasks = defineTasks({ hello: io({ run: () => console.log("hi") }) });
 * // Every sandbox imports this module again: run only when it is the program.
 * if (import.meta.main) {
 *   let log = "";
 *   await run(tasks, { reporter: plainReporter({ write: (text) => log += text }) });
 *   console.log(log.split("\n").slice(0, 3)); // ["start hello (io)", "hello | hi", "ok    hello (io) 0 ms"]
 * }
 * ```
 */
export function plainReporter(out: TextSink, options: PlainReporterOptions = {}): PlainReporter {
  return createPlainReporter(out, options, true);
}

/**
 * {@linkcode plainReporter} for a caller that reports a whole run within one
 * macrotask (the `spool` command's no-op fast path): it sets no timer, and
 * its lines are written by `runEnd` or `flush()`. A process's first timer
 * loads Deno's timer module, a good part of a no-op run's time.
 *
 * @param out Where the lines go.
 * @param options Colour and quiet mode.
 * @returns The reporter.
 */
export function plainReporterWithoutTimer(
  out: TextSink,
  options: PlainReporterOptions = {},
): PlainReporter {
  return createPlainReporter(out, options, false);
}

function createPlainReporter(
  out: TextSink,
  options: PlainReporterOptions,
  timed: boolean,
): PlainReporter {
  const c = palette(options.color ?? false);
  const quiet = options.quiet ?? false;
  let pending: string[] = [];
  let pendingChars = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = () => {
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
      globalThis.removeEventListener("unload", flushQuietly);
    }
    if (pending.length === 0) return;
    const text = pending.join("");
    pending = [];
    pendingChars = 0;
    out.write(text);
  };
  // From a timer or on exit there is no caller to hand a failed write to
  // (a closed pipe): the lines are dropped, as a failed write drops them.
  const flushQuietly = () => {
    try {
      flush();
    } catch {
      // Nothing to report it to.
    }
  };
  const line = (text: string) => {
    pending.push(text, "\n");
    pendingChars += text.length + 1;
    if (pendingChars >= FLUSH_CHARS) return flush();
    if (timed && timer === undefined) {
      timer = setTimeout(flushQuietly, 0);
      // Deno.exit() ends the process without running timers.
      globalThis.addEventListener("unload", flushQuietly);
    }
  };
  const where = (task: { kind: string; worker?: number }) =>
    task.worker === undefined ? task.kind : `${task.kind}, worker ${task.worker}`;
  // Quiet mode holds each running task's output until it ends.
  const held = new Map<string, string[]>();
  const failedOutput = new Map<string, string[]>();
  return {
    taskStart(event) {
      if (!quiet) line(`${c.dim("start")} ${event.name} ${c.dim(`(${where(event)})`)}`);
    },
    taskOutput(event) {
      const text = `${event.name} ${c.dim("|")} ${safeLine(event.text)}`;
      if (!quiet) return line(text);
      let lines = held.get(event.name);
      if (lines === undefined) held.set(event.name, lines = []);
      lines.push(event.text);
      if (lines.length > HELD_LINES) lines.splice(0, lines.length - HELD_LINES);
    },
    taskEnd(task) {
      const output = held.get(task.name);
      held.delete(task.name);
      if (output !== undefined && task.status === "failed") failedOutput.set(task.name, output);
      if (task.status === "ok") {
        if (!quiet) {
          line(
            `${c.green("ok")}    ${task.name} ${c.dim(`(${where(task)})`)} ${
              formatMs(task.durationMs)
            }${attemptNote(task)}`,
          );
        }
      } else if (task.status === "cached") {
        if (!quiet) line(`${c.dim("cache")} ${task.name} ${c.dim(`(${where(task)})`)}`);
      } else if (task.status === "failed") {
        line(
          `${c.red("FAIL")}  ${task.name} ${c.dim(`(${where(task)})`)} ${
            formatMs(task.durationMs)
          }${attemptNote(task)}: ${safeLine(task.error?.message ?? "failed")}`,
        );
      } else if (task.status === "cancelled") {
        if (!quiet) {
          line(
            `${c.yellow("stop")}  ${task.name} ${c.dim(`(${where(task)})`)} ${
              formatMs(task.durationMs)
            }: ${safeLine(task.reason ?? "cancelled")}`,
          );
        }
      } else if (!quiet) {
        line(`${c.yellow("skip")}  ${task.name}: ${safeLine(task.reason ?? "skipped")}`);
      }
    },
    taskRetry(event) {
      if (quiet) return;
      line(
        `${c.yellow("retry")} ${event.name} ${
          c.dim(`(attempt ${event.attempt} of ${event.maxAttempts} in ${formatMs(event.delayMs)})`)
        }: ${safeLine(event.error.message)}`,
      );
    },
    runEnd(report: RunReport) {
      for (const text of summaryBlock(report, c, failedOutput)) line(text);
      flush();
    },
    flush,
    [Symbol.dispose]: flush,
  };
}

function attemptNote(task: TaskReport): string {
  const count = task.attemptCount ?? 1;
  return count > 1 ? ` after ${count} attempts` : "";
}
