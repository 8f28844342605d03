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
  return consoleMaker(ConsoleClass)(sink);
}

const reflectApply = Reflect.apply;
const bind = Function.prototype.bind;
const endsWith = String.prototype.endsWith;
const slice = String.prototype.slice;

/**
 * {@linkcode taskConsole}, with `Console`'s methods taken now: a worker
 * takes them before any body runs, so that a body which replaces
 * `Console.prototype.log` does not format (and see) the console calls of
 * the tasks that share its worker.
 *
 * @param ConsoleClass `node:console`'s `Console`.
 * @returns Makes a console whose output goes to a sink.
 */
export function consoleMaker(ConsoleClass: typeof Console): (sink: OutputSink) => ConsoleLike {
  const proto = ConsoleClass.prototype as unknown as Record<Method, (...args: unknown[]) => void>;
  const methods = {} as Record<Method, (...args: unknown[]) => void>;
  for (let i = 0; i < METHODS.length; i++) methods[METHODS[i]] = proto[METHODS[i]];
  return (sink) => {
    // node:console needs only `write` of a stream when told not to swallow
    // write errors; colour off, so that it never asks the environment.
    const stream = (name: OutputStream) => ({
      write(chunk: string): boolean {
        sink(
          name,
          reflectApply(endsWith, chunk, ["\n"]) ? reflectApply(slice, chunk, [0, -1]) : chunk,
        );
        return true;
      },
    });
    const console = new ConsoleClass({
      stdout: stream("stdout") as unknown as NodeJS.WritableStream,
      stderr: stream("stderr") as unknown as NodeJS.WritableStream,
      ignoreErrors: false,
      colorMode: false,
    });
    // Its own methods, bound to it, are the ones taken above (its own calls
    // between them, `table` to `log`, go through these too).
    const own = console as unknown as Record<Method, (...args: unknown[]) => void>;
    for (let i = 0; i < METHODS.length; i++) {
      own[METHODS[i]] = reflectApply(bind, methods[METHODS[i]], [console]);
    }
    return console;
  };
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
      // The argument list as it is: no spread, no `apply` a task could replace.
      if (to === undefined) reflectApply(original, target, args);
      else reflectApply(to[method], to, args);
    };
  }
  return () => {
    for (const [method, original] of originals) methods[method] = original;
  };
}
