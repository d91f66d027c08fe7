import t from 'tap';
import {
  type Attempt,
  HedgeLostError,
  type HedgeOptions,
  hedge,
  hedgeDelayMs,
} from '../../src/upstream/hedge.ts';
import { WindowQuantile } from '../../src/upstream/quantile.ts';
import { RetryBudget } from '../../src/upstream/retry-budget.ts';
import { FakeClock, tick } from '../concurrency/concurrency-helpers.ts';

interface Call {
  readonly index: number;
  readonly signal: AbortSignal;
  readonly resolve: (value: string) => void;
  readonly reject: (error: unknown) => void;
}

/** Attempts the test answers by hand: each call waits until the test resolves or rejects it. */
function race(options: Partial<HedgeOptions<string>> = {}) {
  const clock = new FakeClock();
  const calls: Call[] = [];
  const discarded: string[] = [];
  let withdrawals = 0;
  const attempt: Attempt<string> = (signal, index) =>
    new Promise((resolve, reject) => calls.push({ index, signal, resolve, reject }));
  const log: string[] = [];
  const result = hedge(attempt, {
    delayMs: 100,
    maxHedges: 1,
    budget: {
      tryWithdraw: () => {
        withdrawals++;
        return true;
      },
    },
    setTimer: clock.setTimer,
    discard: (value) => discarded.push(value),
    ...options,
  }).then(
    (value) => {
      log.push(`won:${value.value}@${value.winner}/${value.sent}`);
      return value;
    },
    (error: unknown) => {
      log.push(`failed:${error instanceof Error ? error.message : String(error)}`);
      return undefined;
    },
  );
  return { clock, calls, discarded, log, result, withdrawals: () => withdrawals };
}

t.test('the hedge fires only once the delay has passed without headers', async (t) => {
  const r = race();
  t.equal(r.calls.length, 1, 'the first attempt starts at once');
  r.clock.advance(99);
  t.equal(r.calls.length, 1, 'not before the delay');
  r.clock.advance(1);
  t.equal(r.calls.length, 2, 'at the delay');
  t.equal(r.calls[1]!.index, 1, 'the hedge knows it is one, to pick another target');
  r.clock.advance(10_000);
  t.equal(r.calls.length, 2, 'maxHedges 1: no more');
  t.equal(r.withdrawals(), 1, 'the hedge was withdrawn from the budget');
  r.calls[0]!.resolve('a');
  await r.result;
});

t.test('headers before the delay: no hedge, no timer left behind', async (t) => {
  const r = race();
  r.clock.advance(50);
  r.calls[0]!.resolve('a');
  await tick();
  t.same(r.log, ['won:a@0/1']);
  t.equal(r.clock.pending, 0);
  r.clock.advance(1_000);
  t.equal(r.calls.length, 1);
  t.equal(r.withdrawals(), 0, 'no budget spent');
});

t.test('the first headers win and the loser is aborted', async (t) => {
  const r = race();
  r.clock.advance(100);
  r.calls[1]!.resolve('hedge');
  await tick();
  t.same(r.log, ['won:hedge@1/2'], 'the hedge answered first');
  t.ok(r.calls[0]!.signal.aborted, 'the slow first attempt is aborted');
  t.ok(r.calls[0]!.signal.reason instanceof HedgeLostError, 'with a reason that says it lost');
  t.notOk(r.calls[1]!.signal.aborted, 'the winner runs on');
  r.calls[0]!.resolve('late');
  await tick();
  t.same(r.discarded, ['late'], 'a loser that answered anyway is released');

  const other = race();
  other.clock.advance(100);
  other.calls[0]!.resolve('first');
  await tick();
  t.same(other.log, ['won:first@0/2']);
  t.ok(other.calls[1]!.signal.aborted, 'the hedge is aborted when the first attempt wins');
});

t.test('no budget, no hedge', async (t) => {
  const r = race({ budget: { tryWithdraw: () => false }, maxHedges: 3 });
  r.clock.advance(10_000);
  t.equal(r.calls.length, 1);
  t.equal(r.clock.pending, 0, 'and no further tries for this request');
  r.calls[0]!.resolve('slow');
  t.same((await r.result)?.sent, 1);

  const clock = { time: 0 };
  const budget = new RetryBudget(
    { ratio: 0, minRetriesPerSecond: 1, windowMs: 1_000, buckets: 1 },
    () => clock.time,
  );
  const first = race({ budget });
  const second = race({ budget });
  first.clock.advance(100);
  second.clock.advance(100);
  t.same([first.calls.length, second.calls.length], [2, 1], 'a real budget: one hedge, then spent');
  first.calls[0]!.resolve('x');
  second.calls[0]!.resolve('y');
  await Promise.all([first.result, second.result]);
});

