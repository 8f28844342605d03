/**
 * Console capture: what a task body prints with `console` becomes output that
 * the run reports, prefixed by the task's name, rather than text written
 * straight to the terminal, where it would tear the live view and lose its
 * origin.
 *
 * Both sides of the cpu lane use it: a worker (worker_main.ts) routes calls
 * to the task it is running, and the main thread (_io_console.ts) to the io
 * task whose async context made the call. Formatting is node:console's, so
 * `%s`, `%o`, tables, groups, counters and timers print as on a terminal.
 *
 * @module
 */

import type { Console } from "node:console";

/** Which console stream a call writes to: `log`, `info`, `debug`, `dir`, `table` write to stdout. */
export type OutputStream = "stdout" | "stderr";

/** Receives one console call's text, without its final newline. */
export type OutputSink = (stream: OutputStream, text: string) => void;

/** The console methods that write, and those whose state (indent, counters, timers) goes with them. */
const METHODS = [
  "log",
  "info",
  "debug",
  "warn",
  "error",
  "dir",
  "dirxml",
  "table",
  "trace",
  "assert",
  "count",
  "countReset",
  "group",
  "groupCollapsed",
  "groupEnd",
  "time",
  "timeLog",
  "timeEnd",
] as const;

type Method = typeof METHODS[number];
type ConsoleLike = Pick<Console, Method>;

/**
 * A console whose output goes to `sink`, one call at a time.
 *
 * @param sink Receives each call's text.
 * @param ConsoleClass `node:console`'s `Console`, passed in rather than
 * imported here: loading `node:console` costs a worker about 5 ms at start,
 * which a worker that serves executor calls (and never captures) skips.
 * @returns A console with its own indent, counters and timers.
 */
export function taskConsole(sink: OutputSink, ConsoleClass: typeof Console): ConsoleLike {
  // node:console needs only `write` of a stream when told not to swallow
  // write errors; colour off, so that it never asks the environment.
  const stream = (name: OutputStream) => ({
    write(chunk: string): boolean {
      sink(name, chunk.endsWith("\n") ? chunk.slice(0, -1) : chunk);
      return true;
    },
  });
  return new ConsoleClass({
    stdout: stream("stdout") as unknown as NodeJS.WritableStream,
    stderr: stream("stderr") as unknown as NodeJS.WritableStream,
    ignoreErrors: false,
    colorMode: false,
  });
}

/**
 * Replaces the writing methods of `target` so that each call goes to the
 * console `route` returns at that moment, or to the original method when it
 * returns `undefined`.
 *
 * @param target The console to patch, normally `globalThis.console`.
 * @param route Picks the console for the current call.
 * @returns A function that puts the original methods back.
 */
export function redirectConsole(
  target: Console,
  route: () => ConsoleLike | undefined,
): () => void {
  const methods = target as unknown as Record<Method, (...args: unknown[]) => void>;
  const originals = new Map<Method, (...args: unknown[]) => void>();
  for (const method of METHODS) {
    const original = methods[method];
    originals.set(method, original);
    methods[method] = function (...args: unknown[]): void {
      const to = route() as Record<Method, (...args: unknown[]) => void> | undefined;
      if (to === undefined) original.apply(target, args);
      else to[method](...args);
    };
  }
  return () => {
    for (const [method, original] of originals) methods[method] = original;
  };
}
