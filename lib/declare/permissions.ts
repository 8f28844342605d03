/**
 * Declared task permissions: validation of what a task file declares, the
 * up-front check against what the process holds, the exact Worker permission
 * options a cpu task's worker is spawned with, and the flag that grants a
 * missing permission.
 *
 * @module
 */

import { type MissingGrant, PermissionError } from "../errors.ts";

/** The permissions a task can declare. */
export type PermissionName =
  | "net"
  | "read"
  | "write"
  | "env"
  | "run"
  | "sys"
  | "ffi";

/**
 * One declared permission: `true` for unrestricted access, or a list of
 * scopes (hosts for `net`, paths for `read`/`write`/`ffi`, variable names for
 * `env`, commands for `run`, API kinds for `sys`). `false` or an absent key
 * means none.
 */
export type PermissionValue = boolean | readonly string[];

/** The permissions a task declares, keyed by name. */
export type Permissions = { readonly [K in PermissionName]?: PermissionValue };

/** Every permission name a task may declare, in flag order. */
export const PERMISSION_NAMES: readonly PermissionName[] = [
  "net",
  "read",
  "write",
  "env",
  "run",
  "sys",
  "ffi",
];

const SYS_KINDS = new Set([
  "loadavg",
  "hostname",
  "systemMemoryInfo",
  "networkInterfaces",
  "osRelease",
  "osUptime",
  "uid",
  "gid",
  "username",
  "cpus",
  "homedir",
  "statfs",
  "getPriority",
  "setPriority",
]);

/**
 * Checks a task's `permissions` declaration and returns it in normal form:
 * only granted names, each `true` or a non-empty list of unique scopes.
 *
 * @param task The task's name, for messages.
 * @param value The declared value, of unknown shape.
 * @returns The normalized permissions.
 * @throws {TypeError} When the declaration is not a valid permission object;
 * the message names the task and the offending key.
 */
export function normalizePermissions(task: string, value: unknown): Permissions {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new TypeError(
      `Task "${task}" has invalid 'permissions': expected an object such as { net: ["example.com"] }, got ${
        describe(value)
      }`,
    );
  }
  const out: { [K in PermissionName]?: PermissionValue } = {};
  const keys = Object.keys(value);
  for (let k = 0; k < keys.length; k++) {
    const key = keys[k];
    const raw = (value as Record<string, unknown>)[key];
    if (!(PERMISSION_NAMES as readonly string[]).includes(key)) {
      throw new TypeError(
        `Task "${task}" declares unknown permission '${key}': use one of ${
          PERMISSION_NAMES.join(", ")
        }`,
      );
    }
    const name = key as PermissionName;
    if (raw === false) continue;
    if (raw === true) {
      out[name] = true;
      continue;
    }
    if (!Array.isArray(raw)) {
      throw new TypeError(
        `Task "${task}" has invalid permission '${name}': expected true, false or a list of strings, got ${
          describe(raw)
        }`,
      );
    }
    const scopes: string[] = [];
    for (let i = 0; i < raw.length; i++) {
      const scope: unknown = raw[i];
      if (typeof scope !== "string" || scope.trim() === "") {
        throw new TypeError(
          `Task "${task}" has invalid permission '${name}': every entry must be a non-empty string, got ${
            describe(scope)
          }`,
        );
      }
      if (name === "sys" && !SYS_KINDS.has(scope)) {
        throw new TypeError(
          `Task "${task}" has invalid permission 'sys': unknown kind "${scope}", use one of ${
            [...SYS_KINDS].join(", ")
          }`,
        );
      }
      if (scope.includes(",") && (name === "read" || name === "write" || name === "ffi")) {
        throw new TypeError(
          `Task "${task}" has invalid permission '${name}': "${scope}" contains a comma, which a sandbox cannot be granted (Deno splits permission flags on commas): grant its parent folder or rename it`,
        );
      }
      if (/[,\s]/.test(scope) && name !== "read" && name !== "write" && name !== "ffi") {
        throw new TypeError(
          `Task "${task}" has invalid permission '${name}': "${scope}" must not contain a comma or white space`,
        );
      }
      if (!scopes.includes(scope)) scopes.push(scope);
    }
    // An empty list grants nothing, the same as false.
    if (scopes.length > 0) out[name] = scopes;
  }
  return out;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return `the string "${value}"`;
  if (typeof value === "object") return "an object";
  return `${typeof value} ${String(value)}`;
}

/**
 * The `--allow-...` flag that grants a declared permission.
 *
 * @param name The permission name.
 * @param value The declared value.
 * @returns A flag such as `--allow-read=./dist,./src` or `--allow-env`.
 */
export function flagFor(name: PermissionName, value: true | readonly string[]): string {
  return value === true ? `--allow-${name}` : `--allow-${name}=${value.join(",")}`;
}

function descriptors(
  name: PermissionName,
  value: true | readonly string[],
): Deno.PermissionDescriptor[] {
  if (value === true) return [{ name } as Deno.PermissionDescriptor];
  return value.map((scope): Deno.PermissionDescriptor => {
    switch (name) {
      case "net":
        return { name, host: scope };
      case "read":
      case "write":
      case "ffi":
        return { name, path: scope };
      case "env":
        return { name, variable: scope };
      case "run":
        return { name, command: scope };
      case "sys":
        return { name, kind: scope as Deno.SysPermissionDescriptor["kind"] };
    }
  });
}

/**
 * Lists every declared permission the current process does not hold.
 * Querying never prompts.
 *
 * @param tasks Task names with their normalized permissions, in run order.
 * @returns The missing grants, empty when everything is granted.
 */
