/**
 * The two rate-limit algorithms as pure functions of a small state and a clock reading, so a fake
 * clock tests them and both stores share them. rate-lua.ts repeats the state transitions in Lua
 * with the same floating-point operations in the same order, so a decision does not depend on
 * which store made it; the numbers reported to clients (remaining, reset, retry) are computed here
 * only, from the state the Lua script returns.
 *
 * Times are milliseconds on whatever clock the store reads (a monotonic one in memory, the Redis
 * server's in Redis); only differences and window alignment matter.
 */
import type { RateDecision, RatePolicy } from './rate-types.ts';

/** A token bucket: `tokens` is the level at `updatedMs`; below zero it is a debt left by adjust(). */
export interface BucketState {
  readonly tokens: number;
  readonly updatedMs: number;
}

/** A sliding window counter: units taken in the fixed window starting at `startMs` and the one before. */
export interface WindowState {
  readonly startMs: number;
  readonly current: number;
  readonly previous: number;
}

export interface RateStep<S> {
  readonly allowed: boolean;
  /** The state after the step, brought to `nowMs`: new when allowed, only refilled or rolled when not. */
  readonly state: S;
}

/** One algorithm's steps; the memory store runs them, the Redis store runs their Lua twins. */
export interface RateAlgorithmSteps<S> {
  take(policy: RatePolicy, state: S | undefined, nowMs: number, cost: number): RateStep<S>;
  adjust(policy: RatePolicy, state: S | undefined, nowMs: number, delta: number): S;
  decide(policy: RatePolicy, state: S, nowMs: number, cost: number, allowed: boolean): RateDecision;
  /** Ms until `state` means the same as no state at all (0 if it already does): how long to keep it. */
  idleMs(policy: RatePolicy, state: S, nowMs: number): number;
}

export function bucketCapacity(policy: RatePolicy): number {
  return policy.burst ?? policy.limit;
}

/** The bucket refilled up to `nowMs`. A clock that stepped back refills nothing rather than failing. */
export function bucketAt(policy: RatePolicy, state: BucketState | undefined, nowMs: number): BucketState {
  const capacity = bucketCapacity(policy);
  if (state === undefined) return { tokens: capacity, updatedMs: nowMs };
  const elapsed = Math.max(0, nowMs - state.updatedMs);
  return {
    tokens: Math.min(capacity, state.tokens + (elapsed * policy.limit) / policy.windowMs),
    updatedMs: nowMs,
  };
}

export const tokenBucket: RateAlgorithmSteps<BucketState> = {
  take(policy, state, nowMs, cost) {
    const now = bucketAt(policy, state, nowMs);
    if (cost > now.tokens) return { allowed: false, state: now };
    return { allowed: true, state: { tokens: now.tokens - cost, updatedMs: nowMs } };
  },

  adjust(policy, state, nowMs, delta) {
    const now = bucketAt(policy, state, nowMs);
    return { tokens: Math.min(bucketCapacity(policy), now.tokens - delta), updatedMs: nowMs };
  },

  decide(policy, state, nowMs, cost, allowed) {
    let retryAfterMs = 0;
    if (!allowed) {
      retryAfterMs =
        cost > bucketCapacity(policy)
          ? Number.POSITIVE_INFINITY
          : Math.ceil(((cost - state.tokens) * policy.windowMs) / policy.limit);
    }
    return {
      allowed,
      limit: policy.limit,
      remaining: Math.max(0, Math.floor(state.tokens)),
      resetMs: tokenBucket.idleMs(policy, state, nowMs),
      retryAfterMs,
    };
  },

  idleMs(policy, state) {
    const missing = bucketCapacity(policy) - state.tokens;
    return missing > 0 ? Math.ceil((missing * policy.windowMs) / policy.limit) : 0;
  },
};

/**
 * The window holding `nowMs`, carrying the counts over: the current window becomes the previous
 * one when exactly one window has passed; anything older no longer counts. A clock that stepped
 * back keeps counting in the saved window instead of forgetting it.
 */
export function windowAt(policy: RatePolicy, state: WindowState | undefined, nowMs: number): WindowState {
  const windowMs = policy.windowMs;
  const startMs = Math.floor(nowMs / windowMs) * windowMs;
  if (state === undefined) return { startMs, current: 0, previous: 0 };
  if (state.startMs >= startMs) return state;
  if (state.startMs + windowMs === startMs) return { startMs, current: 0, previous: state.current };
  return { startMs, current: 0, previous: 0 };
}

/** The estimate of what the sliding window ending at `nowMs` holds: the previous window counts by its overlap. */
export function windowUsed(policy: RatePolicy, state: WindowState, nowMs: number): number {
  const windowMs = policy.windowMs;
  const weight = Math.min(1, Math.max(0, (windowMs - (nowMs - state.startMs)) / windowMs));
  return state.previous * weight + state.current;
}

/** Ms until `cost` more units fit under the limit, for a state that did not admit them. */
function windowRetryMs(policy: RatePolicy, state: WindowState, nowMs: number, cost: number): number {
  if (cost > policy.limit) return Number.POSITIVE_INFINITY;
  const windowMs = policy.windowMs;
  const room = policy.limit - cost;
  const toNextWindow = state.startMs + windowMs - nowMs;
  if (state.current <= room && state.previous > 0) {
    // This window's own units fit: wait until the previous window's share has slid out enough.
    return Math.max(1, Math.ceil(toNextWindow - (windowMs * (room - state.current)) / state.previous));
  }
  // They do not: wait into the next window, where this window's count is the one sliding out.
  return Math.max(1, Math.ceil(toNextWindow + windowMs - (windowMs * room) / state.current));
}

export const slidingWindow: RateAlgorithmSteps<WindowState> = {
  take(policy, state, nowMs, cost) {
    const now = windowAt(policy, state, nowMs);
    if (windowUsed(policy, now, nowMs) + cost > policy.limit) return { allowed: false, state: now };
    return { allowed: true, state: { ...now, current: now.current + cost } };
  },

  adjust(policy, state, nowMs, delta) {
    const now = windowAt(policy, state, nowMs);
    const current = now.current + delta;
    // A refund larger than this window's count belongs to a request admitted in the previous one.
    if (current < 0)
      return { startMs: now.startMs, current: 0, previous: Math.max(0, now.previous + current) };
    return { ...now, current };
  },

  decide(policy, state, nowMs, cost, allowed) {
    return {
      allowed,
      limit: policy.limit,
      remaining: Math.max(0, Math.floor(policy.limit - windowUsed(policy, state, nowMs))),
      resetMs: slidingWindow.idleMs(policy, state, nowMs),
      retryAfterMs: allowed ? 0 : windowRetryMs(policy, state, nowMs, cost),
    };
  },

  idleMs(policy, state, nowMs) {
    // This window's units count until the end of the next one; the previous window's until this one ends.
    if (state.current > 0) return Math.ceil(state.startMs + 2 * policy.windowMs - nowMs);
    if (state.previous > 0) return Math.ceil(state.startMs + policy.windowMs - nowMs);
    return 0;
  },
};
