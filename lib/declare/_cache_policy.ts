/**
 * Validation of a task's cache fields (`inputs`, `outputs`, `env`, `cache`),
 * kept out of define.ts so that the declaration file stays about lanes.
 *
 * @module
 */

/** A task's cache fields, validated; absent keys were not declared. */
export interface CacheFields {
  inputs?: readonly string[];
  outputs?: readonly string[];
  env?: readonly string[];
  cache?: boolean;
}

/**
 * Checks the cache fields of a task declaration.
 *
 * @param name The task's name, for messages.
 * @param d The declaration.
 * @returns The fields that were declared.
 * @throws {TypeError} Worded for the task file, naming the field.
 */
export function normalizeCacheFields(name: string, d: Record<PropertyKey, unknown>): CacheFields {
  const fields: CacheFields = {};
  for (const key of ["inputs", "outputs", "env"] as const) {
    const value = d[key];
    if (value === undefined) continue;
    if (
      !Array.isArray(value) || value.some((item) => typeof item !== "string" || item === "")
    ) {
      throw new TypeError(
        `Task "${name}" has invalid '${key}': expected a list of ${
          key === "env" ? "variable names" : "paths or globs relative to the task file"
        }, such as ${key === "env" ? '["NODE_ENV"]' : '["src/**/*.ts"]'}`,
      );
    }
    fields[key] = [...value];
  }
  if (d.cache !== undefined) {
    if (typeof d.cache !== "boolean") {
      throw new TypeError(
        `Task "${name}" has invalid 'cache': expected true (cache it, at your risk) or false (never)`,
      );
    }
    fields.cache = d.cache;
  }
  return fields;
}
