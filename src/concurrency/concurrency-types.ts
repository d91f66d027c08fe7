/**
 * What a concurrency limiter hands out and reports: permits, rejections, telemetry events, and the
 * Retry-After estimate that goes with a rejection.
 */
import type { ReleaseOutcome } from './adaptive-limit.ts';

export type RejectionReason = 'queue_full' | 'queue_timeout' | 'aborted';

export class ConcurrencyRejection extends Error {
  readonly reason: RejectionReason;
  /** When a retry would likely find a slot; see `estimateRetryAfterMs`. */
  readonly retryAfterMs: number;
  readonly priorityClass: string;
  readonly waitedMs: number;

  constructor(reason: RejectionReason, priorityClass: string, retryAfterMs: number, waitedMs: number) {
    super(`concurrency limit: ${reason.replace('_', ' ')} (class ${priorityClass})`);
    this.name = 'ConcurrencyRejection';
    this.reason = reason;
    this.priorityClass = priorityClass;
    this.retryAfterMs = retryAfterMs;
    this.waitedMs = waitedMs;
  }
}

export interface Permit {
  /** The class the request was served as (an unknown class is served as the lowest). */
  readonly priorityClass: string;
  /** Time spent in the queue; 0 when a slot was free on arrival. */
  readonly waitedMs: number;
  /** Frees the slot. Only the first call counts: later ones are no-ops and feed nothing. */
  release(outcome: ReleaseOutcome): void;
}

export type ConcurrencyEvent =
  | {
      readonly type: 'rejected';
      readonly reason: RejectionReason;
      readonly priorityClass: string;
      readonly waitedMs: number;
      readonly retryAfterMs: number;
    }
  | { readonly type: 'limit'; readonly previous: number; readonly limit: number; readonly cause: LimitCause };

export type LimitCause = 'adaptive' | 'reconfigure';

export interface ConcurrencyCounters {
  readonly granted: number;
  readonly rejected: Readonly<Record<RejectionReason, number>>;
  readonly limitChanges: number;
}

const RETRY_AFTER_MIN_MS = 1000;
const RETRY_AFTER_MAX_MS = 60_000;

/**
 * When a rejected request could expect a slot: the time the queue ahead of it needs to drain, i.e.
 * the recent mean time a slot is held × (waiters of its class and above + 1) / limit, within
 * [1 s, 60 s]. Under a second invites a retry storm; over a minute, clients give up or ignore it.
 */
export function estimateRetryAfterMs(holdMs: number, ahead: number, limit: number): number {
  const estimate = Math.ceil((holdMs * (ahead + 1)) / Math.max(1, limit));
  return Math.min(RETRY_AFTER_MAX_MS, Math.max(RETRY_AFTER_MIN_MS, estimate));
}
