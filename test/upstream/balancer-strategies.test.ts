import t from 'tap';
import {
  type Balancer,
  type BalancerHandle,
  type BalancerOptions,
  createBalancer,
  type Strategy,
  strategies,
  type Target,
} from '../../src/upstream/balancer.ts';

/** mulberry32: a seeded uniform source, so randomised picks are the same on every run. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = Math.imul(state ^ (state >>> 15), 1 | state);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const clock = { time: 0 };

function balancer(targets: Target[], options: Partial<BalancerOptions> & { strategy: Strategy }): Balancer {
  return createBalancer(targets, { now: () => clock.time, random: seeded(7), ...options });
}

const picks = (b: Balancer, count: number, exclude?: ReadonlySet<string>) =>
  Array.from({ length: count }, () => b.pick(exclude)?.name ?? '-').join(' ');

function counts(b: Balancer, count: number): Record<string, number> {
  const seen: Record<string, number> = {};
  for (let i = 0; i < count; i++) {
    const name = b.pick()?.name ?? '-';
    seen[name] = (seen[name] ?? 0) + 1;
  }
  return seen;
}

/** Teaches each target its latency with one finished attempt. */
function learn(b: Balancer, latencies: Record<string, number>): void {
  for (const [name, latencyMs] of Object.entries(latencies)) b.start(name).end({ latencyMs });
}

/**
 * Requests arrive every `gapMs` for `durationMs`; each takes its target's latency. Returns the share
 * of requests each target got. Time only moves in the test's clock.
 */
function simulate(b: Balancer, latencies: Record<string, number>, gapMs: number, durationMs: number) {
  const inFlight: { endsAt: number; handle: BalancerHandle; latencyMs: number }[] = [];
  const seen: Record<string, number> = {};
  let total = 0;
  for (let at = 0; at < durationMs; at += gapMs) {
    inFlight.sort((x, y) => x.endsAt - y.endsAt);
    while (inFlight.length > 0 && inFlight[0]!.endsAt <= at) {
      const done = inFlight.shift()!;
      clock.time = done.endsAt;
      done.handle.end({ latencyMs: done.latencyMs });
    }
    clock.time = at;
    const target = b.pick()!;
    seen[target.name] = (seen[target.name] ?? 0) + 1;
    total++;
    const latencyMs = latencies[target.name]!;
    inFlight.push({ endsAt: at + latencyMs, handle: b.start(target), latencyMs });
  }
  return Object.fromEntries(Object.entries(seen).map(([name, count]) => [name, count / total]));
}

const abc = (wa: number, wb: number, wc: number): Target[] => [
  { name: 'a', weight: wa },
  { name: 'b', weight: wb },
  { name: 'c', weight: wc },
];

t.beforeEach(() => {
  clock.time = 0;
});

t.test('weighted round-robin: the smooth nginx sequence for 5/1/1', async (t) => {
  const b = balancer(abc(5, 1, 1), { strategy: 'weighted-round-robin' });
  t.equal(picks(b, 14), 'a a b a c a a a a b a c a a');
  t.same(counts(b, 700), { a: 500, b: 100, c: 100 }, 'exact shares over whole rounds');
});

t.test('weighted round-robin: an unavailable target is skipped and resumes where it was', async (t) => {
  const b = balancer(abc(5, 1, 1), { strategy: 'weighted-round-robin' });
  t.equal(picks(b, 3), 'a a b');
  b.setAvailable('b', false);
  t.equal(picks(b, 12), 'a a c a a a a a c a a a', 'a and c share by 5:1 meanwhile');
  b.setAvailable('b', true);
  const back = picks(b, 14);
  t.equal(back, 'a c a a a a b a c a a a a b', 'no burst of picks for b when it returns');
  t.equal(back.split(' ').filter((name) => name === 'b').length, 2);
});

t.test('a target of weight 0 is never picked, by any strategy', async (t) => {
  for (const strategy of strategies) {
    const b = balancer(abc(1, 0, 1), { strategy });
    const seen = counts(b, 300);
    t.notOk('b' in seen, `${strategy}: never b`);
    const drained = balancer([{ name: 'only', weight: 0 }], { strategy });
    t.equal(drained.pick(), undefined, `${strategy}: a drained target is not a fallback`);
  }
});

