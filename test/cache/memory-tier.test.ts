import t from 'tap';
import type { CachedResponse } from '../../src/cache/entry.ts';
import {
  ENTRY_OVERHEAD_BYTES,
  entryBytes,
  MemoryTier,
  type MemoryTierOptions,
} from '../../src/cache/memory-tier.ts';

const START = 1_700_000_000_000;

/** A clock tests move by hand. */
function manualClock() {
  let now = START;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

/** A tier on a clock standing at START, where `entry` dates its entries. */
const tierAtStart = (options: Omit<MemoryTierOptions, 'now'>) =>
  new MemoryTier({ now: () => START, ...options });

const entry = (bodyBytes: number, now = START, ttlMs = 60_000): CachedResponse => ({
  status: 200,
  headers: { 'content-type': 'application/json' },
  body: Buffer.alloc(bodyBytes, 'a'),
  stream: false,
  storedAt: now,
  expiresAt: now + ttlMs,
});

t.test('entryBytes counts body, header text, key and the fixed overhead', async (t) => {
  t.equal(entryBytes('k', entry(100)), ENTRY_OVERHEAD_BYTES + 1 + 'content-type'.length + 16 + 100);
});

t.test('a budget of 0 disables the tier', async (t) => {
  const tier = tierAtStart({ maxBytes: 0 });
  t.equal(tier.set('a', entry(1)), false);
  t.equal(tier.get('a'), undefined);
  t.equal(
    tier.purge(() => true),
    0,
  );
  t.equal(tier.delete('a'), false);
  t.same(tier.stats(), { entries: 0, bytes: 0, maxBytes: 0, evictions: 0 });
});

t.test('a budget that is not a non-negative integer is refused', async (t) => {
  for (const maxBytes of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    t.throws(() => new MemoryTier({ maxBytes }), RangeError);
  }
});

t.test('the byte budget holds under many inserts of varying sizes', async (t) => {
  const maxBytes = 1 << 20;
  const evicted: number[] = [];
  const tier = tierAtStart({ maxBytes, onEvict: (_key, bytes) => evicted.push(bytes) });
  const held = new Map<string, number>();
  let peak = 0;
  let seed = 42;
  const random = (below: number) => {
    seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff;
    return seed % below;
  };
  for (let i = 0; i < 3000; i++) {
    const key = `chat:tenant${random(5)}:${random(800)}`;
    const value = entry(random(40_000));
    if (!tier.set(key, value)) t.fail(`insert ${i} refused`);
    held.set(key, entryBytes(key, value));
    const { bytes, entries } = tier.stats();
    peak = Math.max(peak, bytes);
    if (i % 300 === 0) {
      let sum = 0;
      let count = 0;
      for (const [heldKey, size] of held) {
        if (tier.get(heldKey) === undefined) continue;
        sum += size;
        count++;
      }
      t.equal(count, entries, 'every entry counted');
      t.equal(sum, bytes, 'bytes are the sum of the entries held');
      t.ok(sum <= maxBytes);
    }
  }
  t.ok(peak <= maxBytes, `peak ${peak} of ${maxBytes}`);
  t.ok(peak > maxBytes * 0.9, 'and the budget is used');
  const { evictions } = tier.stats();
  t.ok(evictions > 1000, `${evictions} evictions`);
  t.equal(evicted.length, evictions, 'onEvict saw every eviction');
  t.ok(evicted.every((bytes) => bytes > ENTRY_OVERHEAD_BYTES));
});

t.test('least recently used goes first; a get counts as use', async (t) => {
  const size = entryBytes('a', entry(1000));
  const evicted: string[] = [];
  const tier = tierAtStart({ maxBytes: size * 3, onEvict: (key) => evicted.push(key) });
  for (const key of ['a', 'b', 'c']) tier.set(key, entry(1000));
  t.ok(tier.get('a'));
  tier.set('d', entry(1000));
  t.same(evicted, ['b']);
  t.equal(tier.get('b'), undefined);
  t.ok(tier.get('a') && tier.get('c') && tier.get('d'));
  tier.set('e', entry(1000 + size)); // two entries' worth: the two least recently used go
  t.same(evicted, ['b', 'a', 'c']);
  t.same(tier.stats().entries, 2);
});

t.test('replacing an entry is not an eviction', async (t) => {
  const tier = tierAtStart({ maxBytes: 100_000 });
  tier.set('a', entry(10));
  tier.set('a', entry(20));
  t.equal(tier.get('a')?.body.length, 20);
  t.same(tier.stats(), { entries: 1, bytes: entryBytes('a', entry(20)), maxBytes: 100_000, evictions: 0 });
});

t.test('an entry larger than the entry cap or the budget is refused and drops the older one', async (t) => {
  const tier = tierAtStart({ maxBytes: 100_000, maxEntryBytes: 10_000 });
  t.equal(tier.set('a', entry(100)), true);
  t.equal(tier.set('a', entry(10_000)), false);
  t.equal(tier.get('a'), undefined, 'the older answer is gone: the caller had a newer one');
  t.equal(tier.set('b', entry(10_000 - ENTRY_OVERHEAD_BYTES - 1 - 28)), true, 'exactly the cap fits');
  const whole = tierAtStart({ maxBytes: 5000 });
  t.equal(whole.set('a', entry(5000)), false);
  t.equal(
    tierAtStart({ maxBytes: 5000, maxEntryBytes: 50_000 }).set('a', entry(5000)),
    false,
    'cap ≤ budget',
  );
  t.same(tier.stats().evictions, 0);
});

t.test('entries expire at expiresAt', async (t) => {
  const clock = manualClock();
  const tier = new MemoryTier({ maxBytes: 100_000, now: clock.now });
  t.equal(tier.set('a', entry(10, START, 1000)), true);
  t.equal(tier.set('b', entry(10, START, 5000)), true);
  clock.advance(999);
  t.ok(tier.get('a'));
  clock.advance(2);
  t.equal(tier.get('a'), undefined);
  t.ok(tier.get('b'));
  clock.advance(4000);
  t.equal(tier.get('b'), undefined);
  t.equal(tier.set('c', entry(10, START, 1000)), false, 'already expired');
  t.equal(tier.set('c', entry(10, clock.now(), 0)), false, 'expires now');
});

t.test('real time: a short ttl passes with the default clock', async (t) => {
  const tier = new MemoryTier({ maxBytes: 100_000 });
  t.equal(tier.set('a', entry(10, Date.now(), 30)), true);
  t.ok(tier.get('a'));
  await new Promise((resolve) => setTimeout(resolve, 60));
  t.equal(tier.get('a'), undefined);
});

t.test('expired entries pushed out for room are not counted as evictions', async (t) => {
  const clock = manualClock();
  const size = entryBytes('a', entry(1000));
  const evicted: string[] = [];
  const tier = new MemoryTier({ maxBytes: size * 2, now: clock.now, onEvict: (key) => evicted.push(key) });
  tier.set('a', entry(1000, START, 1000));
  tier.set('b', entry(1000, START, 60_000));
  clock.advance(2000);
  tier.set('c', entry(1000, clock.now()));
  t.same(evicted, []);
  t.equal(tier.stats().evictions, 0);
  tier.set('d', entry(1000, clock.now()));
  t.same(evicted, ['b'], 'b was still fresh');
});

t.test('purge by route prefix, and by anything else', async (t) => {
  const clock = manualClock();
  const tier = new MemoryTier({ maxBytes: 1 << 20, now: clock.now });
  for (const key of ['chat:t1:aa', 'chat:t2:bb', 'chat2:t1:cc', 'embed:t1:dd']) tier.set(key, entry(10));
  tier.set('chat:t3:old', entry(10, START, 100));
  clock.advance(200);
  t.equal(tier.stats().entries, 5, 'the expired entry still holds its memory');
  t.equal(
    tier.purge((key) => key.startsWith('chat:')),
    2,
    'the colon keeps chat2 out; the expired one is reclaimed, not counted',
  );
  t.equal(tier.get('chat:t1:aa'), undefined);
  t.ok(tier.get('chat2:t1:cc'));
  t.equal(tier.stats().entries, 2);
  t.equal(
    tier.purge((key) => key.split(':')[1] === 't1'),
    2,
    'by tenant',
  );
  t.same(tier.stats(), { entries: 0, bytes: 0, maxBytes: 1 << 20, evictions: 0 });
});

t.test('delete', async (t) => {
  const tier = tierAtStart({ maxBytes: 100_000 });
  tier.set('a', entry(10));
  t.equal(tier.delete('a'), true);
  t.equal(tier.delete('a'), false);
  t.equal(tier.stats().bytes, 0);
});

t.test('a body that shares its memory is copied; one that owns it is kept as is', async (t) => {
  const tier = tierAtStart({ maxBytes: 1 << 20 });
  const socketRead = Buffer.alloc(64 * 1024, 'z');
  const slice = socketRead.subarray(100, 200);
  tier.set('slice', { ...entry(0), body: slice });
  const stored = tier.get('slice')!.body;
  t.not(stored, slice);
  t.ok(stored.equals(slice));
  t.equal(stored.buffer.byteLength, 100, 'the 64 KiB read is not kept alive');
  const pooled = Buffer.from('{"id":"x"}'); // small Buffer.from slices Node's shared pool
  tier.set('pooled', { ...entry(0), body: pooled });
  t.equal(tier.get('pooled')!.body.buffer.byteLength, pooled.length);
  const owned = entry(1000);
  tier.set('owned', owned);
  t.equal(tier.get('owned'), owned);
});
