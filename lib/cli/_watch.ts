/**
 * `spool run --watch`: run, then watch the selected tasks' inputs; on a
 * change (debounced), stop the run in progress and run again, so that only
 * what the change affects runs and the rest comes from the cache. Ctrl-C or
 * SIGTERM stops the run in progress and ends with 130 or 143.
 *
 * @module
 */

import { relative } from "node:path";
import type { TextSink } from "../report/plain.ts";
import { safeLine } from "../report/_sanitize.ts";
import { isWithin } from "../cache/watch_roots.ts";
import { CancelledError } from "../errors.ts";
import { ExitCode } from "./_exit_code.ts";

/** How long after the last change a run starts, in ms: an editor's save is several events. */
export const WATCH_DEBOUNCE_MS = 150;

/**
 * Runs, then runs again on every change until a signal.
 *
 * @param runOnce One run; it stops when its signal aborts.
 * @param roots What to watch and what to ignore there.
 * @param options Where messages go; a signal that ends the watch (tests).
 * @returns The exit code: 130 after SIGINT, 143 after SIGTERM.
 */
export async function watchRuns(
  runOnce: (signal: AbortSignal) => Promise<number>,
  roots: { watch: string[]; ignore: string[] },
  options: { stderr: TextSink; signal?: AbortSignal },
): Promise<number> {
  const { stderr } = options;
  const stop = new AbortController();
  let exitCode: number = ExitCode.Interrupted;
  const handlers: [Deno.Signal, () => void][] = [
    ["SIGINT", () => stop.abort(new CancelledError("interrupted (SIGINT)", ExitCode.Interrupted))],
    ["SIGTERM", () => {
      exitCode = ExitCode.Terminated;
      stop.abort(new CancelledError("terminated (SIGTERM)", ExitCode.Terminated));
    }],
  ];
  for (const [signal, handler] of handlers) {
    try {
      Deno.addSignalListener(signal, handler);
    } catch {
      // Not every platform has every signal.
    }
  }
  const forward = () => stop.abort(options.signal!.reason);
  options.signal?.addEventListener("abort", forward, { once: true });
  const watcher = Deno.watchFs(roots.watch, { recursive: true });
  const changes = changeStream(watcher, roots.ignore);
  try {
    for (;;) {
      const run = new AbortController();
      const onStop = () => run.abort(stop.signal.reason);
      stop.signal.addEventListener("abort", onStop, { once: true });
      const running = runOnce(run.signal);
      stderr.write(
        `Watching ${roots.watch.length} ${
          roots.watch.length === 1 ? "path" : "paths"
        } for changes (Ctrl-C to stop)\n`,
      );
      const changed = await changes.next(stop.signal);
      stop.signal.removeEventListener("abort", onStop);
      if (changed === undefined) {
        run.abort(stop.signal.reason);
        await running;
        return exitCode;
      }
      stderr.write(
        `\nChanged: ${safeLine(relative(Deno.cwd(), changed))}: running again\n`,
      );
      run.abort(new CancelledError(`input ${changed} changed`, ExitCode.Interrupted));
      await running;
    }
  } finally {
    watcher.close();
    for (const [signal, handler] of handlers) {
      try {
        Deno.removeSignalListener(signal, handler);
      } catch {
        // It was never added.
      }
    }
    options.signal?.removeEventListener("abort", forward);
  }
}

/** File events, outside the ignored paths, debounced into one path per burst. */
function changeStream(watcher: Deno.FsWatcher, ignore: readonly string[]) {
  let pending: string | undefined;
  let events = 0;
  let wake: (() => void) | undefined;
  (async () => {
    try {
      for await (const event of watcher) {
        if (event.kind === "access" || event.kind === "other") continue;
        const path = event.paths.find((p) => !isWithin(p, ignore));
        if (path === undefined) continue;
        pending ??= path;
        events++;
        wake?.();
      }
    } catch {
      // Closed.
    }
  })();
  return {
    /** The first path changed, once changes have settled; `undefined` when stopped. */
    async next(signal: AbortSignal): Promise<string | undefined> {
      for (;;) {
        if (signal.aborted) return undefined;
        if (pending !== undefined) {
          // Let the burst settle: every event of one save restarts the wait.
          const seen = pending;
          let count: number;
          do {
            count = events;
            await new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, WATCH_DEBOUNCE_MS);
              signal.addEventListener("abort", () => {
                clearTimeout(timer);
                resolve();
              }, { once: true });
            });
          } while (events !== count && !signal.aborted);
          if (signal.aborted) return undefined;
          pending = undefined;
          return seen;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
          signal.addEventListener("abort", () => resolve(), { once: true });
        });
        wake = undefined;
      }
    },
  };
}
