/**
 * Validation of a task's cache fields (`inputs`, `outputs`, `env`, `cache`),
 * kept out of define.ts so that the declaration file stays about lanes.
 *
 * @module
 */

import { stringListProblem } from "./_string_lists.ts";

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
 * @returns The fields that were declared, `undefined` when none were.
 * @throws {TypeError} Worded for the task file, naming the field.
 */
export function normalizeCacheFields(
  name: string,
  d: Record<PropertyKey, unknown>,
): CacheFields | undefined {
  let fields: CacheFields | undefined;
  // Field by field, in this order, so that the first invalid one is named.
  const inputs = d.inputs;
  if (inputs !== undefined) (fields ??= {}).inputs = list(name, "inputs", inputs);
  const outputs = d.outputs;
  if (outputs !== undefined) (fields ??= {}).outputs = list(name, "outputs", outputs);
  const env = d.env;
  if (env !== undefined) (fields ??= {}).env = list(name, "env", env);
  if (d.cache !== undefined) {
    if (typeof d.cache !== "boolean") {
      throw new TypeError(
        `Task "${name}" has invalid 'cache': expected true (cache it, at your risk) or false (never)`,
      );
    }
    (fields ??= {}).cache = d.cache;
  }
  return fields;
}

function list(name: string, key: "inputs" | "outputs" | "env", value: unknown): string[] {
  const problem = Array.isArray(value) ? stringListProblem(value, true) : "it is not a list";
  if (problem !== undefined) {
    throw new TypeError(
      `Task "${name}" has invalid '${key}': expected a list of ${
        key === "env" ? "variable names" : "paths or globs relative to the task file"
      }, such as ${key === "env" ? '["NODE_ENV"]' : '["src/**/*.ts"]'} (${problem})`,
    );
  }
  return [...(value as string[])];
}
