import t from 'tap';
import { type BalancerOptions, createBalancer, type Target } from '../../src/upstream/balancer.ts';

const targets: Target[] = [
  { name: 'a', weight: 2 },
  { name: 'b', weight: 1 },
];

t.test('start counts an attempt in flight until its handle ends, by target or by name', async (t) => {
  let time = 0;
  const b = createBalancer(targets, { strategy: 'weighted-round-robin', now: () => time });
  const picked = b.pick()!;
  const first = b.start(picked);
  const second = b.start('b');
  t.equal(first.target, picked, 'the handle carries the configured target');
  t.same(
    b.snapshot().map(({ name, outstanding }) => [name, outstanding]),
    [
      ['a', 1],
      ['b', 1],
    ],
  );
  time = 40;
  first.end({ latencyMs: 40 });
  second.end({ latencyMs: 80, ok: true });
  t.same(b.snapshot(), [
    { name: 'a', available: true, outstanding: 0, latencyMs: 40 },
    { name: 'b', available: true, outstanding: 0, latencyMs: 80 },
  ]);
  t.throws(() => b.start('nope'), /unknown target "nope"/);
  t.equal(b.setAvailable('nope', false), false);
  t.equal(b.setAvailable('a', false), true);
  t.equal(b.state('a')?.available, false);
  t.equal(b.strategy, 'weighted-round-robin');
  t.equal(b.targets, targets);
});

t.test('a reload keeps the live state of targets that keep their name', async (t) => {
  const time = 0;
  const now = () => time;
  const old = createBalancer(targets, { strategy: 'least-loaded', now });
  old.start('a').end({ latencyMs: 300 });
  old.setAvailable('b', false);
  const pending = old.start('a');
  const next = createBalancer(
    [
      { name: 'a', weight: 1 },
      { name: 'c', weight: 1 },
      { name: 'b', weight: 1 },
    ],
    { strategy: 'priority', latency: { maxLatencyMs: 200, defaultLatencyMs: 100 }, now },
    old,
  );
  t.equal(next.state('a'), old.state('a'), 'one state object, shared');
  t.equal(next.state('a')?.outstanding, 1, 'in flight before the reload');
  t.equal(next.state('a')?.latencyMs(time), 200, 'learned latency kept, clamped to the new maximum');
  t.equal(next.state('b')?.available, false, 'health kept');
  t.equal(next.state('c')?.latencyMs(time), 100, 'a new target starts from the default');
  pending.end({ latencyMs: 150 });
  t.equal(next.state('a')?.outstanding, 0, 'an old handle ends on the shared state');
});

t.test('invalid options are refused with the field name', async (t) => {
  const make = (options: Partial<BalancerOptions>) => () =>
    createBalancer(targets, { strategy: 'priority', ...options } as BalancerOptions);
  t.throws(make({ strategy: 'random' as BalancerOptions['strategy'] }), /strategy must be one of/);
  t.throws(make({ costTolerance: -1 }), /costTolerance/);
  t.throws(make({ withinTier: 'priority' as BalancerOptions['withinTier'] }), /withinTier/);
  t.throws(make({ maxOutstandingPerTarget: 0 }), /maxOutstandingPerTarget/);
  t.throws(make({ maxOutstandingPerTarget: 1.5 }), /maxOutstandingPerTarget/);
  t.throws(make({ latency: { halfLifeMs: -5 } }), /latency\.halfLifeMs/);
  t.throws(
    () => createBalancer([...targets, { name: 'a', weight: 1 }], { strategy: 'least-loaded' }),
    /unique/,
  );
  t.doesNotThrow(make({ costTolerance: 0.1, withinTier: 'cost-aware', maxOutstandingPerTarget: 4 }));
});
