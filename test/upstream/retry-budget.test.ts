import t from 'tap';
import { seededRandom } from '../../src/mock-llm/random.ts';
import { RetryBudget } from '../../src/upstream/retry-budget.ts';
import { type BudgetOptions, resolveRetryPolicy } from '../../src/upstream/retry-options.ts';
import { RetryPlan } from '../../src/upstream/retry-plan.ts';

const failing = { kind: 'response', status: 503, headers: {} } as const;

interface Event {
  readonly at: number;
  readonly plan?: RetryPlan;
}

/**
 * Requests arrive at `arrivals` (ms) and every attempt fails with a 503; each request retries through
 * its own RetryPlan against one shared budget until the plan gives up. Returns the attempts sent.
 */
function simulate(options: BudgetOptions, arrivals: number[], seed: number) {
  const clock = { time: 0 };
  const now = () => clock.time;
  const budget = new RetryBudget(options, now);
  const random = seededRandom(seed);
  const policy = resolveRetryPolicy({ maxAttempts: 20, retryNonIdempotent: true, baseDelayMs: 20 });
  const queue: Event[] = arrivals.map((at) => ({ at })).sort((a, b) => a.at - b.at);
  let attempts = 0;
  let first = Number.POSITIVE_INFINITY;
  let last = 0;
  while (queue.length > 0) {
    const event = queue.shift()!;
    clock.time = event.at;
    first = Math.min(first, event.at);
    last = event.at;
    const plan = event.plan ?? new RetryPlan(policy, { method: 'POST', budget, now, random });
    attempts++;
    const decision = plan.next(failing);
    if (decision.action !== 'retry') continue;
    const retry = { at: event.at + decision.delayMs, plan };
    let i = queue.length;
    while (i > 0 && queue[i - 1]!.at > retry.at) i--;
    queue.splice(i, 0, retry);
  }
  const bucketMs = options.windowMs / options.buckets;
  const spanned = Math.floor(last / bucketMs) - Math.floor(first / bucketMs) + 1;
  const floor =
    ((options.minRetriesPerSecond * options.windowMs) / 1000) * Math.ceil(spanned / options.buckets);
  return { attempts, bound: (1 + options.ratio) * arrivals.length + floor };
}

function arrivalsOf(kind: string, seed: number): number[] {
  const random = seededRandom(seed);
  const times: number[] = [];
  if (kind === 'steady') for (let i = 0; i < 3000; i++) times.push(random() * 30_000);
  if (kind === 'bursts') {
    for (let burst = 0; burst < 6; burst++) {
      for (let i = 0; i < 400; i++) times.push(burst * 7_000 + random() * 200);
    }
  }
  if (kind === 'quiet') for (let i = 0; i < 40; i++) times.push(random() * 60_000);
  return times;
}

t.test(
  'all attempts failing: attempts ≤ (1 + ratio) × requests + min × window × ⌈K / buckets⌉',
  async (t) => {
    const shapes: BudgetOptions[] = [
      { ratio: 0.2, minRetriesPerSecond: 1, windowMs: 10_000, buckets: 10 },
      { ratio: 0.1, minRetriesPerSecond: 0, windowMs: 10_000, buckets: 10 },
      { ratio: 0, minRetriesPerSecond: 5, windowMs: 1_000, buckets: 4 },
      { ratio: 1, minRetriesPerSecond: 10, windowMs: 3_000, buckets: 1 },
      { ratio: 0.5, minRetriesPerSecond: 2, windowMs: 5_000, buckets: 50 },
    ];
    let seed = 1;
    for (const options of shapes) {
      for (const kind of ['steady', 'bursts', 'quiet']) {
        const { attempts, bound } = simulate(options, arrivalsOf(kind, seed), seed++);
        // The epsilon only absorbs float rounding of ratio × requests; the counts are integers.
        t.ok(
          attempts <= bound + 1e-9,
          `${JSON.stringify(options)} ${kind}: ${attempts} ≤ ${bound.toFixed(1)}`,
        );
      }
    }
  },
);

t.test('the bound is nearly reached under steady load: the budget does not starve retries', async (t) => {
  const options = { ratio: 0.2, minRetriesPerSecond: 0, windowMs: 10_000, buckets: 10 };
  const { attempts } = simulate(options, arrivalsOf('steady', 3), 3);
  t.ok(attempts >= 3000 * 1.17, `${attempts} attempts for 3000 requests`);
});

t.test('an exhausted budget recovers once the window has moved on', async (t) => {
  const clock = { time: 0 };
  const budget = new RetryBudget(
    { ratio: 0.2, minRetriesPerSecond: 0, windowMs: 10_000, buckets: 10 },
    () => clock.time,
  );
  for (let i = 0; i < 100; i++) budget.deposit();
  let granted = 0;
  while (budget.tryWithdraw()) granted++;
  t.equal(granted, 20, '20 % of 100 requests');
  t.equal(budget.available(), 0);
  clock.time = 9_999;
  t.notOk(budget.tryWithdraw(), 'still inside the window');
  for (let i = 0; i < 50; i++) budget.deposit();
  t.equal(budget.available(), 10, 'the 20 retries count against 150 requests: 30 − 20');
  clock.time = 10_000;
  t.equal(budget.available(), 10, 'the first bucket left with its 100 requests and its 20 retries');
  clock.time = 18_999;
  t.equal(budget.available(), 10, 'the 50 requests of 9.999 s are still in the window');
  clock.time = 19_000;
  t.equal(budget.available(), 0, 'all forgotten');
  for (let i = 0; i < 5; i++) budget.deposit();
  t.ok(budget.tryWithdraw(), 'fresh requests earn fresh retries');
  t.notOk(budget.tryWithdraw());
});

t.test('minRetriesPerSecond lets a quiet upstream retry, and no more', async (t) => {
  const clock = { time: 5 };
  const budget = new RetryBudget(
    { ratio: 0.2, minRetriesPerSecond: 2, windowMs: 5_000, buckets: 5 },
    () => clock.time,
  );
  let granted = 0;
  while (budget.tryWithdraw()) granted++;
  t.equal(granted, 10, '2 per second over a 5 s window, without any request');
  clock.time += 1_000;
  t.notOk(budget.tryWithdraw(), 'the window still holds them');
  clock.time += 4_000;
  t.equal(budget.available(), 10, 'a window later the floor is back');
  t.notOk(new RetryBudget({ ratio: 0.5, minRetriesPerSecond: 0 }).tryWithdraw(), 'no floor, no requests');
});

t.test('a long idle gap clears the window in one step, and a clock step back changes nothing', async (t) => {
  const clock = { time: 0 };
  const budget = new RetryBudget(
    { ratio: 1, minRetriesPerSecond: 0, windowMs: 1_000, buckets: 10 },
    () => clock.time,
  );
  budget.deposit();
  clock.time = 1e12;
  t.notOk(budget.tryWithdraw(), 'deposits from long ago are gone');
  budget.deposit();
  clock.time = 1e12 - 5_000;
  t.ok(budget.tryWithdraw(), 'time going backwards keeps the current bucket');
});

t.test('options are validated with the field name', async (t) => {
  t.throws(() => new RetryBudget({ ratio: -0.1 }), /ratio must be a number ≥ 0/);
  t.throws(() => new RetryBudget({ minRetriesPerSecond: Number.NaN }), /minRetriesPerSecond/);
  t.throws(() => new RetryBudget({ buckets: 0 }), /buckets must be an integer 1-1000/);
  t.throws(() => new RetryBudget({ windowMs: 5, buckets: 10 }), /windowMs/);
});
