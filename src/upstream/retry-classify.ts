/**
 * Whether one failed upstream attempt may be sent again. Only failures where the upstream certainly
 * or very probably did not act on the request, or told us to come back, are retried: connect errors,
 * a connection dropped before response headers, no headers in time, the configured 5xx, and 429.
 * Everything else — another status, a response already flowing to the client, a client that left —
 * is final. The reasons are a closed set, so they can be metric labels.
 */
import type { ErrorCode } from '../pipeline/errors.ts';
import { SluiceError } from '../pipeline/errors.ts';
import { type HeaderBag, retryAfterMs } from './retry-after.ts';
import type { RetryPolicy } from './retry-options.ts';

/** How one attempt ended, as far as the retry decision cares. */
export type AttemptOutcome =
  /** Response headers arrived (nothing of them has been sent to the client yet). */
  | { readonly kind: 'response'; readonly status: number; readonly headers: HeaderBag }
  /** The attempt failed before response headers; `code` is the error catalog's (upstreamError). */
  | { readonly kind: 'error'; readonly code: ErrorCode };

/** Why an attempt is retried. */
export type RetryCause =
  | 'connect_failed'
  | 'connect_timeout'
  | 'connection_reset'
  | 'headers_timeout'
  | 'status'
  | 'rate_limited';

/** Why an attempt is not retried, whatever the budget says. */
export type FinalCause =
  | 'response_started'
  | 'client_gone'
  | 'not_idempotent'
  | 'not_retryable'
  | 'retry_after_too_long';

export type RetryClassification =
  | { readonly retry: true; readonly reason: RetryCause; readonly delayHintMs?: number }
  | { readonly retry: false; readonly reason: FinalCause };

export interface AttemptContext {
  readonly method: string;
  /** A byte of the response (headers included) reached the client: the answer is committed. */
  readonly responseStarted: boolean;
  /** The client disconnected or its request was otherwise abandoned. */
  readonly clientGone: boolean;
  /** Wall clock (Date.now) for HTTP-date Retry-After values. */
  readonly wallNowMs: number;
}

// RFC 9110 §9.2.2: sending these twice has the effect of sending them once.
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

const errorCauses: Partial<Record<ErrorCode, RetryCause>> = {
  upstream_connect_failed: 'connect_failed',
  upstream_connect_timeout: 'connect_timeout',
  // forward.ts only rejects with a reset before headers; after them it breaks the body instead.
  upstream_connection_reset: 'connection_reset',
  upstream_headers_timeout: 'headers_timeout',
  // upstream_bad_response is not here: an upstream that speaks broken HTTP does so again.
};

type Policy = Pick<RetryPolicy, 'statuses' | 'retryRateLimited' | 'maxRetryAfterMs' | 'retryNonIdempotent'>;

export function classifyAttempt(
  outcome: AttemptOutcome,
  context: AttemptContext,
  policy: Policy,
): RetryClassification {
  // Checked first and unconditionally: resending after bytes went out would splice two responses.
  if (context.responseStarted) return { retry: false, reason: 'response_started' };
  if (context.clientGone) return { retry: false, reason: 'client_gone' };
  if (!policy.retryNonIdempotent && !IDEMPOTENT.has(context.method.toUpperCase())) {
    return { retry: false, reason: 'not_idempotent' };
  }
  if (outcome.kind === 'error') {
    const cause = errorCauses[outcome.code];
    return cause === undefined ? { retry: false, reason: 'not_retryable' } : { retry: true, reason: cause };
  }
  const cause: RetryCause | undefined =
    outcome.status === 429 && policy.retryRateLimited
      ? 'rate_limited'
      : policy.statuses.includes(outcome.status)
        ? 'status'
        : undefined;
  if (cause === undefined) return { retry: false, reason: 'not_retryable' };
  // 503 may carry Retry-After too (RFC 9110); it means the same as on 429.
  const hint = retryAfterMs(outcome.headers, context.wallNowMs);
  if (hint === undefined) return { retry: true, reason: cause };
  // Waiting less than asked earns another 429, waiting longer holds the client hostage: pass it on.
  if (hint > policy.maxRetryAfterMs) return { retry: false, reason: 'retry_after_too_long' };
  return { retry: true, reason: cause, delayHintMs: hint };
}

/**
 * The outcome of an attempt that rejected before headers. A SluiceError carries its catalog code
 * (sendUpstream rejects with those); anything else is not an upstream failure we understand, so it
 * maps to a code that is never retried.
 */
export function outcomeFromError(error: unknown): AttemptOutcome {
  return { kind: 'error', code: error instanceof SluiceError ? error.code : 'internal_error' };
}
