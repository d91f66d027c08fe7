import t from 'tap';
import type { AdaptiveOptions } from '../../src/concurrency/adaptive-limit.ts';
import {
  type ConcurrencyEvent,
  ConcurrencyLimiter,
  type Permit,
  type ReleaseOutcome,
} from '../../src/concurrency/concurrency.ts';
import { FakeClock, tick } from './concurrency-helpers.ts';

function adaptiveLimiter(adaptive: AdaptiveOptions, maxInFlight: number) {
  const clock = new FakeClock();
  const limiter = new ConcurrencyLimiter({
    maxInFlight,
    queue: { maxSize: 1000, timeoutMs: 60_000 },
    classes: ['default'],
    adaptive,
    now: clock.now,
    setTimer: clock.setTimer,
  });
  return { clock, limiter };
}

/**
 * Keeps the limiter saturated (a few requests always queued) and finishes `count` requests, oldest
 * first, each after `latencyMs`; returns the limit after every finished request.
 */
async function drive(
  limiter: ConcurrencyLimiter,
  running: Permit[],
  count: number,
  outcome: ReleaseOutcome,
): Promise<number[]> {
  const limits: number[] = [];
  for (let i = 0; i < count; i++) {
    while (limiter.inFlight + (limiter.queued()['default'] ?? 0) < limiter.limit + 3) {
      void limiter.acquire('default').then((permit) => running.push(permit));
    }
    await tick();
    running.shift()!.release(outcome);
    limits.push(limiter.limit);
  }
  await tick();
  return limits;
}

const success = (latencyMs: number): ReleaseOutcome => ({ kind: 'success', latencyMs });

t.test(
  'gradient through the limiter: 20 ms → 200 ms lowers the limit, back to 20 ms raises it',
  async (t) => {
    const { limiter } = adaptiveLimiter(
      { algorithm: 'gradient', minLimit: 2, maxLimit: 200, windowSamples: 5, windowMs: 0 },
      20,
    );
    const events: ConcurrencyEvent[] = [];
    limiter.subscribe((event) => events.push(event));
    const running: Permit[] = [];
    const healthy = await drive(limiter, running, 150, success(20));
    const peak = limiter.limit;
    t.ok(peak > 20, `grows while latency holds: ${peak}`);
    const slow = await drive(limiter, running, 150, success(200));
    t.ok(slow.at(-1)! < peak / 2, `falls when latency rises: ${peak} → ${slow.at(-1)}`);
    const recovered = await drive(limiter, running, 600, success(20));
    t.ok(recovered.at(-1)! > slow.at(-1)! * 2, `recovers: ${slow.at(-1)} → ${recovered.at(-1)}`);
    t.ok([...healthy, ...slow, ...recovered].every((limit) => limit >= 2 && limit <= 200));
    const changes = events.filter((event) => event.type === 'limit');
    t.ok(changes.length > 10 && changes.every((event) => event.cause === 'adaptive'));
    t.equal(limiter.counters.limitChanges, changes.length);
    for (const permit of running.splice(0)) permit.release({ kind: 'ignore' });
  },
);

t.test('aimd through the limiter: slow answers and drops back off, fast ones grow it again', async (t) => {
  const { limiter } = adaptiveLimiter(
    { algorithm: 'aimd', minLimit: 2, maxLimit: 40, latencyThresholdMs: 100, windowSamples: 5, windowMs: 0 },
    10,
  );
  const running: Permit[] = [];
  await drive(limiter, running, 50, success(20));
  t.equal(limiter.limit, 20, 'one step per window of five');
  const slow = await drive(limiter, running, 30, success(300));
  t.ok(slow.at(-1)! < 20 * 0.9 ** 4, `backs off: ${slow.at(-1)}`);
  const low = limiter.limit;
  await drive(limiter, running, 50, success(20));
  t.ok(limiter.limit > low + 5, `recovers: ${low} → ${limiter.limit}`);
  const high = limiter.limit;
  await drive(limiter, running, 5, { kind: 'dropped' });
  t.equal(limiter.limit, Math.floor(high * 0.9), 'a window with drops backs off');
  await drive(limiter, running, 400, success(1));
  t.equal(limiter.limit, 40, 'never above maxLimit');
  for (const permit of running.splice(0)) permit.release({ kind: 'ignore' });
});

t.test('a falling adaptive limit revokes nothing; ignored and repeated releases feed nothing', async (t) => {
  const { limiter } = adaptiveLimiter(
    { algorithm: 'aimd', minLimit: 1, maxLimit: 10, windowSamples: 1, windowMs: 0 },
    4,
  );
  const permits = await Promise.all([1, 2, 3, 4].map(() => limiter.acquire('default')));
  const waiting = limiter.acquire('default');
  permits[0]!.release({ kind: 'dropped' });
  permits[0]!.release({ kind: 'dropped' });
  t.equal(limiter.limit, 3, 'one back-off (4 × 0.9), not two');
  t.equal(limiter.inFlight, 3, 'the slot freed was not handed on: 3 in flight, limit 3');
  permits[1]!.release({ kind: 'ignore' });
  t.equal(limiter.limit, 3, 'ignore feeds nothing');
  const granted = await waiting;
  t.equal(limiter.inFlight, 3);
  for (const permit of [permits[2]!, permits[3]!, granted]) permit.release({ kind: 'ignore' });
  t.equal(limiter.inFlight, 0);
});

t.test('a reload can switch between a static and an adaptive limit', async (t) => {
  const base = { maxInFlight: 8, queue: { maxSize: 10, timeoutMs: 1000 }, classes: ['default'] };
  const limiter = new ConcurrencyLimiter(base);
  const events: ConcurrencyEvent[] = [];
  limiter.subscribe((event) => events.push(event));
  limiter.reconfigure({ ...base, adaptive: { algorithm: 'gradient', minLimit: 1, maxLimit: 5 } });
  t.equal(limiter.limit, 5, 'starts from maxInFlight, clamped to maxLimit');
  limiter.reconfigure({ ...base, maxInFlight: 12 });
  t.equal(limiter.limit, 12, 'static again');
  t.same(
    events.map((event) => (event.type === 'limit' ? `${event.previous}→${event.limit} ${event.cause}` : '')),
    ['8→5 reconfigure', '5→12 reconfigure'],
  );
});
