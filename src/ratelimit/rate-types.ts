/**
 * The rate-limit vocabulary shared by the algorithms, the stores and the stage that uses them. A
 * policy says how much, a store remembers how much was used; nothing here knows about HTTP.
 */
import { createHash } from 'node:crypto';

export type RateAlgorithm = 'token_bucket' | 'sliding_window';

/** What a shared-store policy does while Redis is unavailable (see FailoverRateStore). */
export type RateFailureMode = 'fail_open' | 'fail_closed';

export interface RatePolicy {
  /** Unique per process, e.g. `${route}/${name}`; part of storage keys, so no braces. */
  readonly id: string;
  readonly algorithm: RateAlgorithm;
  /** Units per window (> 0). */
  readonly limit: number;
  /** A whole number of milliseconds; the token bucket refills `limit` units per window, continuously. */
  readonly windowMs: number;
  /** Token bucket capacity (default: limit); ignored by sliding_window. */
  readonly burst?: number;
  /** Only the FailoverRateStore reads it. Default fail_open. */
  readonly failure?: RateFailureMode;
}

export interface RateDecision {
  readonly allowed: boolean;
  /** The policy's limit (for headers). */
  readonly limit: number;
  /** Units left after this decision (>= 0, floor). */
  readonly remaining: number;
  /** Ms until the quota is fully available again (bucket full / window over). */
  readonly resetMs: number;
  /** 0 when allowed; else ms until `cost` units would be available (Infinity when cost > capacity). */
  readonly retryAfterMs: number;
  /** Set when the shared store could not decide and the policy fails closed: answer 503, not 429. */
  readonly storeUnavailable?: true;
  /** Set when the shared store was unavailable and this replica's local limiter decided instead. */
  readonly local?: true;
}

export interface RateStore {
  /** All or nothing: takes `cost` units for `key` under `policy` if they are available now. */
  acquire(policy: RatePolicy, key: string, cost: number): Promise<RateDecision>;
  /** The same decision without a promise, for stores that need no I/O (the in-memory one). */
  acquireNow?(policy: RatePolicy, key: string, cost: number): RateDecision;
  /** After the fact: delta < 0 gives units back (refund), delta > 0 takes more (may leave a debt: later acquires wait). */
  adjust(policy: RatePolicy, key: string, delta: number): Promise<void>;
  close(): Promise<void>;
}

/** Policies already checked: a policy object lives as long as its config, and a check per request would be waste. */
const checked = new WeakSet<RatePolicy>();

/**
 * Throws a RangeError naming the bad field. The config schema rejects these with line:col first;
 * this guards the stores against anything that bypasses it, since a zero window or limit would
 * turn every decision into NaN or Infinity.
 */
export function assertRatePolicy(policy: RatePolicy): void {
  if (checked.has(policy)) return;
  const fail = (what: string): never => {
    throw new RangeError(`rate policy ${JSON.stringify(policy.id)}: ${what}`);
  };
  if (policy.id.length === 0 || /[{}]/.test(policy.id)) fail('id must be non-empty and contain no braces');
  if (!(Number.isFinite(policy.limit) && policy.limit > 0)) fail(`limit must be > 0, got ${policy.limit}`);
  // Whole milliseconds keep window starts exact integers, so "the next window" is an exact equality.
  if (!(Number.isSafeInteger(policy.windowMs) && policy.windowMs > 0)) {
    fail(`windowMs must be a positive whole number, got ${policy.windowMs}`);
  }
  const burst = policy.burst;
  if (burst !== undefined && !(Number.isFinite(burst) && burst > 0)) fail(`burst must be > 0, got ${burst}`);
  checked.add(policy);
}

/** Throws unless `units` is a finite number >= 0 (a cost) or finite (a delta, `signed`). */
export function assertUnits(units: number, signed: boolean): void {
  if (!Number.isFinite(units) || (!signed && units < 0)) {
    throw new RangeError(
      `rate ${signed ? 'delta' : 'cost'} must be finite${signed ? '' : ' and >= 0'}, got ${units}`,
    );
  }
}

/** Short keys made of these characters are stored as they are, so `redis-cli KEYS` stays readable. */
const PLAIN_KEY = /^[A-Za-z0-9._:@/=+-]{0,64}$/;

/**
 * The part of a storage key that stands for a client-derived key: itself when short and plain,
 * else `#` + sha256 in base64url (43 characters). Client-chosen keys (headers, IPs) are then
 * bounded in length and can never contain a brace that would move the Redis Cluster hash tag;
 * `#` cannot occur in a plain key, so the two forms never collide.
 */
export function storedKeyPart(key: string): string {
  return PLAIN_KEY.test(key) ? key : `#${createHash('sha256').update(key).digest('base64url')}`;
}
