/**
 * The task file that declared a command task, read off the stack: a command
 * runs in that file's folder unless told otherwise.
 *
 * @module
 */

const HERE = new URL(".", import.meta.url).href;

/**
 * The URL of the first module on the stack outside this folder.
 *
 * @returns The URL, or `undefined` when there is none.
 */
export function callerModule(): string | undefined {
  const stack = new Error().stack ?? "";
  for (const line of stack.split("\n").slice(1)) {
    const match = line.match(/((?:file|https?|data|blob):[^\s()]+?):\d+:\d+\)?\s*$/);
    if (match === null) continue;
    const url = match[1];
    // Not sh() or service() themselves, nor denoTasks(), which passes its cwd.
    if (url.startsWith(HERE) && !url.slice(HERE.length).includes("/")) continue;
    return url;
  }
  return undefined;
}
