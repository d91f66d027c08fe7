import t, { type Test } from 'tap';
import type { SetTimer } from '../../src/concurrency/concurrency-options.ts';
import {
  type AttemptStatus,
  ejectionAllowance,
  type OutlierSettings,
  outlierSettings,
} from '../../src/upstream/breaker-options.ts';
import { type EjectionBudget, OutlierDetector } from '../../src/upstream/outlier.ts';
import { FakeClock } from '../concurrency/concurrency-helpers.ts';

class Budget implements EjectionBudget {
  used = 0;
  limit: number;
  constructor(limit = 1) {
    this.limit = limit;
  }
  tryEject(): boolean {
    if (this.used >= this.limit) return false;
    this.used++;
    return true;
  }
  release(): void {
    this.used--;
  }
}

function setup(t: Test, options: Partial<OutlierSettings> = {}, budget = new Budget(), setTimer?: SetTimer) {
  const clock = new FakeClock();
  const log: string[] = [];
  const detector = new OutlierDetector(
    outlierSettings({ consecutiveFailures: 3, baseEjectionMs: 1000, maxEjectionMs: 2500, ...options }),
    {
      now: clock.now,
      setTimer: setTimer ?? clock.setTimer,
      budget,
      probes: 1,
      onChange: ({ state, reason }) => log.push(`${state}:${reason}`),
      onEject: ({ durationMs, ejections }) => log.push(`eject ${durationMs} ms (×${ejections})`),
    },
  );
  t.teardown(() => detector.dispose());
  const call = (status: AttemptStatus): void => {
    const admission = detector.admit(clock.time);
    if (admission === undefined) throw new Error(`refused while ${detector.state}`);
    detector.record(admission, status, clock.time);
  };
  return { clock, log, detector, budget, call };
}

t.test('consecutive 5xx eject with a growing, capped ejection time', async (t) => {
  const { clock, log, detector, budget, call } = setup(t);
  call(500);
  call(502);
  call(404);
  call(429);
  call(500);
  call(503);
  t.equal(detector.state, 'active', 'a 404 or 429 answer breaks the run');
  call('connect_error');
  t.equal(detector.state, 'ejected', 'the third in a row');
  t.equal(budget.used, 1, 'it took a slot of the group');
  t.equal(detector.admit(clock.time), undefined);
  t.equal(detector.retryAt(clock.time), 1000);
  clock.advance(999);
  t.equal(detector.state, 'ejected');
  clock.advance(1);
  t.equal(detector.state, 'returning', 'the timer ended the ejection');
  t.equal(budget.used, 0, 'and gave the slot back');
  const probe = detector.admit(clock.time)!;
  t.ok(probe.probe);
  t.equal(detector.admit(clock.time), undefined, 'one probe at a time');
  t.equal(detector.retryAt(clock.time), undefined, 'a busy probe: no known time');
  detector.record(probe, 'timeout', clock.time);
  t.equal(detector.retryAt(clock.time), clock.time + 2000, 'a failed probe: ejected again, 2 × base');
  clock.advance(2000);
  call(500);
  t.equal(detector.retryAt(clock.time), clock.time + 2500, '3 × base, capped at maxEjectionMs');
  clock.advance(2500);
  call(200);
  t.equal(detector.state, 'active', 'one successful probe brings it fully back');
  t.same(log, [
    'eject 1000 ms (×1)',
    'ejected:consecutive_failures',
    'returning:ejection_ended',
    'eject 2000 ms (×2)',
    'ejected:probe_failed',
    'returning:ejection_ended',
    'eject 2500 ms (×3)',
    'ejected:probe_failed',
    'returning:ejection_ended',
    'active:probe_succeeded',
  ]);
  t.equal(clock.pending, 0, 'no timer left behind');
});

t.test('the multiplier decays while the target stays healthy', async (t) => {
  const { clock, log, call } = setup(t, { maxEjectionMs: 10_000, ejectionDecayMs: 5000 });
  const ejectAndRecover = () => {
    for (let i = 0; i < 3; i++) call(500);
    clock.advance(10_000);
    call(200);
  };
  ejectAndRecover();
  ejectAndRecover();
  ejectAndRecover();
  clock.advance(9999);
  ejectAndRecover();
  clock.advance(10_000);
  ejectAndRecover();
  t.same(
    log.filter((line) => line.startsWith('eject ')),
    [
      'eject 1000 ms (×1)',
      'eject 2000 ms (×2)',
      'eject 3000 ms (×3)',
      'eject 3000 ms (×3)',
      'eject 2000 ms (×2)',
    ],
    'one step forgiven per full 5 s the target stayed healthy',
  );
});

