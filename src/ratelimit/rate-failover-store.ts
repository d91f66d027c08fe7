/**
 * The store a route uses when Redis is configured: decisions are made in Redis while it is
 * available, and each policy says what happens while it is not.
 *
 * - `fail_open` (default): this replica's MemoryRateStore decides. Limits are then per replica
 *   (N replicas admit up to N times the limit) and start from a full quota, but requests flow.
 * - `fail_closed`: refused with `storeUnavailable: true`, which the HTTP layer answers 503 with
 *   Retry-After: the client did nothing wrong (a 429 would tell it that it had exceeded its quota),
 *   and 503 is what callers and their retry logic already treat as "try again shortly".
 *
 * "Unavailable" is checked before the call, so while Redis is known down no request waits for it;
 * a call that fails anyway (Redis died under it) falls back the same way, after at most the
 * command timeout. Redis coming back is used again by itself, as soon as the Redis store is up.
 */
import { MemoryRateStore } from './rate-memory-store.ts';
import type { RateDecision, RatePolicy, RateStore } from './rate-types.ts';

/** What the failover store needs of the shared store: RedisRateStore, or a stand-in in tests. */
export interface SharedRateStore extends RateStore {
  /** Whether a call would reach the shared store now; false means it would reject at once. */
  available(): boolean;
}

export interface FailoverRateStoreOptions {
  /** The fail_open fallback; default a new MemoryRateStore with its defaults. */
  readonly local?: RateStore;
  /** Retry-After for a fail_closed refusal: about one reconnect attempt. Default 2000 ms. */
  readonly unavailableRetryAfterMs?: number;
}

export class FailoverRateStore implements RateStore {
  readonly #shared: SharedRateStore;
  readonly #local: RateStore;
  readonly #unavailableRetryAfterMs: number;

  constructor(shared: SharedRateStore, options: FailoverRateStoreOptions = {}) {
    this.#shared = shared;
    this.#local = options.local ?? new MemoryRateStore();
    this.#unavailableRetryAfterMs = options.unavailableRetryAfterMs ?? 2000;
  }

  async acquire(policy: RatePolicy, key: string, cost: number): Promise<RateDecision> {
    if (this.#shared.available()) {
      try {
        return await this.#shared.acquire(policy, key, cost);
      } catch (error) {
        // Only an unreachable store falls back; a bad argument is the caller's bug.
        if (error instanceof RangeError) throw error;
      }
    }
    if (policy.failure === 'fail_closed') {
      return {
        allowed: false,
        limit: policy.limit,
        remaining: 0,
        resetMs: this.#unavailableRetryAfterMs,
        retryAfterMs: this.#unavailableRetryAfterMs,
        storeUnavailable: true,
      };
    }
    return { ...(await this.#local.acquire(policy, key, cost)), local: true };
  }

  /**
   * Goes where acquire() would go now. A reservation made in Redis and reconciled during an outage
   * (or the other way round) is reconciled in the other store: a refund there changes little (a
   * full quota stays full), a charge there is still charged to the client. At most one request's
   * estimate per request in flight at the change is misplaced.
   */
  async adjust(policy: RatePolicy, key: string, delta: number): Promise<void> {
    if (this.#shared.available()) {
      try {
        await this.#shared.adjust(policy, key, delta);
        return;
      } catch (error) {
        if (error instanceof RangeError) throw error;
      }
    }
    if (policy.failure !== 'fail_closed') await this.#local.adjust(policy, key, delta);
  }

  async close(): Promise<void> {
    await Promise.all([this.#shared.close(), this.#local.close()]);
  }
}
