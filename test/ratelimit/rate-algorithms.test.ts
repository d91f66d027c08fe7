/**
 * The two algorithms on a fake clock, through the memory store (which is nothing but them): refill,
 * burst, window roll, refunds and debts, costs beyond capacity, the Retry-After they promise, and
 * the sliding window counter's documented error bound against an exact sliding log.
 */
import t, { type Test } from 'tap';
import { slidingWindow, type WindowState, windowUsed } from '../../src/ratelimit/rate-algorithms.ts';
import { MemoryRateStore } from '../../src/ratelimit/rate-memory-store.ts';
import type { RateAlgorithm, RatePolicy } from '../../src/ratelimit/rate-types.ts';

function policy(algorithm: RateAlgorithm, limit: number, windowMs: number, burst?: number): RatePolicy {
  return { id: `test/${algorithm}`, algorithm, limit, windowMs, ...(burst === undefined ? {} : { burst }) };
}

/** A store on a clock the test moves; `at(ms)` sets it. */
function fakeClock() {
  let now = 0;
  const store = new MemoryRateStore({ now: () => now });
  return {
    store,
    at(ms: number) {
      now = ms;
    },
  };
}

/** Acquires `cost` repeatedly until refused; how many were admitted. */
async function drain(store: MemoryRateStore, p: RatePolicy, key: string, cost = 1): Promise<number> {
  let admitted = 0;
  while ((await store.acquire(p, key, cost)).allowed) admitted += 1;
  return admitted;
}

/** A refusal's retryAfterMs is tight: one ms earlier still refused, at it admitted. */
async function checkRetryAfter(t: Test, clock: ReturnType<typeof fakeClock>, p: RatePolicy, from: number) {
  const refused = await clock.store.acquire(p, 'k', 1);
  t.notOk(refused.allowed);
  const wait = refused.retryAfterMs;
  t.ok(wait > 0 && Number.isFinite(wait), `retry after ${wait} ms`);
  if (wait > 1) {
    clock.at(from + wait - 1);
    t.notOk((await clock.store.acquire(p, 'k', 1)).allowed, 'still refused 1 ms early');
  }
  clock.at(from + wait);
  t.ok((await clock.store.acquire(p, 'k', 1)).allowed, 'admitted at retryAfterMs');
}

t.test('token bucket: starts full, refills continuously, never above capacity', async (t) => {
  const clock = fakeClock();
  const p = policy('token_bucket', 10, 1000);
  const first = await clock.store.acquire(p, 'k', 4);
  t.match(first, { allowed: true, limit: 10, remaining: 6, resetMs: 400, retryAfterMs: 0 });
  t.equal(await drain(clock.store, p, 'k'), 6);
  clock.at(250);
  t.equal(await drain(clock.store, p, 'k'), 2, 'a quarter window refills a quarter of the limit');
  clock.at(250 + 10_000);
  t.equal(await drain(clock.store, p, 'k'), 10, 'a long pause refills to capacity, not beyond');
  await checkRetryAfter(t, clock, p, 10_250);
});

t.test('token bucket: burst is the capacity, the rate stays limit per window', async (t) => {
  const clock = fakeClock();
  const p = policy('token_bucket', 10, 1000, 30);
  t.equal(await drain(clock.store, p, 'k'), 30, 'a full bucket admits the burst at once');
  clock.at(1000);
  t.equal(await drain(clock.store, p, 'k'), 10, 'then limit per window');
  const refused = await clock.store.acquire(p, 'k', 1);
  t.match(refused, { allowed: false, remaining: 0, resetMs: 3000, retryAfterMs: 100 });
});

t.test('token bucket: a cost beyond capacity is refused for good, one within waits its turn', async (t) => {
  const clock = fakeClock();
  const p = policy('token_bucket', 100, 1000);
  const never = await clock.store.acquire(p, 'k', 101);
  t.match(never, { allowed: false, remaining: 100, retryAfterMs: Number.POSITIVE_INFINITY });
  t.ok((await clock.store.acquire(p, 'k', 70)).allowed);
  const later = await clock.store.acquire(p, 'k', 50);
  t.match(later, { allowed: false, remaining: 30, retryAfterMs: 200 }, 'all or nothing: 30 left stay');
  clock.at(200);
  t.ok((await clock.store.acquire(p, 'k', 50)).allowed);
});

