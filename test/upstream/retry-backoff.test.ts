import t from 'tap';
import { seededRandom } from '../../src/mock-llm/random.ts';
import { backoffDelayMs } from '../../src/upstream/retry-backoff.ts';

t.test('full jitter: every delay lies in [0, min(cap, base × 2ⁿ)]', async (t) => {
  const random = seededRandom(11);
  for (let retry = 0; retry < 12; retry++) {
    const ceiling = Math.min(5000, 100 * 2 ** retry);
    for (let i = 0; i < 500; i++) {
      const delay = backoffDelayMs(retry, 100, 5000, random);
      if (!(delay >= 0 && delay <= ceiling && Number.isInteger(delay))) {
        t.fail(`retry ${retry}: ${delay} outside [0, ${ceiling}]`);
        return;
      }
    }
  }
  t.equal(
    backoffDelayMs(0, 100, 5000, () => 0),
    0,
    'the low end is reachable',
  );
  t.equal(
    backoffDelayMs(2, 100, 5000, () => 0.999_999),
    399,
    'the high end of retry 2',
  );
  t.equal(
    backoffDelayMs(2, 100, 5000, () => 1),
    400,
    'a random of 1 stays at the ceiling',
  );
  t.equal(
    backoffDelayMs(2, 100, 5000, () => 7),
    400,
    'a broken random is clamped',
  );
  t.equal(
    backoffDelayMs(2, 100, 5000, () => -1),
    0,
  );
  t.equal(
    backoffDelayMs(10_000, 100, 5000, () => 0.5),
    2500,
    'huge retry counts: the cap, not NaN',
  );
  t.equal(
    backoffDelayMs(3, 0, 0, () => 0.5),
    0,
    'base 0: no wait',
  );
});

t.test('full jitter: uniform over the interval, not clustered at its ends', async (t) => {
  const random = seededRandom(42);
  const n = 20_000;
  const ceiling = 800; // retry 3 at base 100
  const deciles = new Array<number>(10).fill(0);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const delay = backoffDelayMs(3, 100, 10_000, random);
    sum += delay;
    deciles[Math.min(9, Math.floor((delay / ceiling) * 10))]!++;
  }
  const mean = sum / n;
  t.ok(Math.abs(mean - ceiling / 2) < ceiling * 0.02, `mean ≈ ceiling / 2: ${mean.toFixed(1)}`);
  for (const [i, count] of deciles.entries()) {
    t.ok(Math.abs(count / n - 0.1) < 0.01, `decile ${i}: ${((count / n) * 100).toFixed(1)} %`);
  }
});

t.test('the ceiling doubles per retry up to the cap', async (t) => {
  const high = () => 0.999_999_9;
  t.same(
    [0, 1, 2, 3, 4, 5, 6].map((retry) => backoffDelayMs(retry, 100, 2000, high) + 1),
    [100, 200, 400, 800, 1600, 2000, 2000],
  );
});

t.test('an upstream hint replaces the jittered delay', async (t) => {
  t.equal(
    backoffDelayMs(0, 100, 2000, () => 0.5, 3000),
    3000,
    'even above the backoff cap',
  );
  t.equal(
    backoffDelayMs(5, 100, 2000, () => 0.5, 0),
    0,
    'a hint of 0 is honoured too',
  );
});
