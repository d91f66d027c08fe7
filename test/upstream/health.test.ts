import t, { type Test } from 'tap';
import type { AttemptStatus } from '../../src/upstream/breaker-options.ts';
import type { HealthTransition, TargetEjection, TargetHealth } from '../../src/upstream/health.ts';
import { HealthRegistry, type HealthRegistryOptions } from '../../src/upstream/health-registry.ts';
import { FakeClock } from '../concurrency/concurrency-helpers.ts';

function setup(t: Test, targets: string[], options: HealthRegistryOptions = {}) {
  const clock = new FakeClock();
  const transitions: string[] = [];
  const seen: HealthTransition[] = [];
  const ejections: TargetEjection[] = [];
  const registry = new HealthRegistry(targets, {
    now: clock.now,
    setTimer: clock.setTimer,
    onTransition: (transition) => {
      seen.push(transition);
      transitions.push(`${transition.target} ${transition.from}→${transition.to} (${transition.reason})`);
    },
    onEjection: (ejection) => ejections.push(ejection),
    ...options,
    // Real reset timers stay far away unless a test asks otherwise; dispose cancels them.
    breaker: { resetTimeoutMs: 60_000, ...options.breaker },
    outlier: { consecutiveFailures: 3, baseEjectionMs: 1000, ...options.outlier },
  });
  t.teardown(() => registry.dispose());
  const call = (health: TargetHealth, status: AttemptStatus, latencyMs = 10): void => {
    const admission = health.admit();
    if (admission === undefined) throw new Error(`${health.name} refused while ${health.state()}`);
    health.record(admission, status, latencyMs);
  };
  return { clock, registry, transitions, seen, ejections, call };
}

t.test('ejection, its trial and active checks show as one state, each change reported once', async (t) => {
  const { clock, registry, transitions, seen, ejections, call } = setup(t, ['a', 'b'], {
    breaker: { volumeThreshold: 100 },
  });
  const a = registry.get('a')!;
  t.equal(a.admit(), a.admit(), 'healthy: the same shared ticket, no allocation');
  for (let i = 0; i < 3; i++) call(a, 500);
  t.equal(a.state(), 'ejected');
  t.notOk(a.available());
  t.same(ejections, [{ target: 'a', durationMs: 1000, ejections: 1 }]);
  clock.advance(1000);
  t.equal(a.state(), 'half_open', 'the trial after an ejection');
  const probe = a.admit()!;
  t.equal(a.admit(), undefined, 'one probe at a time');
  a.record(probe, 200, 30);
  t.equal(a.state(), 'closed');
  a.setActiveHealth(false);
  t.equal(a.state(), 'ejected', 'a failing active check takes it out as well');
  t.equal(a.retryAt(), undefined, 'until a check passes: no known time');
  t.equal(a.admit(), undefined);
  a.setActiveHealth(false);
  a.setActiveHealth(true);
  t.ok(a.available());
  t.same(transitions, [
    'a closed→ejected (consecutive_failures)',
    'a ejected→half_open (ejection_ended)',
    'a half_open→closed (probe_succeeded)',
    'a closed→ejected (active_check_failed)',
    'a ejected→closed (active_check_passed)',
  ]);
  t.same(
    seen.map((transition) => transition.at),
    [0, 1000, 1000, 1000, 1000],
  );
});

t.test('an open breaker behind an ejection shows once the ejection ends', async (t) => {
  const { clock, registry, transitions, call } = setup(t, ['a', 'b'], { breaker: { volumeThreshold: 3 } });
  const a = registry.get('a')!;
  for (let i = 0; i < 3; i++) call(a, 503);
  t.equal(a.state(), 'ejected', 'ejected and open: ejected is the more severe');
  t.equal(a.retryAt(), 60_000, 'the later of the two: the breaker opened at 0 and stays open 60 s');
  clock.advance(1000);
  t.equal(a.state(), 'open');
  t.notOk(a.available());
  t.equal(a.retryAt(), 60_000);
  t.same(transitions, ['a closed→ejected (consecutive_failures)', 'a ejected→open (ejection_ended)']);
});

t.test('max ejection percent keeps part of the group in service', async (t) => {
  const { clock, registry, call } = setup(t, ['a', 'b', 'c', 'd'], {
    outlier: { consecutiveFailures: 2, maxEjectionPercent: 50 },
  });
  const [a, b, c] = ['a', 'b', 'c'].map((name) => registry.get(name)!) as [
    TargetHealth,
    TargetHealth,
    TargetHealth,
  ];
  for (const health of [a, b, c]) {
    call(health, 500);
    call(health, 500);
  }
  t.same(
    [a, b, c].map((health) => health.state()),
    ['ejected', 'ejected', 'closed'],
    '2 of 4 may be ejected',
  );
  t.equal(registry.ejectedCount, 2);
  t.ok(c.available(), 'the third keeps serving');
  clock.advance(1000);
  t.equal(registry.ejectedCount, 0, 'returning targets free their slots');
  call(c, 502);
  t.equal(c.state(), 'ejected', 'and the next failure of the third finds one');
});

