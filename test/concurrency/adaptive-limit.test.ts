import t from 'tap';
import {
  AdaptiveLimit,
  type AdaptiveOptions,
  validateAdaptiveOptions,
} from '../../src/concurrency/adaptive-limit.ts';
import { GradientRule, gradientDefaults } from '../../src/concurrency/adaptive-limit-gradient.ts';
import { SampleWindow } from '../../src/concurrency/adaptive-limit-window.ts';

/** Feeds `count` windows of one latency with the limit fully used; returns the limit after each. */
function run(limit: AdaptiveLimit, rttMs: number, count: number, dropped = false): number[] {
  const seen: number[] = [];
  for (let i = 0; i < count; i++) {
    limit.apply({ rttMs, dropped, peakInFlight: limit.limit, samples: 10 });
    seen.push(limit.limit);
  }
  return seen;
}

const nonIncreasing = (values: number[]) => values.every((value, i) => i === 0 || value <= values[i - 1]!);
const nonDecreasing = (values: number[]) => values.every((value, i) => i === 0 || value >= values[i - 1]!);

t.test('gradient: the limit falls when latency rises and recovers when it falls back', async (t) => {
  const limit = new AdaptiveLimit({ algorithm: 'gradient', minLimit: 2, maxLimit: 100 }, 20, 0);
  const healthy = run(limit, 20, 30);
  t.ok(nonDecreasing(healthy) && healthy.at(-1)! > 20, `grows while latency is steady: ${healthy.at(-1)}`);
  const peak = limit.limit;
  const slow = run(limit, 200, 30);
  t.ok(nonIncreasing(slow), 'never grows while latency stays 10× higher');
  t.ok(slow[2]! < peak, 'reacts within a few windows');
  t.ok(slow.at(-1)! <= peak / 3, `falls far: ${peak} → ${slow.at(-1)}`);
  const bottom = limit.limit;
  const recovered = run(limit, 20, 60);
  t.ok(nonDecreasing(recovered), 'only grows once latency is back');
  t.ok(recovered.at(-1)! >= peak, `recovers: ${bottom} → ${recovered.at(-1)}`);
});

t.test('gradient: stays within [minLimit, maxLimit]', async (t) => {
  const limit = new AdaptiveLimit({ algorithm: 'gradient', minLimit: 5, maxLimit: 30 }, 100, 0);
  t.equal(limit.limit, 30, 'the starting point is clamped too');
  t.ok(run(limit, 10, 200).every((value) => value <= 30));
  const low = run(limit, 10_000, 200);
  t.ok(low.every((value) => value >= 5));
  t.equal(run(limit, 10_000, 100, true).at(-1), 5);
});

t.test('gradient: an under-used limit holds, a drop backs off anyway', async (t) => {
  const limit = new AdaptiveLimit({ algorithm: 'gradient', minLimit: 1, maxLimit: 100 }, 40, 0);
  run(limit, 20, 5);
  const before = limit.limit;
  for (let i = 0; i < 10; i++) limit.apply({ rttMs: 500, dropped: false, peakInFlight: 3, samples: 10 });
  t.equal(limit.limit, before, 'latency at low load says nothing about the limit');
  limit.apply({ rttMs: undefined, dropped: true, peakInFlight: 3, samples: 10 });
  t.equal(limit.limit, Math.floor(before * 0.9), 'a drop: gradient 0.5 at smoothing 0.2');
});

t.test('gradient: the baseline follows a lasting change and forgets an overload that is over', async (t) => {
  const rule = new GradientRule({ ...gradientDefaults, longWindow: 20 });
  const summary = (rttMs: number) => ({ rttMs, dropped: false, peakInFlight: 100, samples: 10 });
  for (let i = 0; i < 50; i++) rule.next(100, summary(300));
  t.ok(rule.longRttMs > 250, `learned the slow baseline: ${rule.longRttMs.toFixed(0)}`);
  for (let i = 0; i < 10; i++) rule.next(100, summary(20));
  t.ok(rule.longRttMs < 100, `drift protection pulled it down fast: ${rule.longRttMs.toFixed(0)}`);
});

