/**
 * The entry module of a worker: a data: URL that statically imports a
 * worker-side `serve` and the module whose code the worker runs, then hands
 * one to the other. Static, because a worker without read permission cannot
 * dynamic-import a local file; the process loads both under its own grants.
 *
 * @module
 */

/**
 * The data: URL a worker starts from.
 *
 * @param entry URL of the worker-side module that exports `serve(module, role)`.
 * @param module URL of the module whose code the worker runs.
 * @param role What the worker serves: the tasks of a task module, or calls
 * of a module's exports (a cpu executor).
 * @returns A `data:` URL for `new Worker(url, { type: "module" })`.
 */
export function workerBootstrap(entry: string, module: string, role: "tasks" | "calls"): string {
  const source = `import { serve } from ${JSON.stringify(entry)};\n` +
    `import * as module from ${JSON.stringify(module)};\nserve(module, ${JSON.stringify(role)});\n`;
  return `data:application/javascript;base64,${btoa(source)}`;
}