t.test('at most maxHedges hedges, one delay apart', async (t) => {
  const r = race({ maxHedges: 3 });
  const starts: number[] = [];
  for (let i = 0; i < 10; i++) {
    r.clock.advance(50);
    starts.push(r.calls.length);
  }
  t.same(starts, [1, 2, 2, 3, 3, 4, 4, 4, 4, 4]);
  t.equal(r.withdrawals(), 3);
  r.calls[2]!.resolve('third');
  await tick();
  t.same(r.log, ['won:third@2/4']);
  t.same(
    r.calls.map((call) => call.signal.aborted),
    [true, true, false, true],
  );
  const none = race({ maxHedges: 0 });
  t.equal(none.clock.pending, 0, 'maxHedges 0: plain request, no timer');
  none.calls[0]!.resolve('a');
  await none.result;
});

t.test(
  'failures: wait for an attempt still in flight; when none is left, fail with the last error',
  async (t) => {
    const r = race();
    r.clock.advance(100);
    r.calls[0]!.reject(new Error('reset'));
    await tick();
    t.same(r.log, [], 'the hedge may still answer');
    r.calls[1]!.resolve('saved');
    await tick();
    t.same(r.log, ['won:saved@1/2']);

    const both = race();
    both.clock.advance(100);
    both.calls[1]!.reject(new Error('first failure'));
    both.calls[0]!.reject(new Error('last failure'));
    await tick();
    t.same(both.log, ['failed:last failure']);

    const early = race({ maxHedges: 2 });
    early.calls[0]!.reject(new Error('refused'));
    await tick();
    t.same(early.log, ['failed:refused'], 'a fast failure is the retry plan’s business, not a hedge’s');
    t.equal(early.clock.pending, 0);
    early.clock.advance(1_000);
    t.equal(early.calls.length, 1);

    const thrown = hedge<string>(
      () => {
        throw new Error('sync');
      },
      { delayMs: 10, maxHedges: 1, budget: { tryWithdraw: () => true }, setTimer: new FakeClock().setTimer },
    );
    await t.rejects(thrown, /sync/, 'an attempt that throws is a failure, not a crash');
  },
);

t.test('the request’s signal aborts every attempt, the winner’s too', async (t) => {
  const client = new AbortController();
  const r = race({ signal: client.signal });
  r.clock.advance(100);
  client.abort(new Error('client gone'));
  await tick();
  t.same(r.log, ['failed:client gone']);
  t.same(
    r.calls.map((call) => call.signal.reason?.message),
    ['client gone', 'client gone'],
  );
  t.equal(r.clock.pending, 0);

  const later = new AbortController();
  const won = race({ signal: later.signal });
  won.calls[0]!.resolve('streaming');
  await won.result;
  later.abort(new Error('client gone mid-stream'));
  t.ok(won.calls[0]!.signal.aborted, 'the winner’s body stops when the client leaves');

  const gone = AbortSignal.abort(new Error('already gone'));
  const early = race({ signal: gone });
  await early.result;
  t.same([early.calls.length, early.log], [0, ['failed:already gone']], 'nothing is sent');
});

t.test('options are validated', async (t) => {
  const attempt: Attempt<string> = async () => 'a';
  const budget = { tryWithdraw: () => true };
  t.throws(() => hedge(attempt, { delayMs: Number.POSITIVE_INFINITY, maxHedges: 1, budget }), /delayMs/);
  t.throws(() => hedge(attempt, { delayMs: -1, maxHedges: 1, budget }), /delayMs/);
  t.throws(() => hedge(attempt, { delayMs: 10, maxHedges: 1.5, budget }), /maxHedges/);
});

t.test('hedgeDelayMs: fixed, or the target’s quantile within bounds', async (t) => {
  t.equal(hedgeDelayMs({ fixedMs: 250 }, undefined), 250);
  const learned = { quantile: 0.95, fallbackMs: 2_000, minMs: 100, maxMs: 5_000 };
  const estimator = new WindowQuantile(100, 20);
  t.equal(hedgeDelayMs(learned, undefined), 2_000, 'no estimator yet');
  for (let i = 1; i <= 19; i++) estimator.observe(i * 100);
  t.equal(hedgeDelayMs(learned, estimator), 2_000, 'too few samples');
  estimator.observe(2_000);
  t.equal(hedgeDelayMs(learned, estimator), 1_900, 'the p95 of 100…2000');
  t.equal(hedgeDelayMs({ ...learned, maxMs: 1_000 }, estimator), 1_000, 'capped');
  t.equal(hedgeDelayMs({ ...learned, minMs: 3_000, maxMs: 9_000 }, estimator), 3_000, 'floored');
});
