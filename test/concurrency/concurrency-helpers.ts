/**
 * A clock the test owns: queue timeouts fire when the test advances time, never on the wall clock,
 * so timeout tests are exact and take no real time.
 */

import type { ConcurrencyLimiter, Permit } from '../../src/concurrency/concurrency.ts';
import type { SetTimer } from '../../src/concurrency/concurrency-options.ts';

interface Timer {
  readonly at: number;
  readonly callback: () => void;
  live: boolean;
}

export class FakeClock {
  time = 0;
  private timers: Timer[] = [];

  readonly now = (): number => this.time;

  readonly setTimer: SetTimer = (callback, delayMs) => {
    const timer: Timer = { at: this.time + delayMs, callback, live: true };
    this.timers.push(timer);
    return () => {
      timer.live = false;
    };
  };

  /** Timers armed and not yet fired or cancelled. */
  get pending(): number {
    return this.timers.filter((timer) => timer.live).length;
  }

  /** Moves time forward, firing due timers in order at their own instant. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      this.timers = this.timers.filter((timer) => timer.live);
      const due = this.timers.filter((timer) => timer.at <= end).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) break;
      this.time = Math.max(this.time, due.at);
      due.live = false;
      due.callback();
    }
    this.time = end;
  }
}

/** Lets promise callbacks run, so grants and rejections become visible to the test. */
export const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Acquires and records in `log` when the permit or rejection arrives. */
export function track(
  limiter: ConcurrencyLimiter,
  label: string,
  priorityClass: string,
  log: string[],
  signal?: AbortSignal,
): Promise<Permit | undefined> {
  return limiter.acquire(priorityClass, signal).then(
    (permit) => {
      log.push(label);
      return permit;
    },
    (error: { reason: string }) => {
      log.push(`${label}:${error.reason}`);
      return undefined;
    },
  );
}
