/**
 * Time limits for task attempts: the error a timed-out task fails with, the
 * per-attempt signal that aborts at a deadline or when the run stops, and the
 * grace an aborted io body gets to settle before spool stops waiting for it.
 *
 * Timers go through the global `setTimeout`, looked up at call time, so
 * that tests can drive them with fake timers.
 *
 * @module
 */

/**
 * How long an aborted io body may take to settle, in ms. A body that honours
 * its signal settles well within it (its `finally` blocks and child-process
 * kills run before the run ends); one that ignores it is left behind, so an
 * abort never hangs the run.
 */
export const ABORT_GRACE_MS = 2000;

/** Longer delays overflow `setTimeout`; a limit beyond this is no limit. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The error a task fails with when an attempt outlives its limit: a
 * `TimeoutError` `DOMException`, as `AbortSignal.timeout()` raises, so that
 * a task body and a cpu lane can tell it from other aborts by its name.
 *
 * @param task The task's name.
 * @param ms The limit, in ms.
 * @returns The error, with a one-line stack: spool's frames would say nothing about the task.
 */
export function timeoutError(task: string, ms: number): DOMException {
  const error = new DOMException(`Task "${task}" timed out after ${ms} ms`, "TimeoutError");
  Object.defineProperty(error, "stack", {
    value: `TimeoutError: ${error.message}`,
    configurable: true,
    writable: true,
  });
  return error;
}

/**
 * Tells whether an abort reason is a timeout.
 *
 * @param reason A signal's reason, or any thrown value.
 * @returns `true` for an error named `TimeoutError`.
 */
export function isTimeout(reason: unknown): boolean {
  return reason instanceof Error && reason.name === "TimeoutError";
}

/**
 * Checks a time limit as a task declaration or a run option gives it.
 *
 * @param value The declared value.
 * @returns `true` when it is a positive number of ms (`Infinity` included).
 */
export function isValidLimit(value: unknown): value is number {
  return typeof value === "number" && value > 0 && !Number.isNaN(value);
}

/** What follows a parent signal: a controller it aborts, or a function it calls. */
type Follower = AbortController | (() => void);

/**
 * The followers of each parent signal. One listener per parent notifies
 * them all: thousands of attempts share the run's signal, and a listener
 * each would cost more with every one added (EventTarget scans its list for
 * duplicates), as would `AbortSignal.any` in garbage.
 */
const followers = new WeakMap<AbortSignal, Set<Follower>>();

function notify(follower: Follower, parent: AbortSignal): void {
  if (typeof follower === "function") follower();
  else follower.abort(parent.reason);
}

function follow(parent: AbortSignal, follower: Follower): void {
  if (parent.aborted) return notify(follower, parent);
  let set = followers.get(parent);
  if (set === undefined) {
    const created = set = new Set();
    followers.set(parent, created);
    parent.addEventListener("abort", () => {
      for (const each of created) notify(each, parent);
      created.clear();
    }, { once: true });
  }
  set.add(follower);
}

function unfollow(parent: AbortSignal, follower: Follower): void {
  followers.get(parent)?.delete(follower);
}

/**
 * One attempt's signal: it aborts with the run's reason when the run stops,
 * and with a timeout error once the deadline passes. The deadline starts on
 * {@linkcode Deadline.arm} (when the body actually starts, not while it
 * waits for a slot). Dispose it when the attempt ends.
 *
 * An attempt without a limit aborts only with the run, so its own
 * controller is made only if something asks for {@linkcode Deadline.signal}
 * (a task body reading `ctx.signal`): 10,000 such attempts alive at once
 * make no controllers, no signals and no timers.
 */
export class Deadline implements Disposable {
  #parent: AbortSignal;
  #controller: AbortController | undefined;
  #ms: number | undefined;
  #reason: () => unknown;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timedOut = false;
  #disposed = false;
  /**
   * Called once when it aborts, without a signal of its own: the grace timer
   * of {@linkcode Deadline.settle}'s body, and a sandbox pool's cancel.
   */
  #onAbort: (() => void) | undefined;
  /** More of them (a sandboxed io attempt has two): most attempts have one, and no array. */
  #moreOnAbort: (() => void)[] | undefined;