t.test('late results are ignored while ejected and on trial', async (t) => {
  const { clock, detector, call } = setup(t);
  const late = [detector.admit(0)!, detector.admit(0)!, detector.admit(0)!];
  for (let i = 0; i < 3; i++) call(500);
  detector.record(late[0]!, 200, clock.time);
  t.equal(detector.state, 'ejected', 'a success sent before the ejection does not end it');
  clock.advance(1000);
  detector.record(late[1]!, 500, clock.time);
  detector.record(late[2]!, 200, clock.time);
  t.equal(detector.state, 'returning', 'only probes decide a trial');
  const probe = detector.admit(clock.time)!;
  detector.release(probe);
  t.ok(detector.admit(clock.time)?.probe, 'an abandoned probe frees its slot');
});

t.test('a due ejection ends on inspection when its timer is late', async (t) => {
  const never: SetTimer = () => () => undefined;
  const { detector, call } = setup(t, {}, new Budget(), never);
  for (let i = 0; i < 3; i++) call(503);
  t.notOk(detector.available(999));
  t.ok(detector.available(1000));
  t.equal(detector.state, 'returning');
});

t.test('the group budget refuses an ejection; the next failure asks again', async (t) => {
  const budget = new Budget(0);
  const { clock, log, detector, call } = setup(t, {}, budget);
  for (let i = 0; i < 5; i++) call(500);
  t.equal(detector.state, 'active', 'no slot: it stays in service');
  budget.limit = 1;
  call(500);
  t.equal(detector.state, 'ejected', 'a slot freed: one more failure is enough');
  clock.advance(1000);
  budget.limit = 0;
  call(500);
  t.equal(detector.state, 'active', 'a failed probe with no slot left: back in service');
  t.same(log.slice(-2), ['returning:ejection_ended', 'active:ejection_refused']);
});

t.test('consecutiveFailures 0 turns ejection off; dispose gives the slot back', async (t) => {
  const off = setup(t, { consecutiveFailures: 0 });
  for (let i = 0; i < 20; i++) off.call(500);
  t.equal(off.detector.state, 'active');
  const { clock, detector, budget, call } = setup(t);
  for (let i = 0; i < 3; i++) call(500);
  t.equal(budget.used, 1);
  t.equal(clock.pending, 1);
  detector.dispose();
  t.equal(budget.used, 0);
  t.equal(clock.pending, 0, 'the return timer is cancelled');
  t.notOk(detector.available(clock.time + 5000));
  t.equal(detector.admit(clock.time + 5000), undefined);
});

t.test('ejection allowance: a share of the group, at least one of two or more', async (t) => {
  const cases: [number, number, number][] = [
    [1, 50, 0],
    [1, 100, 1],
    [2, 50, 1],
    [2, 10, 1],
    [3, 50, 1],
    [4, 50, 2],
    [10, 10, 1],
    [5, 0, 0],
    [4, 100, 4],
  ];
  for (const [size, percent, allowed] of cases) {
    t.equal(ejectionAllowance(size, percent), allowed, `${size} targets at ${percent} %`);
  }
});

t.test('invalid outlier settings are refused with the field name', async (t) => {
  t.throws(() => outlierSettings({ consecutiveFailures: -1 }), /outlier\.consecutiveFailures/);
  t.throws(() => outlierSettings({ baseEjectionMs: 0 }), /baseEjectionMs/);
  t.throws(() => outlierSettings({ baseEjectionMs: 100, maxEjectionMs: 50 }), /maxEjectionMs/);
  t.throws(() => outlierSettings({ maxEjectionPercent: 120 }), /maxEjectionPercent/);
  t.throws(() => outlierSettings({ ejectionDecayMs: Number.POSITIVE_INFINITY }), /ejectionDecayMs/);
  t.same(outlierSettings(), {
    consecutiveFailures: 5,
    baseEjectionMs: 30_000,
    maxEjectionMs: 300_000,
    maxEjectionPercent: 50,
    ejectionDecayMs: 60_000,
  });
});
