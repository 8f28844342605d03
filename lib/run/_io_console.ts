/**
 * Console output of io tasks. io tasks share the main thread and interleave
 * at every `await`, so "the task that is running" does not exist there; the
 * task that made a console call is the one whose async context it runs in,
 * which AsyncLocalStorage follows through promises, timers and I/O
 * callbacks.
 *
 * The global console is patched only while at least one run captures
 * output, and restored when the last one ends.
 *
 * @module
 */

import { AsyncLocalStorage } from "node:async_hooks";
import { Console } from "node:console";
import { type OutputSink, redirectConsole, taskConsole } from "../pool/_console_capture.ts";

interface TaskOutput {
  sink: OutputSink;
  console?: ReturnType<typeof taskConsole>;
}

const storage = new AsyncLocalStorage<TaskOutput>();
let captures = 0;
let restore: (() => void) | undefined;

/**
 * Starts routing console calls made inside {@linkcode withTaskOutput} to
 * their task. Calls made elsewhere go to the console as before.
 *
 * @returns A handle; disposing it ends this capture (the console is restored
 * when no capture is left).
 */
export function captureIoConsole(): Disposable {
  if (captures++ === 0) {
    restore = redirectConsole(globalThis.console, () => {
      const output = storage.getStore();
      if (output === undefined) return undefined;
      // Made on first use: most tasks print nothing.
      return output.console ??= taskConsole((stream, text) =>
        // The sink (a reporter) may log itself: that must not loop back here.
        storage.exit(() => output.sink(stream, text)), Console);
    });
  }
  let disposed = false;
  return {
    [Symbol.dispose]() {
      if (disposed) return;
      disposed = true;
      if (--captures === 0) {
        restore?.();
        restore = undefined;
      }
    },
  };
}

/**
 * Runs `fn` so that the console calls it makes, and those of everything it
 * starts, go to `sink` while a capture is active.
 *
 * @param sink Receives the task's console output.
 * @param fn The task body.
 * @returns What `fn` returns.
 */
export function withTaskOutput<T>(sink: OutputSink, fn: () => T): T {
  return storage.run({ sink }, fn);
}
