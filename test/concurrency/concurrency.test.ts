import t from 'tap';
import {
  type ConcurrencyEvent,
  ConcurrencyLimiter,
  type ConcurrencyOptions,
  ConcurrencyRejection,
  type Permit,
} from '../../src/concurrency/concurrency.ts';
import { FakeClock, tick, track } from './concurrency-helpers.ts';

const classes = ['interactive', 'default', 'batch'];

function limiter(clock: FakeClock, overrides: Partial<ConcurrencyOptions> = {}): ConcurrencyLimiter {
  return new ConcurrencyLimiter({
    maxInFlight: 2,
    queue: { maxSize: 10, timeoutMs: 1000 },
    classes,
    now: clock.now,
    setTimer: clock.setTimer,
    ...overrides,
  });
}

/** The rejection reason, or 'granted': comparable with t.equal, unlike an error's extra fields. */
const reasonOf = (attempt: Promise<Permit>): Promise<string> =>
  attempt.then(
    () => 'granted',
    (error: ConcurrencyRejection) => error.reason,
  );

const ok = { kind: 'success', latencyMs: 10 } as const;

t.test('a free slot is granted at once with no wait', async (t) => {
  const lim = limiter(new FakeClock());
  const permit = await lim.acquire('default');
  t.equal(permit.waitedMs, 0);
  t.equal(permit.priorityClass, 'default');
  t.equal(lim.inFlight, 1);
  t.equal(lim.limit, 2);
  permit.release(ok);
  t.equal(lim.inFlight, 0);
});

t.test('under contention the highest class goes first, FIFO within a class', async (t) => {
  const clock = new FakeClock();
  const lim = limiter(clock);
  const held = [await lim.acquire('default'), await lim.acquire('default')];
  const log: string[] = [];
  const arrivals: [string, string][] = [
    ['b1', 'batch'],
    ['d1', 'default'],
    ['i1', 'interactive'],
    ['b2', 'batch'],
    ['i2', 'interactive'],
    ['d2', 'default'],
    ['i3', 'interactive'],
  ];
  const pending = new Map(arrivals.map(([label, cls]) => [label, track(lim, label, cls, log)]));
  t.same(lim.queued(), { interactive: 3, default: 2, batch: 2 });
  let next = held.pop()!;
  for (const _ of arrivals) {
    next.release(ok);
    await tick();
    t.equal(lim.inFlight, 2, 'each release hands the slot straight on');
    next = (await pending.get(log.at(-1)!))!;
  }
  next.release(ok);
  held[0]!.release(ok);
  t.same(log, ['i1', 'i2', 'i3', 'd1', 'd2', 'b1', 'b2']);
  t.same(lim.queued(), { interactive: 0, default: 0, batch: 0 });
  t.equal(lim.inFlight, 0);
});

t.test('an unknown class is served as the lowest', async (t) => {
  const lim = limiter(new FakeClock(), { maxInFlight: 1 });
  const first = await lim.acquire('nobody-knows');
  t.equal(first.priorityClass, 'batch');
  const log: string[] = [];
  const later = [track(lim, 'x', 'mystery', log), track(lim, 'd', 'default', log)];
  t.same(lim.queued(), { interactive: 0, default: 1, batch: 1 });
  first.release(ok);
  await tick();
  t.same(log, ['d']);
  (await later[1])!.release(ok);
  await tick();
  t.same(log, ['d', 'x']);
  t.equal((await later[0])!.priorityClass, 'batch');
});

t.test('a full queue rejects at once, with a bounded Retry-After', async (t) => {
  const clock = new FakeClock();
  const lim = limiter(clock, { maxInFlight: 1, queue: { maxSize: 2, timeoutMs: 1000 } });
  await lim.acquire('default');
  const log: string[] = [];
  void track(lim, 'a', 'default', log);
  void track(lim, 'b', 'default', log);
  const error = await lim.acquire('default').catch((e: unknown) => e);
  t.ok(error instanceof ConcurrencyRejection);
  const rejection = error as ConcurrencyRejection;
  t.equal(rejection.reason, 'queue_full');
  t.equal(rejection.waitedMs, 0);
  t.ok(rejection.retryAfterMs >= 1000 && rejection.retryAfterMs <= 60_000);
  t.same(lim.queued(), { interactive: 0, default: 2, batch: 0 }, 'the rejected request never queued');
  t.equal(lim.counters.rejected.queue_full, 1);
  t.same(log, [], 'nobody already waiting was affected');
});

t.test('with no queue, a request over the limit is rejected at once', async (t) => {
  const lim = limiter(new FakeClock(), { maxInFlight: 1, queue: { maxSize: 0, timeoutMs: 1000 } });
  await lim.acquire('interactive');
  t.equal(await reasonOf(lim.acquire('interactive')), 'queue_full');
  t.equal(lim.inFlight, 1);
});