t.test('least-loaded: the faster target gets most of the traffic, the slower some', async (t) => {
  const b = balancer(abc(1, 1, 1), { strategy: 'least-loaded' });
  const share = simulate(b, { a: 100, b: 300, c: 600 }, 10, 60_000);
  t.ok(share['a']! > 0.5, `a (100 ms): ${share['a']}`);
  t.ok(share['a']! > share['b']! && share['b']! > share['c']!, 'ordered by latency');
  t.ok(share['c']! > 0.02, `c (600 ms) still gets traffic: ${share['c']}`);
});

t.test('least-loaded: at equal latency, the target with fewer requests in flight', async (t) => {
  const b = balancer(abc(1, 1, 1).slice(0, 2), { strategy: 'least-loaded' });
  learn(b, { a: 100, b: 100 });
  const held = Array.from({ length: 3 }, () => b.start('a'));
  t.same(counts(b, 50), { b: 50 }, 'two targets: both are always the two choices');
  for (const handle of held) handle.end({ latencyMs: 100 });
  const busy = Array.from({ length: 2 }, () => b.start('b'));
  t.same(counts(b, 20), { a: 20 });
  t.equal(busy.length, 2);
});

t.test('least-loaded: fast failures push traffic away, fast successes draw it', async (t) => {
  const failing = balancer(abc(1, 1, 0), { strategy: 'least-loaded' });
  learn(failing, { a: 100, b: 100 });
  clock.time = 10_000;
  failing.start('b').end({ latencyMs: 1, ok: false });
  t.same(counts(failing, 50), { a: 50 }, 'b answers in 1 ms, but with errors');
  clock.time = 0;
  const healthy = balancer(abc(1, 1, 0), { strategy: 'least-loaded' });
  learn(healthy, { a: 100, b: 100 });
  clock.time = 10_000;
  healthy.start('b').end({ latencyMs: 1 });
  t.same(counts(healthy, 50), { b: 50 }, 'the same latency without errors wins');
});

t.test('least-loaded: weights set the share under load', async (t) => {
  const b = balancer(abc(3, 1, 0), { strategy: 'least-loaded' });
  const share = simulate(b, { a: 100, b: 100 }, 5, 30_000);
  t.ok(share['a']! > 0.68 && share['a']! < 0.82, `a (weight 3): ${share['a']}`);
  const wide = balancer(
    ['a', 'b', 'c', 'd', 'e'].map((name, i) => ({ name, weight: i === 0 ? 4 : 1 })),
    { strategy: 'least-loaded' },
  );
  const shares = simulate(wide, { a: 100, b: 100, c: 100, d: 100, e: 100 }, 5, 30_000);
  t.ok(shares['a']! > 0.4 && shares['a']! < 0.6, `a (4 of 8): ${shares['a']}`);
});

t.test('least-loaded: the same seed gives the same picks', async (t) => {
  const run = () => {
    clock.time = 0;
    const b = balancer(abc(2, 1, 1), { strategy: 'least-loaded', random: seeded(42) });
    learn(b, { a: 100, b: 100, c: 100 });
    return simulate(b, { a: 100, b: 100, c: 100 }, 7, 5000);
  };
  t.same(run(), run());
});

t.test('cost-aware: the cheapest available target, then the next cheapest', async (t) => {
  const targets: Target[] = [
    { name: 'a', weight: 1, costPerRequest: 3 },
    { name: 'b', weight: 1, costPerRequest: 1 },
    { name: 'c', weight: 1, costPerRequest: 2 },
    { name: 'd', weight: 1 },
  ];
  const b = balancer(targets, { strategy: 'cost-aware' });
  t.equal(picks(b, 3), 'b b b');
  b.setAvailable('b', false);
  t.equal(b.pick()?.name, 'c');
  t.equal(b.pick(new Set(['c']))?.name, 'a');
  t.equal(b.pick(new Set(['a', 'c']))?.name, 'd', 'an unknown cost ranks last');
  b.setAvailable('b', true);
  t.equal(b.pick(new Set(['a']))?.name, 'b');
});

