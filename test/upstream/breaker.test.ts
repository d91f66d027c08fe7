import { EventEmitter } from 'node:events';
import t, { type Test } from 'tap';
import { type BreakerState, TargetBreaker } from '../../src/upstream/breaker.ts';
import {
  type AttemptStatus,
  type BreakerSettings,
  breakerSettings,
} from '../../src/upstream/breaker-options.ts';
import type { Admission } from '../../src/upstream/breaker-probe.ts';
import { SlowCallWindow } from '../../src/upstream/breaker-window.ts';

/** Lets promise callbacks run: opossum settles successes a microtask after `record`. */
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * A breaker on a rotation the test drives. opossum's reset timer reads the real clock and cannot be
 * injected, so the reset timeout is 20 ms and tests await the state change rather than a duration.
 */
function setup(t: Test, options: Partial<BreakerSettings> = {}) {
  const rotation = new EventEmitter();
  const changes: string[] = [];
  const waiters: { state: BreakerState; resolve: () => void }[] = [];
  const breaker = new TargetBreaker(
    'a',
    breakerSettings({ volumeThreshold: 4, resetTimeoutMs: 20, ...options }),
    {
      now: () => 0,
      rotation,
      onChange: ({ state, reason }) => {
        changes.push(`${state}:${reason}`);
        for (const waiter of waiters.filter((w) => w.state === state)) waiter.resolve();
      },
    },
  );
  t.teardown(() => breaker.dispose());
  // opossum's reset timer is unref'd: a pending wait keeps the process alive, or it would just exit.
  const reached = (state: BreakerState) =>
    new Promise<void>((resolve) => {
      const keepAlive = setTimeout(() => undefined, 5000);
      waiters.push({
        state,
        resolve: () => {
          clearTimeout(keepAlive);
          resolve();
        },
      });
    });
  const call = (status: AttemptStatus, latencyMs = 10): void => {
    const admission = breaker.admit();
    if (admission === undefined) throw new Error(`refused while ${breaker.state}`);
    breaker.record(admission, status, latencyMs);
  };
  const rotate = (times: number) => {
    for (let i = 0; i < times; i++) rotation.emit('rotate');
  };
  return { breaker, changes, reached, call, rotate };
}

t.test('opens when failures exceed the threshold once the volume is reached', async (t) => {
  // No reset within this test: a busy machine must not reach half-open between two assertions.
  const { breaker, changes, call } = setup(t, { resetTimeoutMs: 60_000 });
  const early = [breaker.admit()!, breaker.admit()!];
  call(500);
  call(502);
  call('connect_error');
  t.equal(breaker.state, 'closed', '3 failures, but below the volume threshold of 4');

  const half = setup(t, { resetTimeoutMs: 60_000 });
  half.call(200);
  half.call(200);
  half.call(500);
  half.call(500);
  t.equal(half.breaker.state, 'closed', '2 of 4 = 50 %: the rate must be above the threshold');
  half.call(500);
  t.equal(half.breaker.state, 'open', '3 of 5');

  call('timeout');
  t.equal(breaker.state, 'open', '4 of 4');
  t.same(changes, ['open:error_rate']);
  t.equal(breaker.admit(), undefined, 'an open breaker refuses');
  t.notOk(breaker.available());
  for (const admission of early) breaker.record(admission, 200, 5);
  await tick();
  t.equal(breaker.state, 'open', 'requests admitted before it opened are not news');
  t.same(changes, ['open:error_rate']);
});

t.test('client 4xx do not count as failures; 429 and transport failures do', async (t) => {
  const clientErrors = setup(t);
  for (const status of [400, 401, 403, 404, 409, 413, 422, 400, 404, 422]) clientErrors.call(status);
  await tick();
  t.equal(clientErrors.breaker.state, 'closed', '10 client errors: the target answered fine');

  const tooMany = setup(t);
  for (let i = 0; i < 4; i++) tooMany.call(429);
  t.equal(tooMany.breaker.state, 'open', 'a 429 storm opens it');

  const transport = setup(t);
  for (const status of ['connect_error', 'timeout', 'reset', 503] as const) transport.call(status);
  t.equal(transport.breaker.state, 'open');
});

t.test('half-open after the reset timeout lets a limited number of probes through', async (t) => {
  const { breaker, changes, reached, call } = setup(t, { halfOpenProbes: 2 });
  for (let i = 0; i < 4; i++) call(500);
  const halfOpen = reached('half_open');
  t.equal(breaker.retryAt(0), 20, 'open until the reset timeout has passed');
  await halfOpen;
  t.equal(breaker.state, 'half_open');
  const first = breaker.admit()!;
  const second = breaker.admit()!;
  t.ok(first.probe && second.probe, 'probes, not ordinary tickets');
  t.equal(breaker.admit(), undefined, 'a third concurrent probe is refused');
  t.notOk(breaker.available());
  t.equal(breaker.retryAt(0), undefined, 'busy probes: no known time');
  breaker.release(second);
  const third = breaker.admit();
  t.ok(third?.probe, 'an abandoned probe frees its slot');
  breaker.record(first, 200, 10);
  await tick();
  t.equal(breaker.state, 'closed', 'one successful probe closes it');
  t.same(changes, ['open:error_rate', 'half_open:reset_timeout', 'closed:probe_succeeded']);
  t.equal(breaker.admit()?.probe, false, 'closed: ordinary tickets again');
});