t.test('a more important arrival at a full queue displaces the newest lower waiter', async (t) => {
  const lim = limiter(new FakeClock(), { maxInFlight: 1, queue: { maxSize: 2, timeoutMs: 1000 } });
  await lim.acquire('batch');
  const log: string[] = [];
  void track(lim, 'b1', 'batch', log);
  void track(lim, 'b2', 'batch', log);
  void track(lim, 'i1', 'interactive', log);
  await tick();
  t.same(log, ['b2:queue_full']);
  t.same(lim.queued(), { interactive: 1, default: 0, batch: 1 });
  void track(lim, 'i2', 'interactive', log);
  void track(lim, 'd1', 'default', log);
  await tick();
  t.same(log, ['b2:queue_full', 'b1:queue_full', 'd1:queue_full'], 'nothing lower is left to displace');
  t.same(lim.queued(), { interactive: 2, default: 0, batch: 0 });
});

t.test('a waiter times out after timeoutMs, served by a single timer', async (t) => {
  const clock = new FakeClock();
  const lim = limiter(clock, { maxInFlight: 1 });
  await lim.acquire('default');
  const log: string[] = [];
  const first = lim.acquire('default').catch((e: ConcurrencyRejection) => e);
  clock.advance(400);
  void track(lim, 'second', 'interactive', log);
  void track(lim, 'third', 'batch', log);
  t.equal(clock.pending, 1, 'one timer for the whole queue');
  clock.advance(599);
  await tick();
  t.same(lim.queued(), { interactive: 1, default: 1, batch: 1 });
  clock.advance(1);
  const rejection = (await first) as ConcurrencyRejection;
  t.equal(rejection.reason, 'queue_timeout');
  t.equal(rejection.waitedMs, 1000);
  t.same(lim.queued(), { interactive: 1, default: 0, batch: 1 });
  clock.advance(400);
  await tick();
  t.same(log, ['second:queue_timeout', 'third:queue_timeout']);
  t.equal(clock.pending, 0, 'an empty queue keeps no timer');
  t.equal(lim.counters.rejected.queue_timeout, 3);
  t.equal(lim.inFlight, 1, 'timeouts never touch running requests');
});

t.test('the wait is measured and reported on the permit', async (t) => {
  const clock = new FakeClock();
  const lim = limiter(clock, { maxInFlight: 1 });
  const running = await lim.acquire('default');
  const waiting = lim.acquire('default');
  clock.advance(250);
  running.release(ok);
  t.equal((await waiting).waitedMs, 250);
});

t.test('an aborted waiter leaves the queue at once and never gets a permit', async (t) => {
  const clock = new FakeClock();
  const lim = limiter(clock, { maxInFlight: 1 });
  const running = await lim.acquire('default');
  const log: string[] = [];
  const controller = new AbortController();
  void track(lim, 'gone', 'interactive', log, controller.signal);
  void track(lim, 'stays', 'default', log);
  controller.abort();
  t.same(lim.queued(), { interactive: 0, default: 1, batch: 0 }, 'left synchronously');
  running.release(ok);
  await tick();
  t.same(log, ['gone:aborted', 'stays']);
  t.equal(lim.inFlight, 1);
  t.equal(lim.counters.rejected.aborted, 1);
  t.equal(clock.pending, 0);
});

t.test('an already aborted signal is refused without queueing', async (t) => {
  const lim = limiter(new FakeClock(), { maxInFlight: 1 });
  t.equal(await reasonOf(lim.acquire('default', AbortSignal.abort())), 'aborted');
  t.equal(lim.inFlight, 0);
});

t.test('releasing twice is harmless', async (t) => {
  const lim = limiter(new FakeClock(), { maxInFlight: 1 });
  const permit = await lim.acquire('default');
  const log: string[] = [];
  void track(lim, 'a', 'default', log);
  void track(lim, 'b', 'default', log);
  permit.release(ok);
  permit.release(ok);
  permit.release({ kind: 'dropped' });
  await tick();
  t.same(log, ['a'], 'the second release freed nothing');
  t.equal(lim.inFlight, 1);
  t.equal(lim.counters.granted, 2);
});

