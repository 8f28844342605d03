/**
 * Atomic file writes for the run report: the text goes to a temporary file
 * beside the target, which is then renamed over it. A reader (a CI step, a
 * dashboard) sees the old file or the new one, never half of one, even when
 * spool is killed mid-write.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";

function tempPath(path: string): string {
  const random = crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
  // Same directory, so the rename stays on one file system and is atomic.
  return join(dirname(path), `.${basename(path)}.${Deno.pid}-${random}.tmp`);
}

/**
 * Writes a text file atomically.
 *
 * @param path The file to (re)place.
 * @param text Its new contents.
 * @returns Resolves once the file is in place.
 * @throws The file system's error; the temporary file is removed.
 */
export async function writeTextFileAtomic(path: string, text: string): Promise<void> {
  const temp = tempPath(path);
  try {
    await Deno.writeTextFile(temp, text);
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
}

/**
 * Writes a text file atomically and synchronously, for a process about to
 * exit at once.
 *
 * @param path The file to (re)place.
 * @param text Its new contents.
 * @throws The file system's error; the temporary file is removed.
 */
export function writeTextFileAtomicSync(path: string, text: string): void {
  writeFileAtomicSync(path, new TextEncoder().encode(text));
}

/**
 * Writes bytes atomically and synchronously.
 *
 * @param path The file to (re)place.
 * @param data Its new contents.
 * @throws The file system's error; the temporary file is removed.
 */
export function writeFileAtomicSync(path: string, data: Uint8Array): void {
  const temp = tempPath(path);
  try {
    Deno.writeFileSync(temp, data);
    Deno.renameSync(temp, path);
  } catch (error) {
    try {
      Deno.removeSync(temp);
    } catch {
      // It was never created.
    }
    throw error;
  }
}