t.test('earliest availability of the group, for Retry-After', async (t) => {
  const { clock, registry, call } = setup(t, ['a', 'b', 'c'], { outlier: { maxEjectionPercent: 100 } });
  const eject = (name: string) => {
    const health = registry.get(name)!;
    for (let i = 0; i < 3; i++) call(health, 'connect_error');
    return health;
  };
  const a = eject('a');
  clock.advance(200);
  eject('b');
  t.equal(registry.earliestAvailableAt(), 200, 'c was never used: it is available now');
  clock.advance(100);
  const c = eject('c');
  t.equal(registry.earliestAvailableAt(), 1000, 'a comes back first');
  a.setActiveHealth(false);
  t.equal(registry.earliestAvailableAt(), 1200, 'a failing active check says nothing of when');
  clock.advance(900);
  t.equal(registry.earliestAvailableAt(), 1200, 'b is on trial with its probe slot free');
  registry.get('b')!.admit();
  c.setActiveHealth(false);
  t.equal(registry.earliestAvailableAt(), undefined, 'busy probe, failing checks: nobody knows');
  t.same(
    registry.snapshot().map(({ name, state, available }) => `${name}:${state}:${available}`),
    ['a:ejected:false', 'b:half_open:false', 'c:ejected:false'],
  );

  const open = setup(t, ['x'], { breaker: { volumeThreshold: 2 }, outlier: { consecutiveFailures: 0 } });
  open.clock.advance(500);
  const x = open.registry.get('x')!;
  open.call(x, 500);
  open.call(x, 429);
  t.equal(x.state(), 'open');
  t.equal(open.registry.earliestAvailableAt(), 60_500, 'opened at 500, reset timeout 60 s');
});

t.test('one rotation timer moves the windows of every breaker of the group', async (t) => {
  const { clock, registry, call } = setup(t, ['a', 'b'], {
    breaker: { volumeThreshold: 4, windowMs: 1000, windowBuckets: 2 },
    outlier: { consecutiveFailures: 0 },
  });
  const a = registry.get('a')!;
  registry.get('b');
  t.equal(clock.pending, 1, 'one timer for the group, not one per breaker');
  for (let i = 0; i < 3; i++) call(a, 500);
  clock.advance(1000);
  for (let i = 0; i < 3; i++) call(a, 200);
  await new Promise((resolve) => setImmediate(resolve));
  call(a, 500);
  t.equal(a.state(), 'closed', 'the old failures left the window: 1 of 4');
});

t.test('bounded to configured names; a reload disposes removed targets and their timers', async (t) => {
  const { clock, registry, call } = setup(t, ['a', 'b'], {
    maxTargets: 3,
    outlier: { consecutiveFailures: 1 },
  });
  t.equal(registry.get('not-configured'), undefined, 'no entry for a name outside the config');
  t.throws(() => registry.sync(['a', 'b', 'c', 'd']), /at most 3 targets, got 4/);
  t.throws(() => registry.sync(['a', 'a']), /unique/);
  t.throws(() => registry.sync(['']), /non-empty/);
  t.throws(() => new HealthRegistry([], { maxTargets: 0 }), /maxTargets/);
  t.throws(() => new HealthRegistry([], { breaker: { volumeThreshold: -1 } }), /breaker\.volumeThreshold/);
  const a = registry.get('a')!;
  const b = registry.get('b')!;
  call(b, 500);
  t.equal(b.state(), 'ejected');
  t.equal(clock.pending, 2, 'the rotation and the ejection timer');
  t.same(registry.sync(['a', 'c']), ['b'], 'the removed names, to drop their metric series');
  t.equal(registry.ejectedCount, 0, 'the removed target gave its ejection slot back');
  t.equal(clock.pending, 1, 'its ejection timer is gone');
  t.equal(b.admit(), undefined, 'a disposed target refuses');
  t.equal(registry.get('b'), undefined);
  t.equal(registry.get('a'), a, 'kept targets keep their state');
  t.same(registry.names.toSorted(), ['a', 'c']);
  registry.dispose();
  t.equal(clock.pending, 0, 'nothing left running');
  t.equal(registry.get('a'), undefined);
  t.notOk(a.available());
});