  /**
   * Creates an attempt's signal, following the run's.
   *
   * @param parent The run's signal.
   * @param ms The limit in ms; `undefined` or more than a timer can hold means none.
   * @param reason Makes the timeout error.
   */
  constructor(parent: AbortSignal, ms: number | undefined, reason: () => unknown) {
    this.#parent = parent;
    this.#ms = ms !== undefined && ms <= MAX_TIMER_MS ? ms : undefined;
    this.#reason = reason;
    if (this.#ms !== undefined) this.#own();
  }

  #own(): AbortController {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      // Made after its attempt ended, it follows nothing: that attempt is over.
      if (!this.#disposed) follow(this.#parent, this.#controller);
    }
    return this.#controller;
  }

  /** The signal the attempt runs under. */
  get signal(): AbortSignal {
    return this.#own().signal;
  }

  /** Whether the attempt's signal aborted, without making one. */
  get aborted(): boolean {
    return this.#timedOut || (!this.#disposed && this.#parent.aborted);
  }

  /** Why it aborted: the timeout error or the run's reason. */
  get reason(): unknown {
    return this.#timedOut ? this.#controller!.signal.reason : this.#parent.reason;
  }

  /** Whether the deadline passed (rather than the run stopping). */
  get timedOut(): boolean {
    return this.#timedOut;
  }

  /** Starts the clock; later calls do nothing. */
  arm(): void {
    if (this.#ms === undefined || this.#timer !== undefined || this.aborted) return;
    this.#timer = setTimeout(() => {
      if (this.aborted) return;
      this.#timedOut = true;
      this.#own().abort(this.#reason());
      const first = this.#onAbort;
      const more = this.#moreOnAbort;
      this.#onAbort = this.#moreOnAbort = undefined;
      first?.();
      if (more !== undefined) { for (const fn of more) fn(); }
    }, this.#ms);
  }

  /**
   * Waits for a body to settle; once the signal aborts, waits at most
   * `graceMs` more and then rejects with its reason, leaving the body
   * behind. One body per deadline.
   *
   * @param body The running body.
   * @param graceMs How long an aborted body may still take.
   * @returns What the body returned.
   * @throws What the body threw, or the abort reason when it outlived its grace.
   */
  settle<T>(body: Promise<T>, graceMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const onAbort = () => {
        if (timer !== undefined) return;
        timer = setTimeout(() => reject(this.reason), graceMs);
      };
      if (this.aborted) onAbort();
      else this.onAbort(onAbort);
      // One reaction for both outcomes, no `finally` chained on it: this runs
      // once per task attempt.
      const done = () => {
        clearTimeout(timer);
        this.offAbort(onAbort);
      };
      body.then((value) => {
        done();
        resolve(value);
      }, (error) => {
        done();
        reject(error);
      });
    });
  }

  /**
   * Calls `fn` once when the attempt's signal aborts, without making the
   * signal: the run's stop reaches it through the run's one listener, a
   * timeout through arm()'s timer. Nothing is called once it has aborted.
   *
   * @param fn Called at the abort.
   */
  onAbort(fn: () => void): void {
    if (this.aborted || this.#disposed) return;
    if (this.#onAbort === undefined) this.#onAbort = fn;
    else (this.#moreOnAbort ??= []).push(fn);
    follow(this.#parent, fn);
  }

  /**
   * Stops calling `fn`.
   *
   * @param fn As given to {@linkcode Deadline.onAbort}.
   */
  offAbort(fn: () => void): void {
    if (this.#onAbort === fn) this.#onAbort = undefined;
    else {
      const at = this.#moreOnAbort?.indexOf(fn) ?? -1;
      if (at !== -1) this.#moreOnAbort!.splice(at, 1);
    }
    unfollow(this.#parent, fn);
  }

  /** Stops the clock and stops following the run's signal. */
  [Symbol.dispose](): void {
    this.#disposed = true;
    clearTimeout(this.#timer);
    if (this.#controller !== undefined) unfollow(this.#parent, this.#controller);
    if (this.#onAbort !== undefined) unfollow(this.#parent, this.#onAbort);
    for (const fn of this.#moreOnAbort ?? []) unfollow(this.#parent, fn);
    this.#onAbort = this.#moreOnAbort = undefined;
  }
}