t.test('token bucket: adjust refunds up to capacity and charges into a debt', async (t) => {
  const clock = fakeClock();
  const p = policy('token_bucket', 100, 1000);
  t.ok((await clock.store.acquire(p, 'k', 100)).allowed, 'a reservation of the whole quota');
  await clock.store.adjust(p, 'k', -60);
  t.equal(await drain(clock.store, p, 'k', 10), 6, 'the refund is available at once');
  await clock.store.adjust(p, 'k', -1000);
  t.equal((await clock.store.acquire(p, 'k', 0)).remaining, 100, 'a refund never fills past capacity');

  await clock.store.adjust(p, 'k', 150);
  const inDebt = await clock.store.acquire(p, 'k', 1);
  t.match(inDebt, { allowed: false, remaining: 0, retryAfterMs: 510, resetMs: 1500 }, '50 owed + 1 wanted');
  await checkRetryAfter(t, clock, p, 0);
});

t.test('sliding window: the previous window counts by its overlap, then slides out', async (t) => {
  const clock = fakeClock();
  const p = policy('sliding_window', 100, 1000);
  clock.at(10_000);
  const first = await clock.store.acquire(p, 'k', 40);
  t.match(first, { allowed: true, limit: 100, remaining: 60, resetMs: 2000, retryAfterMs: 0 });
  t.equal(await drain(clock.store, p, 'k', 10), 6);
  clock.at(11_000);
  t.equal(await drain(clock.store, p, 'k', 10), 0, 'at the roll the previous window counts in full');
  clock.at(11_250);
  t.equal(await drain(clock.store, p, 'k', 5), 5, 'a quarter in, a quarter of it has slid out');
  clock.at(11_500);
  t.equal(await drain(clock.store, p, 'k', 5), 5);
  clock.at(13_000);
  t.equal(await drain(clock.store, p, 'k', 10), 10, 'two windows on, everything has slid out');
  clock.at(13_100);
  await checkRetryAfter(t, clock, p, 13_100);
});

t.test('sliding window: retryAfterMs waits into the next window when this one is full', async (t) => {
  const clock = fakeClock();
  const p = policy('sliding_window', 100, 1000);
  t.equal(await drain(clock.store, p, 'k', 10), 10);
  clock.at(400);
  const refused = await clock.store.acquire(p, 'k', 50);
  // The next window must slide this one's 100 down to 50: half of it, 600 + 500 ms from now.
  t.match(refused, { allowed: false, remaining: 0, resetMs: 1600, retryAfterMs: 1100 });
  t.match(await clock.store.acquire(p, 'k', 101), { allowed: false, retryAfterMs: Number.POSITIVE_INFINITY });
  await checkRetryAfter(t, clock, p, 400);
});

t.test('sliding window: adjust refunds (spilling into the previous window) and charges', async (t) => {
  const clock = fakeClock();
  const p = policy('sliding_window', 100, 1000);
  t.ok((await clock.store.acquire(p, 'k', 80)).allowed);
  clock.at(1000);
  t.ok((await clock.store.acquire(p, 'k', 10)).allowed, '80 × 1 + 10 ≤ 100');
  await clock.store.adjust(p, 'k', -50);
  t.equal((await clock.store.acquire(p, 'k', 0)).remaining, 60, 'the 10 of this window and 40 of the last');
  await clock.store.adjust(p, 'k', 200);
  const inDebt = await clock.store.acquire(p, 'k', 1);
  t.match(inDebt, { allowed: false, remaining: 0, resetMs: 2000 });
  clock.at(3000);
  t.equal(await drain(clock.store, p, 'k', 10), 10, 'a debt slides out with its window');
});

t.test('a clock that steps back neither throws nor refills', async (t) => {
  for (const algorithm of ['token_bucket', 'sliding_window'] as const) {
    const clock = fakeClock();
    const p = policy(algorithm, 10, 1000);
    clock.at(5000);
    t.equal(await drain(clock.store, p, 'k'), 10);
    clock.at(1000);
    t.equal(await drain(clock.store, p, 'k'), 0, algorithm);
  }
});