t.test('cost-aware: equal costs are split by least load; tolerance widens equal', async (t) => {
  const targets: Target[] = [
    { name: 'a', weight: 1, costPerRequest: 1 },
    { name: 'b', weight: 1, costPerRequest: 1 },
    { name: 'c', weight: 1, costPerRequest: 1.04 },
  ];
  const exact = balancer(targets, { strategy: 'cost-aware' });
  learn(exact, { a: 100, b: 100, c: 10 });
  const held = exact.start('a');
  t.equal(exact.pick()?.name, 'b', 'a is busier');
  held.end({ latencyMs: 100 });
  const share = simulate(exact, { a: 100, b: 100, c: 10 }, 5, 10_000);
  t.notOk('c' in share, 'c is 4 % dearer: never, though fastest');
  t.ok(Math.abs(share['a']! - 0.5) < 0.05, `a and b share: ${share['a']}`);
  const tolerant = balancer(targets, { strategy: 'cost-aware', costTolerance: 0.05 });
  learn(tolerant, { a: 100, b: 100, c: 10 });
  t.equal(tolerant.pick()?.name, 'c', 'within 5 %: the least loaded wins');
});

t.test('priority: the first tier takes everything, spill-over follows the tiers', async (t) => {
  const targets: Target[] = [
    { name: 'backup', weight: 1, priority: 1 },
    { name: 'last', weight: 1, priority: 2 },
    { name: 'a', weight: 1, priority: 0 },
    { name: 'b', weight: 1 },
  ];
  const b = balancer(targets, { strategy: 'priority', withinTier: 'weighted-round-robin' });
  t.equal(picks(b, 4), 'a b a b', 'tier 0, shared within the tier');
  b.setAvailable('a', false);
  t.equal(picks(b, 2), 'b b', 'one target left in the tier: no spill yet');
  b.setAvailable('b', false);
  t.equal(picks(b, 2), 'backup backup', 'the whole tier down: the next tier');
  t.equal(b.pick(new Set(['backup']))?.name, 'last');
  b.setAvailable('a', true);
  t.equal(picks(b, 2), 'a a', 'back as soon as the first tier has a target');
});

t.test('priority: a full tier spills over when maxOutstandingPerTarget is set', async (t) => {
  const targets: Target[] = [
    { name: 'a', weight: 1 },
    { name: 'b', weight: 1, priority: 1 },
  ];
  const b = balancer(targets, { strategy: 'priority', maxOutstandingPerTarget: 2 });
  const first = [b.start(b.pick()!), b.start(b.pick()!)];
  t.same(
    first.map((handle) => handle.target.name),
    ['a', 'a'],
  );
  t.equal(b.pick()?.name, 'b', 'a is full');
  const spilled = [b.start('b'), b.start('b')];
  t.equal(b.pick()?.name, 'a', 'every tier full: overflow goes to the preferred tier, not a 503');
  first[0]!.end({ latencyMs: 50 });
  t.equal(b.pick()?.name, 'a');
  for (const handle of spilled) handle.end({ latencyMs: 50 });
  const unlimited = balancer(targets, { strategy: 'priority' });
  for (let i = 0; i < 50; i++) unlimited.start('a');
  t.equal(unlimited.pick()?.name, 'a', 'without a maximum, load never spills');
});

t.test('exclude sets work for every strategy', async (t) => {
  const targets: Target[] = [
    { name: 'a', weight: 5, costPerRequest: 1 },
    { name: 'b', weight: 1, costPerRequest: 2, priority: 1 },
    { name: 'c', weight: 1, costPerRequest: 3, priority: 1 },
  ];
  for (const strategy of strategies) {
    const b = balancer(targets, { strategy });
    const seen = new Set(Array.from({ length: 100 }, () => b.pick(new Set(['a']))?.name));
    const expected = strategy === 'cost-aware' ? ['b'] : ['b', 'c'];
    t.same([...seen].sort(), expected, `${strategy}: a retry never goes back to a`);
    t.equal(b.pick(new Set(['a', 'b']))?.name, 'c', `${strategy}: the only one left`);
    t.equal(b.pick(new Set(['a', 'b', 'c'])), undefined, `${strategy}: all tried`);
    t.not(b.pick(new Set()), undefined, `${strategy}: an empty set excludes nothing`);
    t.equal(
      b.pick(new Set(['elsewhere']))?.name !== undefined,
      true,
      `${strategy}: unknown names are ignored`,
    );
  }
});

t.test('no available target: undefined from every strategy, until one comes back', async (t) => {
  for (const strategy of strategies) {
    const b = balancer(abc(1, 1, 1), { strategy });
    for (const name of ['a', 'b', 'c']) b.setAvailable(name, false);
    t.equal(b.pick(), undefined, `${strategy}: the caller answers 503`);
    b.setAvailable('c', true);
    t.equal(b.pick()?.name, 'c', strategy);
    t.equal(balancer([], { strategy }).pick(), undefined, `${strategy}: no targets at all`);
  }
});
