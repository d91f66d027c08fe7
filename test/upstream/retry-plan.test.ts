import t from 'tap';
import { SluiceError } from '../../src/pipeline/errors.ts';
import { RetryBudget } from '../../src/upstream/retry-budget.ts';
import { type AttemptOutcome, outcomeFromError } from '../../src/upstream/retry-classify.ts';
import { type RetryPolicy, resolveRetryPolicy } from '../../src/upstream/retry-options.ts';
import { RetryPlan, type RetryPlanOptions } from '../../src/upstream/retry-plan.ts';

const WALL = Date.parse('2025-01-01T00:00:00Z');
const s503: AttemptOutcome = { kind: 'response', status: 503, headers: {} };
const s200: AttemptOutcome = { kind: 'response', status: 200, headers: {} };
const refused = outcomeFromError(new SluiceError('upstream_connect_failed'));
const limited = (seconds: string): AttemptOutcome => ({
  kind: 'response',
  status: 429,
  headers: { 'retry-after': seconds },
});

function setup(policy: Partial<RetryPolicy> = {}, options: Partial<RetryPlanOptions> = {}) {
  const clock = { time: 1_000 };
  const budget = options.budget ?? new RetryBudget({ ratio: 1, minRetriesPerSecond: 100 }, () => clock.time);
  const plan = new RetryPlan(resolveRetryPolicy({ retryNonIdempotent: true, ...policy }), {
    method: 'POST',
    budget,
    now: () => clock.time,
    wallNow: () => WALL,
    random: () => 0.5,
    ...options,
  });
  return { clock, budget, plan };
}

t.test('retries a failing attempt with growing backoff until maxAttempts', async (t) => {
  const { plan } = setup({ maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 1000 });
  t.equal(plan.attempts, 1, 'the first attempt counts');
  t.same(plan.next(s503), { action: 'retry', delayMs: 50, reason: 'status' });
  t.same(plan.next(refused), { action: 'retry', delayMs: 100, reason: 'connect_failed' });
  t.same(plan.next(s503), { action: 'retry', delayMs: 200, reason: 'status' });
  t.equal(plan.attempts, 4);
  t.same(plan.next(s503), { action: 'give_up', reason: 'max_attempts' });
});

t.test('a final outcome gives up with its reason and spends no budget', async (t) => {
  const { plan, budget } = setup();
  const before = budget.available();
  t.same(plan.next(s200), { action: 'give_up', reason: 'not_retryable' });
  t.equal(budget.available(), before);
  const strict = setup({ retryNonIdempotent: false }).plan;
  t.same(strict.next(s503), { action: 'give_up', reason: 'not_idempotent' });
  t.same(setup({ maxAttempts: 1 }).plan.next(s503), { action: 'give_up', reason: 'max_attempts' });
});

t.test('Retry-After sets the delay; beyond the cap the 429 goes to the client', async (t) => {
  const { plan } = setup({ maxRetryAfterMs: 5_000, maxDelayMs: 1_000 });
  t.same(plan.next(limited('3')), { action: 'retry', delayMs: 3_000, reason: 'rate_limited' });
  t.same(plan.next(limited('6')), { action: 'give_up', reason: 'retry_after_too_long' });
});

t.test('once a byte reached the client there is no way to get a retry', async (t) => {
  const { plan, budget } = setup({ maxAttempts: 5 });
  t.equal(plan.next(s503).action, 'retry');
  plan.responseStarted();
  const before = budget.available();
  for (const outcome of [s503, refused, limited('1'), s200]) {
    t.same(plan.next(outcome), { action: 'give_up', reason: 'response_started' });
  }
  t.equal(budget.available(), before, 'nor any budget spent on asking');
});

t.test('a client that left is not retried; a deadline that passed is reported as such', async (t) => {
  const client = new AbortController();
  const { plan, clock } = setup({}, { clientSignal: client.signal, deadlineAt: 10_000 });
  t.equal(plan.next(s503).action, 'retry');
  client.abort(new SluiceError('client_closed_request'));
  t.same(plan.next(s503), { action: 'give_up', reason: 'client_gone' });
  clock.time = 10_000;
  t.same(
    plan.next(s503),
    { action: 'give_up', reason: 'deadline_exceeded' },
    'the same signal, at the deadline',
  );
});

t.test('per-try timeout never exceeds the time left before the deadline', async (t) => {
  const { plan, clock } = setup({ perTryTimeoutMs: 3_000 }, { deadlineAt: 11_000 });
  t.equal(plan.tryTimeoutMs(), 3_000, 'plenty of time: the per-try timeout');
  clock.time = 9_500;
  t.equal(plan.tryTimeoutMs(), 1_500, 'near the deadline: what is left');
  clock.time = 11_000;
  t.equal(plan.tryTimeoutMs(), 0, 'at the deadline: do not start');
  clock.time = 12_000;
  t.equal(plan.tryTimeoutMs(), 0, 'never negative');
  t.equal(setup({ perTryTimeoutMs: 3_000 }).plan.tryTimeoutMs(), 3_000, 'no overall deadline');
});

t.test('a retry whose delay would reach the deadline is not made, and spends no budget', async (t) => {
  const { plan, clock, budget } = setup({ baseDelayMs: 1_000, maxDelayMs: 1_000 }, { deadlineAt: 2_000 });
  t.same(plan.next(s503), { action: 'retry', delayMs: 500, reason: 'status' }, '1000 + 500 < 2000');
  clock.time = 1_600;
  const before = budget.available();
  t.same(plan.next(s503), { action: 'give_up', reason: 'deadline_exceeded' }, '1600 + 500 ≥ 2000');
  t.equal(budget.available(), before);
  const rateLimited = setup({}, { deadlineAt: 3_000 }).plan;
  t.same(rateLimited.next(limited('5')), { action: 'give_up', reason: 'deadline_exceeded' });
});

t.test('the shared budget caps retries across requests', async (t) => {
  const clock = { time: 0 };
  const budget = new RetryBudget({ ratio: 0.5, minRetriesPerSecond: 0 }, () => clock.time);
  const plans = Array.from({ length: 4 }, () => setup({ maxAttempts: 10 }, { budget }).plan);
  t.equal(budget.available(), 2, 'each plan deposited its request once');
  const actions = plans.map((plan) => plan.next(s503).action);
  t.same(actions, ['retry', 'retry', 'give_up', 'give_up']);
  t.same(plans[0]!.next(s503), { action: 'give_up', reason: 'budget_exhausted' });
  t.equal(plans[2]!.attempts, 1, 'a refused retry is not counted as an attempt');
});