t.test('invalid policies and costs are refused before they can poison a state', async (t) => {
  const store = new MemoryRateStore();
  await t.rejects(store.acquire(policy('token_bucket', 0, 1000), 'k', 1), /limit must be > 0/);
  await t.rejects(
    store.acquire(policy('sliding_window', 5, 0.5), 'k', 1),
    /windowMs must be a positive whole/,
  );
  await t.rejects(store.acquire({ ...policy('token_bucket', 5, 1000), id: 'a{b}' }, 'k', 1), /braces/);
  await t.rejects(store.acquire(policy('token_bucket', 5, 1000, -1), 'k', 1), /burst must be > 0/);
  await t.rejects(store.acquire(policy('token_bucket', 5, 1000), 'k', -1), /cost must be finite and >= 0/);
  await t.rejects(store.adjust(policy('token_bucket', 5, 1000), 'k', Number.NaN), /delta must be finite/);
});

/**
 * The bound docs/traffic-control.md derives: within any W ms ending at t, the counter admits at
 * most L + P·e/W units, where P is what the previous fixed window admitted and e how far t is into
 * its own window (so < 2L); within one fixed window never more than L.
 */
function boundAt(limit: number, windowMs: number, previous: number, tMs: number): number {
  return limit + (previous * (tMs - Math.floor(tMs / windowMs) * windowMs)) / windowMs;
}

t.test(
  'sliding window counter: the worst case reaches, and never passes, the documented bound',
  async (t) => {
    const L = 100;
    const W = 1000;
    const p = policy('sliding_window', L, W);
    let state: WindowState | undefined;
    const admitted: number[] = [];
    const take = (nowMs: number): boolean => {
      const step = slidingWindow.take(p, state, nowMs, 1);
      state = step.state;
      if (step.allowed) admitted.push(nowMs);
      return step.allowed;
    };
    // The whole quota at the very end of one window, then as much as possible just before the next ends.
    while (take(999));
    while (take(1998));
    const inSlidingWindow = admitted.filter((at) => at > 1998 - W).length;
    t.equal(admitted.length, 199, 'an exact sliding log would have admitted 100');
    t.equal(inSlidingWindow, 199, 'all of them within one sliding window of 1000 ms');
    t.ok(inSlidingWindow <= boundAt(L, W, 100, 1998), `199 ≤ L + P·e/W = ${boundAt(L, W, 100, 1998)}`);
    t.ok(inSlidingWindow > boundAt(L, W, 100, 1998) - 1, 'the bound is tight up to one unit');
    t.ok(inSlidingWindow < 2 * L);
  },
);

t.test('sliding window counter: random bursty traffic stays within the bound everywhere', async (t) => {
  const L = 50;
  const W = 1000;
  const p = policy('sliding_window', L, W);
  let seed = 7;
  const random = () => {
    seed = (seed * 48271) % 2147483647;
    return seed / 2147483647;
  };
  for (let run = 0; run < 20; run++) {
    let state: WindowState | undefined;
    const admitted: { readonly at: number; readonly cost: number }[] = [];
    let now = 0;
    for (let i = 0; i < 2000; i++) {
      // Bursts and gaps: most arrivals close together, some long pauses.
      now += random() < 0.05 ? random() * 1500 : random() * 3;
      const cost = 1 + Math.floor(random() * 5);
      const step = slidingWindow.take(p, state, now, cost);
      state = step.state;
      if (!step.allowed) continue;
      admitted.push({ at: now, cost });
      const sum = (from: number, to: number) =>
        admitted.filter((a) => a.at > from && a.at <= to).reduce((total, a) => total + a.cost, 0);
      const start = Math.floor(now / W) * W;
      const previous = admitted
        .filter((a) => a.at >= start - W && a.at < start)
        .reduce((total, a) => total + a.cost, 0);
      const fixed = admitted.filter((a) => a.at >= start).reduce((total, a) => total + a.cost, 0);
      if (fixed > L) t.fail(`fixed window at ${start} holds ${fixed} > ${L}`);
      const sliding = sum(now - W, now);
      if (sliding > boundAt(L, W, previous, now) + 1e-9) t.fail(`${sliding} in (${now - W}, ${now}]`);
      if (windowUsed(p, state, now) > L + 1e-9) t.fail('the estimate itself passed the limit');
    }
  }
  t.pass('no window broke the bound');
});