export function findMissingGrants(
  tasks: Iterable<{ name: string; permissions: Permissions }>,
): MissingGrant[] {
  const missing: MissingGrant[] = [];
  // Many tasks share scopes: each is queried once.
  const held = new Map<string, boolean>();
  const granted = (d: Deno.PermissionDescriptor) => {
    const key = JSON.stringify(d);
    let state = held.get(key);
    if (state === undefined) {
      state = Deno.permissions.querySync(d).state === "granted";
      held.set(key, state);
    }
    return state;
  };
  // Many tasks share one permissions object too (defineTasks normalizes a
  // declaration shared by many tasks once): each is looked at once.
  const lacking = new Map<Permissions, [PermissionName, true | string[], string][]>();
  let last: Permissions | undefined;
  let lastLacks: [PermissionName, true | string[], string][] = [];
  for (const { name: task, permissions } of tasks) {
    // Most often the same object as the task before's: no lookup.
    let lacks = permissions === last ? lastLacks : lacking.get(permissions);
    if (lacks === undefined) {
      lacks = [];
      for (const name of PERMISSION_NAMES) {
        const value = permissions[name];
        if (value === undefined || value === false) continue;
        const scopes = value === true ? [true as const] : value;
        const absent = scopes.filter((scope) =>
          descriptors(name, scope === true ? true : [scope]).some((d) => !granted(d))
        );
        if (absent.length === 0) continue;
        const need = value === true ? true : absent as string[];
        lacks.push([name, need, flagFor(name, need)]);
      }
      lacking.set(permissions, lacks);
    }
    last = permissions;
    lastLacks = lacks;
    if (lacks.length === 0) continue;
    for (const [permission, need, flag] of lacks) {
      missing.push({ task, permission, value: need === true ? true : [...need], flag });
    }
  }
  return missing;
}

/**
 * The read access the process needs to start workers for a task module: a
 * worker's code is loaded with the process's permissions, not the worker's,
 * so reading the task file and spool's own modules must be granted even
 * though the workers themselves get none. Checks the two files a worker
 * loads first and, when either is not readable, asks for their folders.
 *
 * @param task The first cpu task, named in the message.
 * @param module The task module's URL.
 * @param workerMain The URL of the worker entry module.
 * @returns The missing grant, or `undefined` when both are readable.
 */
export function workerLoadGrant(
  task: string,
  module: string,
  workerMain: string,
): MissingGrant | undefined {
  const files = [module, workerMain].filter((url) => url.startsWith("file:"))
    .map((url) => decodeURIComponent(new URL(url).pathname));
  const unreadable = files.filter((path) =>
    Deno.permissions.querySync({ name: "read", path }).state !== "granted"
  );
  if (unreadable.length === 0) return undefined;
  // The task file's folder and spool's root (two folders above lib/pool/) hold
  // what a worker imports.
  const candidates = files.map((path, i) => folderOf(path, i === 1 ? 3 : 1));
  // A folder inside another one listed adds nothing to the flag.
  const folders = [...new Set(candidates)].filter((folder) =>
    !candidates.some((other) =>
      other !== folder && folder.startsWith(other.endsWith("/") ? other : `${other}/`)
    )
  );
  return {
    task,
    permission: "read",
    value: folders,
    flag: flagFor("read", folders),
    reason: "its workers load the task file and spool's modules from disk",
  };
}

function folderOf(path: string, levels: number): string {
  let folder = path;
  for (let i = 0; i < levels; i++) folder = folder.slice(0, folder.lastIndexOf("/")) || "/";
  return folder;
}

/**
 * Throws when any declared permission is not granted to this process.
 *
 * @param tasks Task names with their normalized permissions, in run order.
 * @throws {PermissionError} Naming every task, permission and flag missing.
 */
export function assertGranted(
  tasks: Iterable<{ name: string; permissions: Permissions }>,
): void {
  const missing = findMissingGrants(tasks);
  if (missing.length > 0) throw new PermissionError(missing);
}

/**
 * The Worker permission options for a task: exactly what it declared, every
 * other permission (including `import` of remote code) denied.
 *
 * @param permissions The task's normalized permissions.
 * @returns Options for `new Worker(url, { deno: { permissions } })`.
 */
export function workerPermissions(permissions: Permissions): Deno.PermissionOptionsObject {
  const options: Deno.PermissionOptionsObject = { import: false };
  for (const name of PERMISSION_NAMES) {
    const value = permissions[name];
    (options as Record<string, unknown>)[name] = value === undefined ? false : value;
  }
  return options;
}

/**
 * A key for a permission set, equal exactly when the sets are equal, so that
 * workers with equal permissions can be shared between tasks. It is JSON of
 * the set with names in flag order and scopes sorted: no separator a scope
 * can contain can make two different sets collide.
 *
 * @param permissions Normalized permissions.
 * @returns A string equal for equal permission sets, and only for them.
 */
export function permissionKey(permissions: Permissions): string {
  const entries: [PermissionName, true | string[]][] = [];
  for (const name of PERMISSION_NAMES) {
    const value = permissions[name];
    if (value === undefined || value === false) continue;
    entries.push([name, value === true ? true : [...value].sort()]);
  }
  return JSON.stringify(entries);
}

/**
 * The command-line flags that give a Deno process exactly a permission set,
 * for the processes that host sandboxed tasks. Each scope is one flag value;
 * paths cannot contain a comma (refused when the task file is loaded), since
 * Deno splits flag values on commas.
 *
 * @param permissions Normalized permissions.
 * @returns Flags such as `["--allow-read=/data", "--allow-env=HOME"]`.
 */
export function grantFlags(permissions: Permissions): string[] {
  const flags: string[] = [];
  for (const name of PERMISSION_NAMES) {
    const value = permissions[name];
    if (value === undefined || value === false) continue;
    flags.push(flagFor(name, value));
  }
  return flags;
}
