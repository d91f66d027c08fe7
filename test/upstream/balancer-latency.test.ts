import t from 'tap';
import { type BalancerOptions, createBalancer, type Target } from '../../src/upstream/balancer.ts';
import { latencySettings, validateTargets } from '../../src/upstream/target-stats.ts';

/** One target on a clock the test owns; `sample` feeds one attempt that took `latencyMs`. */
function single(latency: BalancerOptions['latency'] = {}) {
  const clock = { time: 0 };
  const balancer = createBalancer([{ name: 'a', weight: 1 }], {
    strategy: 'least-loaded',
    latency: { halfLifeMs: 10_000, defaultLatencyMs: 1000, ...latency },
    now: () => clock.time,
  });
  const state = balancer.state('a')!;
  const sample = (latencyMs: number, ok = true) => balancer.start('a').end({ latencyMs, ok });
  const estimate = () => state.latencyMs(clock.time);
  return { clock, balancer, state, sample, estimate };
}

t.test('the first sample replaces the default estimate', async (t) => {
  const { clock, sample, estimate } = single();
  t.equal(estimate(), 1000, 'the default before any sample');
  clock.time = 50;
  sample(100);
  t.equal(estimate(), 100);
});

t.test('peak EWMA: a slow sample counts at once, then decays over the half-life', async (t) => {
  const { clock, sample, estimate } = single();
  sample(100);
  clock.time = 100;
  sample(1000);
  t.equal(estimate(), 1000, 'one slow answer is enough');
  // Fast answers every 100 ms: after one half-life half of the peak's excess is left.
  for (let i = 0; i < 100; i++) {
    clock.time += 100;
    sample(100);
  }
  t.ok(Math.abs(estimate() - 550) < 1e-6, `100 + 900 / 2: ${estimate()}`);
  for (let i = 0; i < 100; i++) {
    clock.time += 100;
    sample(100);
  }
  t.ok(Math.abs(estimate() - 325) < 1e-6, `100 + 900 / 4: ${estimate()}`);
});

t.test('the decay depends on time, not on the number of samples', async (t) => {
  const busy = single();
  const quiet = single();
  for (const target of [busy, quiet]) {
    target.sample(1000);
    target.clock.time = 10_000;
  }
  for (let i = 0; i < 1000; i++) busy.sample(100);
  quiet.sample(100);
  t.ok(Math.abs(busy.estimate() - quiet.estimate()) < 1e-6, 'a burst at one instant weighs as one sample');
  t.ok(Math.abs(quiet.estimate() - 550) < 1e-6, 'one half-life passed: halfway');
});

t.test('without samples the estimate drifts back toward the default', async (t) => {
  const slow = single();
  slow.sample(5000);
  slow.clock.time = 10_000;
  t.ok(Math.abs(slow.estimate() - 3000) < 1e-6, 'a slow target is tried again eventually');
  const fast = single();
  fast.sample(100);
  fast.clock.time = 20_000;
  t.ok(Math.abs(fast.estimate() - 775) < 1e-6, 'old good news fades too: 1000 - 900 / 4');
  // The drift only stands in while there is no news: the next sample is weighed against what was
  // last measured, so a probe that finds the target still slow pushes it back up.
  slow.sample(2000);
  t.equal(slow.estimate(), 3500, '5000 and 2000, one half-life apart');
  slow.sample(4000);
  t.equal(slow.estimate(), 4000, 'slower than the estimate: counts at once');
});

t.test('a fast failure never makes a target look better', async (t) => {
  const { state, sample, estimate } = single({ maxLatencyMs: 5000 });
  sample(200);
  sample(3, false);
  t.equal(estimate(), 400, 'counted as twice the estimate (failurePenalty 2)');
  sample(1000, false);
  t.equal(estimate(), 1000, 'a failure slower than the penalty counts as it was');
  for (let i = 0; i < 10; i++) sample(1, false);
  t.equal(estimate(), 5000, 'repeated failures compound up to maxLatencyMs');
  t.equal(state.outstanding, 0);
});

t.test('without a latency the handle measures the time since start', async (t) => {
  const { clock, balancer, estimate } = single();
  clock.time = 1000;
  const handle = balancer.start('a');
  clock.time = 1250;
  handle.end();
  t.equal(estimate(), 250);
  const bad = balancer.start('a');
  clock.time = 1260;
  bad.end({ latencyMs: Number.NaN });
  t.ok(Math.abs(estimate() - 250) < 1, 'a NaN latency falls back to the measured 0 ms, not NaN');
});

t.test('end and cancel count once; cancel frees the slot without a sample', async (t) => {
  const { clock, balancer, state, estimate } = single();
  const first = balancer.start('a');
  const second = balancer.start('a');
  t.equal(state.outstanding, 2);
  clock.time = 10;
  first.end({ latencyMs: 300 });
  first.end({ latencyMs: 9000 });
  first.cancel();
  t.equal(state.outstanding, 1);
  t.equal(estimate(), 300, 'the second end fed nothing');
  second.cancel();
  second.end({ latencyMs: 9000 });
  t.equal(state.outstanding, 0);
  t.equal(estimate(), 300, 'a cancelled attempt feeds nothing');
  t.equal(first.target.name, 'a');
});

t.test('invalid latency settings and targets are refused with the field name', async (t) => {
  t.throws(() => latencySettings({ halfLifeMs: 0 }), /latency\.halfLifeMs/);
  t.throws(() => latencySettings({ defaultLatencyMs: Number.NaN }), /latency\.defaultLatencyMs/);
  t.throws(() => latencySettings({ failurePenalty: 0.5 }), /latency\.failurePenalty/);
  t.throws(() => latencySettings({ maxLatencyMs: 10 }), /latency\.maxLatencyMs/);
  t.same(latencySettings(), {
    halfLifeMs: 10_000,
    defaultLatencyMs: 1000,
    failurePenalty: 2,
    maxLatencyMs: 120_000,
  });
  const target = (extra: Partial<Target>): Target[] => [{ name: 'a', weight: 1, ...extra }];
  t.throws(() => validateTargets(target({ name: '' })), /targets\[0\]\.name/);
  t.throws(() => validateTargets([...target({}), ...target({})]), /targets\[1\]\.name must be unique/);
  t.throws(() => validateTargets(target({ weight: -1 })), /targets\[0\]\.weight/);
  t.throws(() => validateTargets(target({ weight: Number.POSITIVE_INFINITY })), /weight/);
  t.throws(() => validateTargets(target({ priority: Number.NaN })), /priority/);
  t.throws(() => validateTargets(target({ costPerRequest: -0.01 })), /costPerRequest/);
  t.doesNotThrow(() => validateTargets(target({ weight: 0, priority: -1, costPerRequest: 0 })));
});