t.test('a failed probe re-opens it; a probe from an earlier trial decides nothing', async (t) => {
  const { breaker, changes, reached, call } = setup(t, { halfOpenProbes: 2 });
  for (let i = 0; i < 4; i++) call(503);
  await reached('half_open');
  const failing = breaker.admit()!;
  const stale = breaker.admit()!;
  breaker.record(failing, 502, 10);
  t.equal(breaker.state, 'open', 'a failure decides at once');
  await reached('half_open');
  breaker.record(stale, 200, 10);
  await tick();
  t.equal(breaker.state, 'half_open', 'the late success belonged to the previous trial');
  const probe = breaker.admit()!;
  breaker.record(probe, 404, 10);
  await tick();
  t.equal(breaker.state, 'closed', 'a 404 probe: the target answers, so it closes');
  t.same(changes, [
    'open:error_rate',
    'half_open:reset_timeout',
    'open:probe_failed',
    'half_open:reset_timeout',
    'closed:probe_succeeded',
  ]);
});

t.test('slow calls above the rate open it; a slow probe fails its trial', async (t) => {
  const { breaker, changes, reached, call } = setup(t, { slowCallMs: 100, slowCallRatePercent: 50 });
  call(200, 10);
  call(200, 150);
  call(200, 100);
  t.equal(breaker.state, 'closed', 'below the volume threshold');
  call(200, 20);
  t.equal(breaker.state, 'closed', '2 slow of 4 = 50 %, not above it');
  call(200, 900);
  t.equal(breaker.state, 'open', '3 slow of 5');
  t.same(changes, ['open:slow_calls']);
  await reached('half_open');
  breaker.record(breaker.admit()!, 200, 250);
  t.equal(breaker.state, 'open', 'a 200 that took 250 ms is not a recovery');
  await reached('half_open');
  breaker.record(breaker.admit()!, 200, 30);
  await tick();
  t.equal(breaker.state, 'closed');
  for (let i = 0; i < 3; i++) call(200, 500);
  t.equal(breaker.state, 'closed', 'the window was cleared when it opened: 3 new slow calls only');
  t.same(changes.at(-2), 'half_open:reset_timeout');
});

t.test('the rolling window forgets calls older than its buckets', async (t) => {
  const history = async (rotations: number) => {
    const { breaker, call, rotate } = setup(t, { windowBuckets: 5, windowMs: 5000 });
    for (let i = 0; i < 3; i++) call(500);
    rotate(rotations);
    for (let i = 0; i < 3; i++) call(200);
    await tick();
    call(500);
    return breaker.state;
  };
  t.equal(await history(4), 'open', 'still in the window: 4 failures of 7');
  t.equal(await history(5), 'closed', 'the first bucket left: 1 failure of 4');
});

t.test('the slow-call window counts per bucket and drops the oldest', async (t) => {
  const window = new SlowCallWindow(3);
  window.add(true);
  window.add(true);
  window.rotate();
  window.add(false);
  window.add(false);
  t.notOk(window.exceeds(4, 50), '2 slow of 4 is not above 50 %');
  window.add(true);
  t.ok(window.exceeds(4, 50), '3 slow of 5');
  window.rotate();
  window.rotate();
  t.notOk(window.exceeds(4, 0), 'the first bucket left: 3 calls, under the volume');
  t.ok(window.exceeds(3, 30), '1 slow of 3 = 33 %');
  window.clear();
  t.notOk(window.exceeds(1, 0));
});

t.test('dispose cancels opossum timers and refuses everything after', async (t) => {
  const live = new Set<NodeJS.Timeout | undefined>();
  const realSet = globalThis.setTimeout;
  const realClear = globalThis.clearTimeout;
  const tracked = (callback: () => void, ms?: number): NodeJS.Timeout => {
    const handle = realSet(() => {
      live.delete(handle);
      callback();
    }, ms);
    live.add(handle);
    return handle;
  };
  globalThis.setTimeout = tracked as unknown as typeof setTimeout;
  globalThis.clearTimeout = ((handle?: NodeJS.Timeout) => {
    live.delete(handle);
    realClear(handle);
  }) as typeof clearTimeout;
  t.teardown(() => {
    globalThis.setTimeout = realSet;
    globalThis.clearTimeout = realClear;
  });
  const { breaker, call } = setup(t, { resetTimeoutMs: 60_000 });
  for (let i = 0; i < 4; i++) call(500);
  t.equal(live.size, 1, 'the open breaker armed its reset timer');
  breaker.dispose();
  t.equal(live.size, 0, 'shutdown cleared it');
  t.equal(breaker.admit(), undefined);
  t.notOk(breaker.available());
  breaker.record({ probe: false, generation: -1 } satisfies Admission, 500, 1);
  breaker.dispose();
});

t.test('invalid breaker settings are refused with the field name', async (t) => {
  t.throws(() => breakerSettings({ errorThresholdPercent: 101 }), /breaker\.errorThresholdPercent/);
  t.throws(() => breakerSettings({ volumeThreshold: 0 }), /volumeThreshold/);
  t.throws(() => breakerSettings({ windowBuckets: 1.5 }), /windowBuckets/);
  t.throws(() => breakerSettings({ windowMs: 5, windowBuckets: 10 }), /windowMs/);
  t.throws(() => breakerSettings({ resetTimeoutMs: Number.NaN }), /resetTimeoutMs/);
  t.throws(() => breakerSettings({ halfOpenProbes: 0 }), /halfOpenProbes/);
  t.throws(() => breakerSettings({ slowCallMs: -1 }), /slowCallMs/);
  t.throws(() => breakerSettings({ slowCallRatePercent: -1 }, 'up.breaker'), /up\.breaker\.slowCallRate/);
  t.same(breakerSettings(), {
    errorThresholdPercent: 50,
    volumeThreshold: 10,
    windowMs: 10_000,
    windowBuckets: 10,
    resetTimeoutMs: 30_000,
    halfOpenProbes: 1,
    slowCallMs: 0,
    slowCallRatePercent: 50,
  });
});
