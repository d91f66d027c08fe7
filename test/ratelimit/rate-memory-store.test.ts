/**
 * The memory store's bound: client-chosen keys cannot grow it past maxKeys, what happens at the
 * bound is what the docs say (the least recently used key starts over, counted only when it still
 * held usage), and long or odd keys are stored bounded.
 */
import t from 'tap';
import { MemoryRateStore } from '../../src/ratelimit/rate-memory-store.ts';
import { type RatePolicy, storedKeyPart } from '../../src/ratelimit/rate-types.ts';

const bucket: RatePolicy = { id: 'chat/requests', algorithm: 'token_bucket', limit: 2, windowMs: 60_000 };
const window: RatePolicy = { id: 'chat/tokens', algorithm: 'sliding_window', limit: 2, windowMs: 60_000 };

t.test('a flood of distinct keys stays within maxKeys; the oldest starts over', async (t) => {
  let now = 0;
  const store = new MemoryRateStore({ maxKeys: 100, now: () => now });
  for (const p of [bucket, window]) {
    t.ok((await store.acquire(p, 'victim', 2)).allowed);
    t.notOk((await store.acquire(p, 'victim', 1)).allowed, 'victim has used its quota');
  }
  for (let i = 0; i < 1000; i++) await store.acquire(i % 2 === 0 ? bucket : window, `flood-${i}`, 1);
  t.equal(store.stats().keys, 100);
  t.equal(store.stats().evictions, 902, 'every pushed-out key still held usage');
  for (const p of [bucket, window]) {
    t.ok((await store.acquire(p, 'victim', 2)).allowed, `${p.algorithm}: forgotten, so a full quota again`);
  }

  now += 10 * 60_000;
  const before = store.stats().evictions;
  for (let i = 0; i < 300; i++) await store.acquire(bucket, `later-${i}`, 1);
  t.equal(store.stats().keys, 100);
  t.equal(store.stats().evictions, before + 200, 'idle keys (fully refilled) go without counting');
});

t.test('a key back at a full quota takes no room at all', async (t) => {
  const store = new MemoryRateStore({ maxKeys: 10 });
  await store.acquire(bucket, 'k', 1);
  await store.acquire(window, 'k', 1);
  t.equal(store.stats().keys, 2);
  await store.adjust(bucket, 'k', -1);
  await store.adjust(window, 'k', -1);
  t.equal(store.stats().keys, 0, 'refunded to full is the same as never seen');
  t.notOk((await store.acquire(bucket, 'k', 3)).allowed);
  t.equal(store.stats().keys, 0, 'a refusal stores nothing');
});

t.test('keys are bounded and brace-free whatever the client sends', async (t) => {
  t.equal(storedKeyPart('10.0.0.7'), '10.0.0.7');
  t.equal(storedKeyPart('2001:db8::1'), '2001:db8::1');
  t.equal(storedKeyPart('tenant-a/gpt-4o'), 'tenant-a/gpt-4o');
  for (const odd of ['x'.repeat(65), '{slot}', 'a b', 'ünïcode', 'x'.repeat(100_000)]) {
    t.match(storedKeyPart(odd), /^#[A-Za-z0-9_-]{43}$/, JSON.stringify(odd.slice(0, 20)));
  }
  t.not(storedKeyPart('{a}'), storedKeyPart('{b}'));
  const store = new MemoryRateStore({ maxKeys: 10 });
  t.ok((await store.acquire(bucket, 'x'.repeat(100_000), 2)).allowed);
  t.notOk((await store.acquire(bucket, 'x'.repeat(100_000), 1)).allowed, 'the hashed key is the same key');
  t.ok((await store.acquire(bucket, `${'x'.repeat(99_999)}y`, 1)).allowed, 'and another key is another');
});

t.test('a policy whose algorithm changed (a reload) starts from a fresh state', async (t) => {
  const store = new MemoryRateStore();
  t.ok((await store.acquire(bucket, 'k', 2)).allowed);
  t.ok((await store.acquire({ ...bucket, algorithm: 'sliding_window' }, 'k', 2)).allowed);
});

t.test('maxKeys must be a positive integer', async (t) => {
  t.throws(() => new MemoryRateStore({ maxKeys: 0 }), /maxKeys must be a positive integer/);
  t.throws(() => new MemoryRateStore({ maxKeys: 1.5 }), /maxKeys must be a positive integer/);
});
