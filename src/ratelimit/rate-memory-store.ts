/**
 * The embedded rate-limit store: the pure algorithms over an in-process LRU map. Exact for one
 * process; with several replicas each one limits on its own, so use the Redis store there.
 *
 * Keys come from clients (a header, an IP), so whoever sends many distinct keys would grow the map
 * without end: it holds at most `maxKeys` keys, and past that the least recently used key is
 * forgotten. Forgetting a key whose usage has already refilled or slid out loses nothing (no state
 * and a full quota mean the same); forgetting one that still holds usage gives its client a full
 * quota again early, which `stats().evictions` counts so the integrator can alert on it.
 */
import { performance } from 'node:perf_hooks';
import { LRUCache } from 'lru-cache';
import {
  type BucketState,
  type RateAlgorithmSteps,
  slidingWindow,
  tokenBucket,
  type WindowState,
} from './rate-algorithms.ts';
import {
  assertRatePolicy,
  assertUnits,
  type RateDecision,
  type RatePolicy,
  type RateStore,
  storedKeyPart,
} from './rate-types.ts';

export const DEFAULT_MAX_KEYS = 100_000;

export interface MemoryRateStoreOptions {
  /** Most keys (policy × client key) remembered at once. Default 100 000 (a few tens of MB at most). */
  readonly maxKeys?: number;
  /** Milliseconds on a monotonic clock; tests pass a fake one. Default performance.now. */
  readonly now?: () => number;
}

export interface MemoryRateStoreStats {
  readonly keys: number;
  readonly maxKeys: number;
  /** Keys forgotten to stay within maxKeys while they still held usage, since start. */
  readonly evictions: number;
}

/** Mutable, so a key's next state replaces the old in place: an LRU set per decision showed in profiles. */
type Entry =
  | { readonly algorithm: 'token_bucket'; state: BucketState; idleAtMs: number }
  | { readonly algorithm: 'sliding_window'; state: WindowState; idleAtMs: number };

export class MemoryRateStore implements RateStore {
  readonly #now: () => number;
  readonly #maxKeys: number;
  readonly #entries: LRUCache<string, Entry>;
  #evictions = 0;

  constructor(options: MemoryRateStoreOptions = {}) {
    const maxKeys = options.maxKeys ?? DEFAULT_MAX_KEYS;
    if (!Number.isSafeInteger(maxKeys) || maxKeys < 1) {
      throw new RangeError(`rate store maxKeys must be a positive integer, got ${maxKeys}`);
    }
    this.#maxKeys = maxKeys;
    // A bare call would lose performance's `this`.
    this.#now = options.now ?? (() => performance.now());
    this.#entries = new LRUCache<string, Entry>({
      max: maxKeys,
      dispose: (entry, _key, reason) => {
        if (reason === 'evict' && entry.idleAtMs > this.#now()) this.#evictions += 1;
      },
    });
  }

  async acquire(policy: RatePolicy, key: string, cost: number): Promise<RateDecision> {
    return this.acquireNow(policy, key, cost);
  }

  acquireNow(policy: RatePolicy, key: string, cost: number): RateDecision {
    assertRatePolicy(policy);
    assertUnits(cost, false);
    const mapKey = entryKey(policy, key);
    const nowMs = this.#now();
    if (policy.algorithm === 'token_bucket') {
      return this.#acquire(tokenBucket, policy, mapKey, this.#bucket(mapKey), nowMs, cost);
    }
    return this.#acquire(slidingWindow, policy, mapKey, this.#window(mapKey), nowMs, cost);
  }

  async adjust(policy: RatePolicy, key: string, delta: number): Promise<void> {
    assertRatePolicy(policy);
    assertUnits(delta, true);
    if (delta === 0) return;
    const mapKey = entryKey(policy, key);
    const nowMs = this.#now();
    if (policy.algorithm === 'token_bucket') {
      this.#store(
        tokenBucket,
        policy,
        mapKey,
        tokenBucket.adjust(policy, this.#bucket(mapKey), nowMs, delta),
        nowMs,
      );
    } else {
      const state = slidingWindow.adjust(policy, this.#window(mapKey), nowMs, delta);
      this.#store(slidingWindow, policy, mapKey, state, nowMs);
    }
  }

  async close(): Promise<void> {
    this.#entries.clear();
  }

  stats(): MemoryRateStoreStats {
    return { keys: this.#entries.size, maxKeys: this.#maxKeys, evictions: this.#evictions };
  }

  #acquire<S>(
    steps: RateAlgorithmSteps<S>,
    policy: RatePolicy,
    mapKey: string,
    saved: S | undefined,
    nowMs: number,
    cost: number,
  ): RateDecision {
    const { allowed, state } = steps.take(policy, saved, nowMs, cost);
    // A refused request changes nothing, so it writes nothing (it only refilled or rolled the view).
    if (allowed) this.#store(steps, policy, mapKey, state, nowMs);
    return steps.decide(policy, state, nowMs, cost, allowed);
  }

  #store<S>(steps: RateAlgorithmSteps<S>, policy: RatePolicy, mapKey: string, state: S, nowMs: number): void {
    const idleMs = steps.idleMs(policy, state, nowMs);
    if (idleMs <= 0) {
      this.#entries.delete(mapKey);
      return;
    }
    const existing = this.#entries.peek(mapKey);
    if (existing !== undefined && existing.algorithm === policy.algorithm) {
      // The algorithm of the policy picked `steps`, so `state` is that algorithm's state.
      (existing as unknown as { state: S }).state = state;
      existing.idleAtMs = nowMs + idleMs;
      return;
    }
    this.#entries.set(mapKey, { algorithm: policy.algorithm, state, idleAtMs: nowMs + idleMs } as Entry);
  }

  // An entry of another algorithm (a reload changed the policy) is no state for this one.
  #bucket(mapKey: string): BucketState | undefined {
    const entry = this.#entries.get(mapKey);
    return entry?.algorithm === 'token_bucket' ? entry.state : undefined;
  }

  #window(mapKey: string): WindowState | undefined {
    const entry = this.#entries.get(mapKey);
    return entry?.algorithm === 'sliding_window' ? entry.state : undefined;
  }
}

/**
 * Keys are only hashed when long (or when they could pass for a hash, `#…`): in memory a brace is
 * harmless, and the length is what has to be bounded.
 */
function entryKey(policy: RatePolicy, key: string): string {
  const plain = key.length <= MAX_PLAIN_KEY_CHARS && !key.startsWith('#');
  return `${policy.id}\u0000${plain ? key : storedKeyPart(key)}`;
}

const MAX_PLAIN_KEY_CHARS = 64;
