/**
 * Fake timers for tests, the one place that imports `@sinonjs/fake-timers`:
 * a clock installed over the global timers and `performance.now()` (for code
 * that looks timers up globally, as spool's retry waits and deadlines do),
 * and a free-standing clock (for code that is handed its timer functions).
 *
 * @module
 */

import FakeTimers from "@sinonjs/fake-timers";

/** The clock a test drives by hand. */
export type FakeClock = ReturnType<typeof FakeTimers.createClock>;

/** A clock installed over the global timers; disposing puts the real ones back. */
export interface InstalledClock extends Disposable {
  /** Fake milliseconds since the clock was installed. */
  readonly now: number;
  /**
   * Advances time, running due timers and the promise reactions between
   * them, as the event loop would.
   *
   * @param ms How far to advance, in ms.
   */
  tickAsync(ms: number): Promise<void>;
  /** Runs every pending timer, advancing time as far as it takes. */
  runAllAsync(): Promise<void>;
}

/**
 * Installs fake `setTimeout`, `clearTimeout`, `Date` and `performance.now()`,
 * starting at 0, for `using`.
 *
 * @returns The clock; disposing uninstalls it.
 */
export function installFakeTime(): InstalledClock {
  const clock = FakeTimers.install({
    now: 0,
    toFake: ["setTimeout", "clearTimeout", "Date", "performance"],
  });
  return {
    get now() {
      return clock.now;
    },
    async tickAsync(ms) {
      await clock.tickAsync(ms);
    },
    async runAllAsync() {
      await clock.runAllAsync();
    },
    [Symbol.dispose]() {
      clock.uninstall();
    },
  };
}

/**
 * A clock that replaces nothing: pass its `setTimeout` to the code under test.
 *
 * @param now The clock's start, in ms; default 0.
 * @returns The clock.
 */
export function createClock(now = 0): FakeClock {
  return FakeTimers.createClock(now);
}
