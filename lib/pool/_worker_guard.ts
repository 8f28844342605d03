/**
 * Worker side: turns every way a worker can die outside a task body's own
 * promise into a `fatal` message, so that the pool fails the task the worker
 * held with a clear error and replaces the worker instead of waiting forever.
 *
 * Deno fires no event on the main side when a worker calls `self.close()` or
 * `Deno.exit()`, so both are wrapped to say so first. An uncaught error or an
 * unhandled rejection (say, from a timer a body left behind) is caught here
 * rather than printed with a stack trace by the runtime.
 *
 * `worker_main.ts` imports this file first, so the guard is in place before
 * the task module is evaluated. It imports only the protocol.
 *
 * @module
 */

import { type FromWorker, serializeError } from "./_protocol.ts";

/** Installs the guard; does nothing outside a worker. */
function guard(): void {
  if (!("WorkerGlobalScope" in globalThis)) return;
  const scope = globalThis as unknown as {
    postMessage(message: FromWorker): void;
    close(): void;
    addEventListener(type: string, listener: (event: Event) => void): void;
  };
  let reported = false;
  const fatal = (message: string, cause?: unknown) => {
    if (reported) return;
    reported = true;
    const error = cause === undefined ? new Error(message) : serializeError(cause);
    // Frames in this file say nothing; the caller of close() or exit() does.
    const stack = error.stack?.split("\n").filter((line) => !line.includes(import.meta.url))
      .join("\n");
    try {
      scope.postMessage({ type: "fatal", error: { name: error.name, message, stack } });
    } catch {
      // The main side terminates a worker that stops answering.
    }
  };
  const describe = (value: unknown) =>
    value instanceof Error ? `${value.name}: ${value.message}` : String(value);

  scope.addEventListener("error", (event) => {
    event.preventDefault();
    const error = (event as ErrorEvent).error;
    fatal(`uncaught error outside the task body: ${describe(error)}`, error);
  });
  scope.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    const reason = (event as PromiseRejectionEvent).reason;
    fatal(`unhandled promise rejection: ${describe(reason)}`, reason);
  });
  const close = scope.close.bind(scope);
  scope.close = () => {
    fatal("the worker closed itself with self.close()");
    close();
  };
  const exit = Deno.exit.bind(Deno);
  Deno.exit = (code?: number): never => {
    fatal(`the worker called Deno.exit(${code ?? ""})`);
    return exit(code);
  };
}

guard();