t.test('aimd: backs off on slow windows and drops, grows by one otherwise', async (t) => {
  const options: AdaptiveOptions = { algorithm: 'aimd', minLimit: 2, maxLimit: 50, latencyThresholdMs: 100 };
  const limit = new AdaptiveLimit(options, 20, 0);
  t.same(run(limit, 20, 3), [21, 22, 23]);
  const slow = run(limit, 200, 10);
  t.ok(nonIncreasing(slow) && slow.at(-1)! < 10, `falls when latency rises: ${slow.join(' ')}`);
  const recovered = run(limit, 20, 15);
  t.ok(nonDecreasing(recovered) && recovered.at(-1)! > slow.at(-1)! + 10, 'recovers');
  const before = limit.limit;
  t.equal(run(limit, 20, 1, true)[0], Math.floor(before * 0.9), 'a drop backs off even when fast');
  limit.apply({ rttMs: 20, dropped: false, peakInFlight: 1, samples: 10 });
  t.equal(limit.limit, Math.floor(before * 0.9), 'no growth while under-used');
});

t.test('aimd: stays within [minLimit, maxLimit]', async (t) => {
  const limit = new AdaptiveLimit({ algorithm: 'aimd', minLimit: 3, maxLimit: 8, increase: 2 }, 5, 0);
  t.same(run(limit, 10, 4), [7, 8, 8, 8]);
  const low = run(limit, 10, 50, true);
  t.ok(low.every((value) => value >= 3));
  t.equal(low.at(-1), 3);
});

t.test('reconfigure keeps what was learned for the same algorithm, restarts for another', async (t) => {
  const limit = new AdaptiveLimit({ algorithm: 'aimd', minLimit: 1, maxLimit: 100 }, 10, 0);
  run(limit, 10, 10);
  t.equal(limit.limit, 20);
  limit.reconfigure({ algorithm: 'aimd', minLimit: 1, maxLimit: 15 }, 10, 0);
  t.equal(limit.limit, 15, 'kept, clamped to the new maximum');
  limit.reconfigure({ algorithm: 'gradient', minLimit: 1, maxLimit: 100 }, 40, 0);
  t.equal(limit.algorithm, 'gradient');
  t.equal(limit.limit, 40, 'a new algorithm starts over from maxInFlight');
});

t.test('a window closes on enough samples and enough time; ignored outcomes do not count', async (t) => {
  const window = new SampleWindow(3, 1000, 0);
  t.equal(window.add({ kind: 'success', latencyMs: 10 }, 4, 100), undefined);
  t.equal(window.add({ kind: 'ignore' }, 9, 200), undefined);
  t.equal(window.add({ kind: 'success', latencyMs: Number.NaN }, 9, 200), undefined);
  t.equal(window.add({ kind: 'success', latencyMs: 30 }, 5, 300), undefined);
  t.equal(window.add({ kind: 'dropped' }, 5, 900), undefined, 'three samples, but only 900 ms');
  window.observeInFlight(7);
  const summary = window.add({ kind: 'success', latencyMs: 50 }, 2, 1000);
  t.same(summary, { rttMs: 30, dropped: true, peakInFlight: 7, samples: 4 });
  t.equal(window.add({ kind: 'success', latencyMs: 10 }, 1, 1100), undefined, 'a fresh window');
});

t.test('invalid adaptive options are refused with the field name', async (t) => {
  const base = { minLimit: 1, maxLimit: 10 };
  t.throws(
    () => validateAdaptiveOptions({ algorithm: 'gradient', ...base, minLimit: 0 }),
    /adaptive\.minLimit/,
  );
  t.throws(() => validateAdaptiveOptions({ algorithm: 'gradient', ...base, tolerance: 0.5 }), /tolerance/);
  t.throws(() => validateAdaptiveOptions({ algorithm: 'gradient', ...base, smoothing: 0 }), /smoothing/);
  t.throws(() => validateAdaptiveOptions({ algorithm: 'gradient', ...base, longWindow: 0 }), /longWindow/);
  t.throws(() => validateAdaptiveOptions({ algorithm: 'aimd', ...base, backoffRatio: 1 }), /backoffRatio/);
  t.throws(
    () => validateAdaptiveOptions({ algorithm: 'aimd', ...base, latencyThresholdMs: 0 }),
    /latencyThr/,
  );
  t.throws(() => validateAdaptiveOptions({ algorithm: 'aimd', ...base, windowSamples: 0 }), /windowSamples/);
  const unknown = { algorithm: 'vegas', ...base } as unknown as AdaptiveOptions;
  t.throws(() => validateAdaptiveOptions(unknown), /adaptive\.algorithm/);
});
