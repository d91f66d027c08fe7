import t from 'tap';
import { seededRandom } from '../../src/mock-llm/random.ts';
import { TargetQuantiles, WindowQuantile } from '../../src/upstream/quantile.ts';

function filled(values: readonly number[], capacity = values.length): WindowQuantile {
  const window = new WindowQuantile(capacity, 1);
  for (const value of values) window.observe(value);
  return window;
}

t.test('nearest rank, exact on a known window', async (t) => {
  const random = seededRandom(5);
  const values = Array.from({ length: 100 }, (_, i) => i + 1).sort(() => random() - 0.5);
  const window = filled(values);
  t.equal(window.quantile(0.95), 95);
  t.equal(window.quantile(0.5), 50);
  t.equal(window.quantile(1), 100);
  t.equal(window.quantile(0.001), 1);
  t.equal(filled([7]).quantile(0.95), 7, 'one sample');
  t.equal(filled([3, 3, 3, 3]).quantile(0.5), 3, 'all equal');
});

t.test('quickselect agrees with a full sort on random windows with ties and trends', async (t) => {
  const random = seededRandom(9);
  let mismatches = 0;
  for (let trial = 0; trial < 300; trial++) {
    const n = 1 + Math.floor(random() * 300);
    const ties = trial % 3 === 0;
    const trend = trial % 5 === 0;
    const values = Array.from({ length: n }, (_, i) =>
      trend ? (trial % 2 ? i : n - i) : ties ? Math.floor(random() * 5) : random() * 1000,
    );
    const sorted = [...values].sort((a, b) => a - b);
    for (const q of [0.05, 0.5, 0.9, 0.95, 0.99, 1]) {
      const expected = sorted[Math.min(n - 1, Math.ceil(q * n) - 1)];
      if (filled(values).quantile(q) !== expected) mismatches++;
    }
  }
  t.equal(mismatches, 0);
});

/** The fraction of the true distribution at or below the estimate, over many independent windows. */
function ranks(sample: () => number, cdf: (x: number) => number, windows = 400): number[] {
  const out: number[] = [];
  for (let w = 0; w < windows; w++) {
    const window = new WindowQuantile(256);
    for (let i = 0; i < 256; i++) window.observe(sample());
    out.push(cdf(window.quantile(0.95)!));
  }
  return out;
}

t.test(
  'p95 accuracy on known distributions matches the stated error (±0.014 in rank at n = 256)',
  async (t) => {
    const random = seededRandom(2024);
    const distributions: [string, () => number, (x: number) => number][] = [
      ['uniform 0-1000 ms', () => random() * 1000, (x) => x / 1000],
      ['exponential, mean 300 ms', () => -300 * Math.log(1 - random()), (x) => 1 - Math.exp(-x / 300)],
      // Pareto α = 1.5 from 100 ms: the heavy tail LLM latencies have.
      ['pareto α 1.5', () => 100 / (1 - random()) ** (1 / 1.5), (x) => 1 - (100 / x) ** 1.5],
    ];
    const sigma = Math.sqrt((0.95 * 0.05) / 256);
    for (const [name, sample, cdf] of distributions) {
      const seen = ranks(sample, cdf);
      const within2 = seen.filter((p) => Math.abs(p - 0.95) <= 2 * sigma).length / seen.length;
      const worst = Math.max(...seen.map((p) => Math.abs(p - 0.95)));
      const mean = seen.reduce((a, b) => a + b, 0) / seen.length;
      t.ok(within2 >= 0.9, `${name}: ${(within2 * 100).toFixed(1)} % within ±2σ`);
      t.ok(worst <= 4 * sigma, `${name}: worst rank error ${worst.toFixed(4)}`);
      t.ok(Math.abs(mean - 0.95) < 0.005, `${name}: unbiased, mean rank ${mean.toFixed(4)}`);
    }
  },
);

t.test('the window forgets: a target that slowed down is followed within capacity samples', async (t) => {
  const window = new WindowQuantile(100, 10);
  for (let i = 0; i < 100; i++) window.observe(100);
  t.equal(window.quantile(0.95), 100);
  for (let i = 0; i < 10; i++) window.observe(1000);
  t.equal(window.quantile(0.95), 1000, 'a tenth of slow samples moves the p95 at once');
  t.equal(window.quantile(0.5), 100);
  for (let i = 0; i < 90; i++) window.observe(1000);
  t.equal(window.quantile(0.01), 1000, 'after capacity samples the old level is gone');
  t.equal(window.count, 100);
});

t.test('few samples, bad samples and bad arguments', async (t) => {
  const window = new WindowQuantile(64, 20);
  for (let i = 0; i < 19; i++) window.observe(i);
  t.equal(window.quantile(0.95), undefined, 'below minSamples: no answer');
  for (const bad of [Number.NaN, -1, Number.POSITIVE_INFINITY]) window.observe(bad);
  t.equal(window.count, 19, 'non-finite and negative samples are ignored');
  window.observe(19);
  t.equal(window.quantile(0.95), 18);
  t.equal(window.quantile(0.95), 18, 'a repeated query (cached)');
  window.observe(1000);
  t.equal(window.quantile(0.95), 19, 'the cache is dropped on a new sample');
  t.throws(() => window.quantile(0), /q must be in \(0, 1]/);
  t.throws(() => window.quantile(Number.NaN));
  t.throws(() => new WindowQuantile(0), /capacity/);
  t.throws(() => new WindowQuantile(10, 11), /minSamples/);
  t.throws(() => new TargetQuantiles(10, 0), /minSamples/);
});

t.test('one window per target', async (t) => {
  const targets = new TargetQuantiles(16, 2);
  for (let i = 0; i < 4; i++) {
    targets.observe('fast', 10);
    targets.observe('slow', 900);
  }
  t.equal(targets.quantile('fast', 0.95), 10);
  t.equal(targets.quantile('slow', 0.95), 900);
  t.equal(targets.quantile('unknown', 0.95), undefined);
  targets.forget('slow');
  t.equal(targets.quantile('slow', 0.95), undefined);
});
