/**
 * Options of upstream retries, their defaults and their eager validation: the config schema checks
 * the YAML, but a policy built from bad numbers (a NaN base delay, a ratio of -1) would misbehave
 * silently under the first outage, which is the worst moment to find out, so the constructors refuse
 * them with the name of the field.
 */

export interface RetryPolicy {
  /** Attempts per request including the first (1 = never retry). */
  readonly maxAttempts: number;
  /** Statuses retried besides 429, e.g. [502, 503, 504]. */
  readonly statuses: readonly number[];
  /** Retry 429 at all (default true); its `Retry-After` decides when. */
  readonly retryRateLimited: boolean;
  /** A `Retry-After` longer than this is not waited for: the response goes to the client as it is. */
  readonly maxRetryAfterMs: number;
  /** Retry methods that are not idempotent (POST, PATCH). LLM routes opt in: a completion is a read. */
  readonly retryNonIdempotent: boolean;
  /** Exponential backoff: the ceiling of the n-th retry's delay is min(maxDelayMs, baseDelayMs × 2ⁿ). */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** Time an attempt may take to send response headers; the overall deadline still wins. */
  readonly perTryTimeoutMs: number;
}

export const retryDefaults: RetryPolicy = {
  maxAttempts: 3,
  statuses: [502, 503, 504],
  retryRateLimited: true,
  maxRetryAfterMs: 10_000,
  retryNonIdempotent: false,
  baseDelayMs: 100,
  maxDelayMs: 2_000,
  perTryTimeoutMs: 30_000,
};

/** The defaults with `overrides` on top, validated once, so per-request plans can trust it. */
export function resolveRetryPolicy(overrides: Partial<RetryPolicy> = {}): RetryPolicy {
  const policy: RetryPolicy = { ...retryDefaults, ...overrides };
  validateRetryPolicy(policy);
  return Object.freeze({ ...policy, statuses: Object.freeze([...policy.statuses]) });
}

export interface BudgetOptions {
  /** Share of requests that may be retried (or hedged) on top of the minimum, e.g. 0.2. */
  readonly ratio: number;
  /** Retries allowed per second of window whatever the traffic, so a quiet route can still retry. */
  readonly minRetriesPerSecond: number;
  /** Length of the sliding window the counts cover (default 10 s, as Finagle's ttl). */
  readonly windowMs: number;
  /** Buckets the window moves by; the window forgets in steps of windowMs / buckets. */
  readonly buckets: number;
}

export const budgetDefaults: BudgetOptions = {
  ratio: 0.2,
  minRetriesPerSecond: 1,
  windowMs: 10_000,
  buckets: 10,
};

function check(ok: boolean, path: string, rule: string, value: unknown): void {
  if (!ok) throw new RangeError(`${path} must be ${rule}, got ${String(value)}`);
}

const finiteAtLeast = (value: number, min: number) => Number.isFinite(value) && value >= min;

export function validateRetryPolicy(policy: RetryPolicy): void {
  const { maxAttempts, baseDelayMs, maxDelayMs } = policy;
  check(Number.isInteger(maxAttempts) && maxAttempts >= 1, 'maxAttempts', 'an integer ≥ 1', maxAttempts);
  for (const status of policy.statuses) {
    check(Number.isInteger(status) && status >= 500 && status <= 599, 'statuses', 'integers 500-599', status);
  }
  check(finiteAtLeast(baseDelayMs, 0), 'baseDelayMs', 'a number ≥ 0', baseDelayMs);
  check(finiteAtLeast(maxDelayMs, baseDelayMs), 'maxDelayMs', `a number ≥ baseDelayMs`, maxDelayMs);
  check(finiteAtLeast(policy.maxRetryAfterMs, 0), 'maxRetryAfterMs', 'a number ≥ 0', policy.maxRetryAfterMs);
  check(
    Number.isFinite(policy.perTryTimeoutMs) && policy.perTryTimeoutMs > 0,
    'perTryTimeoutMs',
    'a number > 0',
    policy.perTryTimeoutMs,
  );
}

export function validateBudgetOptions(options: BudgetOptions): void {
  const { ratio, minRetriesPerSecond, windowMs, buckets } = options;
  check(finiteAtLeast(ratio, 0), 'ratio', 'a number ≥ 0', ratio);
  check(finiteAtLeast(minRetriesPerSecond, 0), 'minRetriesPerSecond', 'a number ≥ 0', minRetriesPerSecond);
  check(
    Number.isInteger(buckets) && buckets >= 1 && buckets <= 1000,
    'buckets',
    'an integer 1-1000',
    buckets,
  );
  check(
    Number.isFinite(windowMs) && windowMs >= buckets,
    'windowMs',
    'a number ≥ buckets (1 ms each)',
    windowMs,
  );
}
