/**
 * Retries: validation of a task's `retries` and `backoff`, the wait before
 * each retry, and an abortable sleep. The retry loop itself lives in the
 * scheduler, which records every attempt in the report.
 *
 * The waits grow exponentially and carry no jitter, so that a run's timing
 * is reproducible and testable with fake timers.
 *
 * @module
 */

import type { BackoffOptions } from "../declare/define.ts";

/** A task's backoff with every default filled in. */
export type Backoff = Required<BackoffOptions>;

/** The backoff of a task that sets `retries` but no `backoff`. */
export const DEFAULT_BACKOFF: Backoff = { delay: 1000, factor: 2, maxDelay: 30_000 };

/**
 * The wait before a retry: `delay * factor ** (retry - 1)`, at most `maxDelay`.
 *
 * @param backoff The task's backoff.
 * @param retry Which retry, from 1 (the second attempt).
 * @returns The wait in ms.
 */
export function backoffDelay(backoff: Backoff, retry: number): number {
  return Math.min(backoff.maxDelay, backoff.delay * backoff.factor ** (retry - 1));
}

/**
 * The longest wait one timer can hold: `setTimeout` takes a 32-bit signed
 * delay and fires after about 1 ms for anything longer.
 */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Waits, unless aborted. A wait longer than one timer can hold (about 24.8
 * days) is a chain of timers, so that it really lasts `ms`.
 *
 * @param ms How long, in ms.
 * @param signal Ends the wait early.
 * @returns Resolves after `ms`.
 * @throws The signal's reason when it aborts first.
 */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    let left = ms;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const arm = () => {
      const step = Math.min(left, MAX_TIMER_MS);
      left -= step;
      timer = setTimeout(() => {
        if (left > 0) return arm();
        signal.removeEventListener("abort", onAbort);
        resolve();
      }, step);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    arm();
  });
}

/**
 * Checks a task's `retries`.
 *
 * @param task The task's name, for messages.
 * @param value The declared value.
 * @returns The number of retries, 0 when none were declared.
 * @throws {TypeError} When it is not a non-negative integer.
 */
export function normalizeRetries(task: string, value: unknown): number {
  if (value === undefined) return 0;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
    throw new TypeError(
      `Task "${task}" has invalid 'retries': expected a whole number of retries, 0 or more, got ${
        show(value)
      }`,
    );
  }
  return value;
}

/**
 * Checks a task's `backoff` and fills in the defaults.
 *
 * @param task The task's name, for messages.
 * @param value The declared value.
 * @returns The complete backoff.
 * @throws {TypeError} When it is not an object of valid delays and factor.
 */
export function normalizeBackoff(task: string, value: unknown): Backoff {
  if (value === undefined) return DEFAULT_BACKOFF;
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new TypeError(
      `Task "${task}" has invalid 'backoff': expected an object such as { delay: 500, factor: 2 }, got ${
        show(value)
      }`,
    );
  }
  const known = new Set(Object.keys(DEFAULT_BACKOFF));
  for (const key of Object.keys(value)) {
    if (!known.has(key)) {
      throw new TypeError(
        `Task "${task}" has unknown 'backoff' option '${key}': use delay, factor or maxDelay`,
      );
    }
  }
  const { delay, factor, maxDelay } = { ...DEFAULT_BACKOFF, ...value } as Record<string, unknown>;
  const check = (name: string, v: unknown, ok: boolean, expected: string) => {
    if (!ok) {
      throw new TypeError(
        `Task "${task}" has invalid 'backoff.${name}': expected ${expected}, got ${show(v)}`,
      );
    }
  };
  const ms = (v: unknown) => typeof v === "number" && Number.isFinite(v) && v >= 0;
  check("delay", delay, ms(delay), "a number of ms, 0 or more");
  check("factor", factor, ms(factor) && (factor as number) >= 1, "a number, 1 or more");
  check("maxDelay", maxDelay, ms(maxDelay), "a number of ms, 0 or more");
  return { delay: delay as number, factor: factor as number, maxDelay: maxDelay as number };
}

function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return "an array";
  if (value === null) return "null";
  if (typeof value === "object") return "an object";
  return String(value);
}