t.test('a lower limit lets running requests finish; new ones wait', async (t) => {
  const clock = new FakeClock();
  const base = { maxInFlight: 3, queue: { maxSize: 10, timeoutMs: 1000 }, classes };
  const lim = limiter(clock, base);
  const running = [await lim.acquire('default'), await lim.acquire('default'), await lim.acquire('default')];
  lim.reconfigure({ ...base, maxInFlight: 1 });
  t.equal(lim.limit, 1);
  t.equal(lim.inFlight, 3, 'nothing revoked');
  const log: string[] = [];
  void track(lim, 'new', 'interactive', log);
  running[0]!.release(ok);
  running[1]!.release(ok);
  await tick();
  t.same(log, [], 'still one over the new limit');
  running[2]!.release(ok);
  await tick();
  t.same(log, ['new']);
});

t.test(
  'reconfigure keeps waiters, re-sorts them into the new classes and applies the new timeout',
  async (t) => {
    const clock = new FakeClock();
    const lim = limiter(clock, { maxInFlight: 1 });
    const running = await lim.acquire('default');
    const log: string[] = [];
    void track(lim, 'b1', 'batch', log);
    void track(lim, 'd1', 'default', log);
    void track(lim, 'i1', 'interactive', log);
    void track(lim, 'd2', 'default', log);
    clock.advance(500);
    lim.reconfigure({
      maxInFlight: 1,
      queue: { maxSize: 1, timeoutMs: 5000 },
      classes: ['batch', 'interactive'],
      now: clock.now,
      setTimer: clock.setTimer,
    });
    t.same(
      lim.queued(),
      { batch: 1, interactive: 3 },
      'default no longer exists: its waiters join the lowest',
    );
    clock.advance(1000);
    await tick();
    t.same(log, [], 'the old 1 s timeout no longer applies');
    t.equal(await reasonOf(lim.acquire('interactive')), 'queue_full', 'the smaller queue refuses newcomers');
    running.release(ok);
    await tick();
    t.same(log, ['b1']);
    lim.reconfigure({
      maxInFlight: 4,
      queue: { maxSize: 1, timeoutMs: 5000 },
      classes: ['batch', 'interactive'],
    });
    await tick();
    t.same(
      log,
      ['b1', 'd1', 'i1', 'd2'],
      'a raised limit admits at once, in arrival order within the merged class',
    );
    t.equal(clock.pending, 0);
  },
);

t.test('telemetry: rejections and limit changes are events and counters', async (t) => {
  const clock = new FakeClock();
  const lim = limiter(clock, { maxInFlight: 1, queue: { maxSize: 0, timeoutMs: 1000 } });
  const events: ConcurrencyEvent[] = [];
  const unsubscribe = lim.subscribe((event) => events.push(event));
  lim.subscribe(() => {
    throw new Error('a broken listener');
  });
  const warnings = t.capture(process, 'emitWarning', () => undefined);
  await lim.acquire('default');
  await lim.acquire('batch').catch(() => undefined);
  lim.reconfigure({ maxInFlight: 3, queue: { maxSize: 0, timeoutMs: 1000 }, classes });
  t.same(
    events.map((event) => (event.type === 'rejected' ? `${event.reason}/${event.priorityClass}` : event)),
    ['queue_full/batch', { type: 'limit', previous: 1, limit: 3, cause: 'reconfigure' }],
  );
  t.same(lim.counters, {
    granted: 1,
    rejected: { queue_full: 1, queue_timeout: 0, aborted: 0 },
    limitChanges: 1,
  });
  t.equal(warnings().length, 2, 'a throwing listener is reported, not fatal');
  unsubscribe();
  await lim.acquire('default');
  t.equal(events.length, 2);
});

t.test('invalid options are refused with the field name', async (t) => {
  const base = { maxInFlight: 1, queue: { maxSize: 1, timeoutMs: 1000 }, classes };
  t.throws(() => new ConcurrencyLimiter({ ...base, maxInFlight: 0 }), /maxInFlight/);
  t.throws(() => new ConcurrencyLimiter({ ...base, queue: { maxSize: -1, timeoutMs: 1 } }), /queue\.maxSize/);
  t.throws(
    () => new ConcurrencyLimiter({ ...base, queue: { maxSize: 1, timeoutMs: 0 } }),
    /queue\.timeoutMs/,
  );
  t.throws(() => new ConcurrencyLimiter({ ...base, classes: [] }), /classes/);
  t.throws(() => new ConcurrencyLimiter({ ...base, classes: ['a', 'a'] }), /unique/);
  const adaptive = { algorithm: 'aimd', minLimit: 5, maxLimit: 2 } as const;
  t.throws(() => new ConcurrencyLimiter({ ...base, adaptive }), /adaptive\.maxLimit/);
  const lim = new ConcurrencyLimiter(base);
  t.throws(() => lim.reconfigure({ ...base, maxInFlight: Number.NaN }), /maxInFlight/);
  t.equal(lim.limit, 1, 'a refused reload leaves the limiter as it was');
});
