/**
 * `spool cache info` and `spool cache clean`: what the cache folder of a
 * task file holds, and emptying it.
 *
 * @module
 */

import type { TextSink } from "../report/plain.ts";
import { CacheStore, DEFAULT_CACHE_MAX } from "../cache/cache_store.ts";
import { defaultCacheDir } from "../cache/task_cache.ts";
import { formatBytes } from "../cache/format_bytes.ts";
import { UsageError } from "../errors.ts";

/**
 * Prints what the cache holds, or removes it.
 *
 * @param action `info` or `clean`.
 * @param moduleUrl The task file's URL.
 * @param options The cache folder and bound, where to write.
 */
export async function cacheCommand(
  action: "info" | "clean",
  moduleUrl: string,
  options: { dir?: string; maxBytes?: number; stdout: TextSink },
): Promise<void> {
  const dir = options.dir ?? defaultCacheDir(moduleUrl);
  const name = action === "clean" ? "write" : "read";
  if (Deno.permissions.querySync({ name, path: dir }).state !== "granted") {
    throw new UsageError(
      `Cannot ${
        action === "clean" ? "clean" : "read"
      } the cache in "${dir}": run again with --allow-${name}=${dir}`,
    );
  }
  if (action === "clean") {
    let bytes = 0;
    try {
      bytes = new CacheStore(dir, { onWarning: () => {} }).info().bytes;
      await Deno.remove(dir, { recursive: true });
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    options.stdout.write(`Removed the cache in ${dir} (${formatBytes(bytes)})\n`);
    return;
  }
  const info = new CacheStore(dir, {
    maxBytes: options.maxBytes ?? DEFAULT_CACHE_MAX,
    onWarning: (message) => options.stdout.write(`warning: ${message}\n`),
  }).info();
  options.stdout.write(
    [
      `Cache:   ${info.dir}`,
      `Entries: ${info.entries} (${info.tasks} tasks with a last run)`,
      `Size:    ${formatBytes(info.bytes)} of ${
        formatBytes(info.maxBytes)
      } (least recently used entries go past it; --cache-max)`,
      "",
    ].join("\n"),
  );
}
