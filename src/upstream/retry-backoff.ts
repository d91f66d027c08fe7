/**
 * Exponential backoff with full jitter (Marc Brooker, "Exponential Backoff And Jitter", AWS
 * Architecture Blog, 2015): the n-th retry waits a uniform random time in [0, min(cap, base × 2ⁿ)).
 * Without jitter, every request that failed in the same outage retries in the same instant and the
 * upstream sees the spike again; full jitter spreads them over the whole interval, which the blog
 * measured as the least total work among the jitter variants.
 */

/** A uniform random number in [0, 1), like Math.random; injectable so tests are deterministic. */
export type Random = () => number;

/**
 * The delay before retry number `retry` (0 for the first retry). A `hintMs` from the upstream
 * (Retry-After) replaces the jittered delay: the upstream knows when its limit resets, and waiting
 * less only earns another 429. The caller has already refused hints above its own cap.
 */
export function backoffDelayMs(
  retry: number,
  baseMs: number,
  capMs: number,
  random: Random,
  hintMs?: number,
): number {
  if (hintMs !== undefined) return hintMs;
  // 2ⁿ overflows to Infinity for large n, and Infinity × 0 is NaN; the cap makes large n moot anyway.
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(retry, 52));
  // Clamped because an injected random of exactly 1 (or a buggy one) must not exceed the ceiling.
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.floor(r * ceiling);
}
