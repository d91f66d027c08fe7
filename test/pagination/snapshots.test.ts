import t from 'tap';
import { fail, ok } from '../../src/pagination/result.ts';
import { SnapshotStore, type SnapshotStoreOptions } from '../../src/pagination/snapshots.ts';

const START = 1_700_000_000_000;

function manualClock() {
  let now = START;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

const store = (options: Partial<SnapshotStoreOptions> = {}) =>
  new SnapshotStore({ maxSnapshots: 10, maxBytes: 10_000, ttlMs: 60_000, now: () => START, ...options });

t.test('put and get: a frozen copy under a random id', async (t) => {
  const s = store();
  const items = [{ id: 'a' }, { id: 'b' }];
  const snapshot = s.put(items, 100, { total: 2 });
  t.match(snapshot.id, /^[A-Za-z0-9_-]{22}$/);
  t.equal(snapshot.expiresAt, START + 60_000);
  items.push({ id: 'c' });
  t.same(s.get(snapshot.id)?.items, [{ id: 'a' }, { id: 'b' }], 'later changes to the array do not reach it');
  t.ok(Object.isFrozen(s.get(snapshot.id)?.items));
  t.same(s.get(snapshot.id)?.template, { total: 2 });
  t.not(s.put([], 0).id, snapshot.id, 'ids differ');
  t.equal(s.get('nope'), undefined);
  t.same(s.stats(), { snapshots: 2, bytes: 101, evictions: 0 }, 'an empty list counts 1 byte');
});

t.test('bounded by count: the least recently used goes', async (t) => {
  const s = store({ maxSnapshots: 3 });
  const a = s.put([1], 10);
  const b = s.put([2], 10);
  const c = s.put([3], 10);
  s.get(a.id); // a is now more recent than b
  const d = s.put([4], 10);
  t.ok(s.has(a.id));
  t.notOk(s.has(b.id), 'b, least recently used, evicted');
  t.ok(s.has(c.id));
  t.ok(s.has(d.id));
  t.equal(s.stats().evictions, 1);
});

t.test('bounded by bytes', async (t) => {
  const s = store({ maxBytes: 1000 });
  const a = s.put([1], 400);
  const b = s.put([2], 400);
  const c = s.put([3], 400);
  t.notOk(s.has(a.id), 'oldest evicted to fit');
  t.ok(s.has(b.id) && s.has(c.id));
  t.equal(s.stats().bytes, 800);
  const d = s.put([4], 1000);
  t.ok(s.has(d.id), 'a list of the whole budget fits alone');
  t.equal(s.stats().snapshots, 1);
  t.throws(() => s.put([5], 1001), RangeError, 'more than the budget is a caller bug');
});

t.test('expires by TTL from creation; reads do not extend it', async (t) => {
  const clock = manualClock();
  const s = store({ ttlMs: 1000, now: clock.now });
  const a = s.put([1], 10);
  clock.advance(999);
  t.ok(s.get(a.id));
  t.ok(s.has(a.id));
  clock.advance(1);
  t.equal(s.get(a.id), undefined, 'gone at expiresAt');
  t.notOk(s.has(a.id));
  t.equal(s.stats().evictions, 0, 'expiry is not an eviction');
});

t.test('openWalk: the first page fetches fresh, later pages read the snapshot', async (t) => {
  const s = store();
  let fetches = 0;
  const fetchFresh = async () => {
    fetches++;
    return ok({ items: [fetches], bytes: 10 });
  };
  const first = await s.openWalk(undefined, fetchFresh);
  t.ok(first.ok);
  if (!first.ok) return;
  const second = await s.openWalk(undefined, fetchFresh);
  t.equal(fetches, 2, 'a new walk never reuses an older snapshot');
  t.ok(second.ok && second.value.id !== first.value.id);
  const later = await s.openWalk(first.value.id, fetchFresh);
  t.equal(fetches, 2, 'a later page does not fetch');
  t.same(later.ok && later.value.items, [1]);
  t.match(await s.openWalk('gone', fetchFresh), { ok: false, error: { kind: 'unknown_snapshot' } });
  t.equal(fetches, 2, 'a lost snapshot is not silently refetched');
  t.match(await s.openWalk(undefined, async () => fail('too_large', 'big')), {
    ok: false,
    error: { kind: 'too_large', message: 'big' },
  });
});

t.test('refuses bad bounds', async (t) => {
  t.throws(() => store({ maxSnapshots: 0 }), /maxSnapshots/);
  t.throws(() => store({ maxBytes: 0 }), /maxBytes/);
  t.throws(() => store({ ttlMs: 0 }), /ttlMs/);
});
