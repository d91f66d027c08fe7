/**
 * What one upstream attempt's end means: its label for the attempts metric, its failure for the
 * retry plan (with the response to deliver when no retry follows), the 503 when no target may take
 * the request, and the per-try timeout. Split from attempts.ts, which drives the attempts.
 */
import type { Timings } from '../pipeline/context.ts';
import { SluiceError } from '../pipeline/errors.ts';
import type { AttemptStatus } from './breaker-options.ts';
import type { UpstreamResponse } from './forward.ts';
import type { UpstreamGroup } from './group.ts';
import type { AttemptOutcome } from './retry-classify.ts';
import type { TargetRuntime } from './target.ts';

/** How one attempt ended, for the attempts metric. */
export type AttemptResultLabel =
  | 'success'
  | 'rate_limited'
  | 'server_error'
  | 'connect_error'
  | 'timeout'
  | 'reset'
  | 'hedge_lost'
  | 'aborted';

/** A failed attempt: its outcome for the retry plan, and the response to deliver if none follows. */
export class AttemptFailure extends Error {
  readonly outcome: AttemptOutcome;
  readonly response: UpstreamResponse | undefined;
  readonly target: TargetRuntime;
  readonly timings: Timings;
  override readonly cause: unknown;
  constructor(
    outcome: AttemptOutcome,
    answered: { response: UpstreamResponse | undefined; target: TargetRuntime; timings: Timings },
    cause: unknown,
  ) {
    super('upstream attempt failed');
    this.outcome = outcome;
    this.response = answered.response;
    this.target = answered.target;
    this.timings = answered.timings;
    this.cause = cause;
  }
}

export const transportStatus: Partial<Record<string, AttemptStatus>> = {
  upstream_connect_failed: 'connect_error',
  upstream_connect_timeout: 'connect_error',
  upstream_headers_timeout: 'timeout',
  upstream_connection_reset: 'reset',
  upstream_bad_response: 'reset',
};

export function statusLabel(status: number): AttemptResultLabel {
  if (status === 429) return 'rate_limited';
  return status >= 500 ? 'server_error' : 'success';
}

export function freshTimings(start: number): Timings {
  return {
    start,
    clientBodyWaitMs: 0,
    upstreamDispatch: 0,
    upstreamConnected: 0,
    upstreamHeaders: 0,
    upstreamEnd: 0,
    responseStart: 0,
    responseEnd: 0,
    upstreamRetryWaitMs: 0,
  };
}

/** Give-up reasons that mean "a retry was wanted but not made" (the retries-denied metric). */
export const deniedReasons: ReadonlySet<string> = new Set([
  'budget_exhausted',
  'max_attempts',
  'deadline_exceeded',
  'retry_after_too_long',
]);

/** A 503 upstream_unavailable with the Retry-After the chain's health can give. */
export function unavailable(chain: readonly UpstreamGroup[]): SluiceError {
  let soonest: number | undefined;
  for (const group of chain) {
    const inMs = group.retryInMs();
    if (inMs !== undefined && (soonest === undefined || inMs < soonest)) soonest = inMs;
  }
  const seconds = Math.max(1, Math.ceil((soonest ?? 1000) / 1000));
  return new SluiceError('upstream_unavailable', {
    detail: `(upstream "${chain[0]!.name}")`,
    headers: { 'retry-after': String(seconds) },
  });
}

/**
 * The per-try timeout as a signal that also follows `signal`; clear it once headers arrive. Its
 * reason is a headers timeout, so the retry plan treats it like one.
 */
export function perTryTimeout(signal: AbortSignal, ms: number): { signal: AbortSignal; clear: () => void } {
  const controller = new AbortController();
  const follow = () => controller.abort(signal.reason);
  signal.addEventListener('abort', follow, { once: true });
  const timer = setTimeout(
    () =>
      controller.abort(
        new SluiceError('upstream_headers_timeout', { detail: `(per-try timeout of ${Math.round(ms)} ms)` }),
      ),
    ms,
  );
  return {
    signal: controller.signal,
    clear: () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', follow);
    },
  };
}
