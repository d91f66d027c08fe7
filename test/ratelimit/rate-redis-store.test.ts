/**
 * The Redis rate store against a real redis-server: two stores with their own connections (two
 * replicas) admit exactly the limit between them under concurrent load, weighted token costs never
 * pass it, refunds make room, the Lua scripts reach bit-identical states to the TypeScript
 * algorithms, keys are hash-tagged, bounded and expiring, and a one-node Redis Cluster works.
 */
import { Redis } from 'ioredis';
import t, { type Test } from 'tap';
import type { RedisConfig } from '../../src/config/types.generated.ts';
import {
  type BucketState,
  bucketCapacity,
  slidingWindow,
  tokenBucket,
  type WindowState,
} from '../../src/ratelimit/rate-algorithms.ts';
import { BUCKET_ADJUST, BUCKET_TAKE, WINDOW_ADJUST, WINDOW_TAKE } from '../../src/ratelimit/rate-lua.ts';
import { RedisRateStore, type RedisRateStoreOptions } from '../../src/ratelimit/rate-redis-store.ts';
import type { RateAlgorithm, RatePolicy } from '../../src/ratelimit/rate-types.ts';
import { until } from '../support/eventually.ts';
import { redisCommand, redisKeys, redisServerMissing, startRedis } from '../support/redis.ts';

function redisConfig(shape: Partial<RedisConfig>): RedisConfig {
  return { key_prefix: 'sluice', command_timeout_ms: 1000, compress_above_bytes: 1024, ...shape };
}

async function upStore(t: Test, shape: Partial<RedisConfig>, options: RedisRateStoreOptions = {}) {
  const store = new RedisRateStore(redisConfig(shape), options);
  t.teardown(() => store.close());
  await until('the store to connect', 5000, () => store.state() === 'up');
  return store;
}

/** An hour-long window: refill during a test run stays far below one unit, so "exactly N" is exact. */
function policy(algorithm: RateAlgorithm, limit: number, id = `chat/${algorithm}`): RatePolicy {
  return { id, algorithm, limit, windowMs: 3_600_000 };
}

const ALGORITHMS: readonly RateAlgorithm[] = ['token_bucket', 'sliding_window'];

t.test('against a real redis-server', { skip: redisServerMissing, timeout: 60_000 }, async (t) => {
  const redis = await startRedis(t);
  const replicaA = await upStore(t, { url: redis.url });
  const replicaB = await upStore(t, { url: redis.url });

  t.test('two replicas admit exactly N between them under concurrent load', async (t) => {
    const N = 50;
    for (const algorithm of ALGORITHMS) {
      const p = policy(algorithm, N);
      const decisions = await Promise.all(
        Array.from({ length: 4 * N }, (_, i) =>
          (i % 2 === 0 ? replicaA : replicaB).acquire(p, 'tenant-1', 1),
        ),
      );
      const admitted = decisions.filter((d) => d.allowed);
      t.equal(admitted.length, N, `${algorithm}: exactly ${N} of ${4 * N}`);
      t.same(
        admitted.map((d) => d.remaining).sort((a, b) => a - b),
        Array.from({ length: N }, (_, i) => i),
      );
      const refused = decisions.find((d) => !d.allowed);
      t.ok(refused !== undefined && refused.retryAfterMs > 0 && refused.remaining === 0, 'refusals say when');
      const pttl = Number((await redisCommand(redis.port, 'PTTL', replicaA.keyOf(p, 'tenant-1'))).slice(1));
      t.ok(pttl > 0 && pttl <= 2 * p.windowMs, `${algorithm}: the key expires (${pttl} ms)`);
    }
  });

  t.test('50 concurrent token reservations of different costs never pass the limit', async (t) => {
    const limit = 1000;
    for (const algorithm of ALGORITHMS) {
      const p = policy(algorithm, limit, `tokens/${algorithm}`);
      const costs = Array.from({ length: 50 }, (_, i) => 10 + ((i * 37) % 90));
      const decisions = await Promise.all(
        costs.map((cost, i) => (i % 2 === 0 ? replicaA : replicaB).acquire(p, 'tenant-2', cost)),
      );
      const taken = costs.filter((_, i) => decisions[i]!.allowed).reduce((sum, cost) => sum + cost, 0);
      t.ok(taken <= limit, `${algorithm}: ${taken} ≤ ${limit}`);
      const refusedCosts = costs.filter((_, i) => !decisions[i]!.allowed);
      t.ok(refusedCosts.length > 0, 'the load was more than the limit');
      t.ok(
        refusedCosts.every((cost) => cost > limit - taken - 1),
        'nothing was refused that would have fit in what is left',
      );
    }
  });

  t.test('refunds through one replica make room for the other', async (t) => {
    for (const algorithm of ALGORITHMS) {
      const p = policy(algorithm, 10, `refund/${algorithm}`);
      t.ok((await replicaA.acquire(p, 'tenant-3', 10)).allowed);
      t.notOk((await replicaB.acquire(p, 'tenant-3', 1)).allowed);
      await replicaA.adjust(p, 'tenant-3', -4);
      const back = await Promise.all(Array.from({ length: 6 }, () => replicaB.acquire(p, 'tenant-3', 1)));
      t.equal(back.filter((d) => d.allowed).length, 4, `${algorithm}: the refund, and no more`);
      await replicaB.adjust(p, 'tenant-3', 5);
      t.match(
        await replicaA.acquire(p, 'tenant-3', 0),
        { allowed: false, remaining: 0 },
        'a charge is a debt',
      );
    }
  });

  t.test('keys are hash-tagged per client and policy, bounded, and brace-free', async (t) => {
    const p = policy('token_bucket', 5, 'keys/p');
    await replicaA.acquire(p, '10.1.2.3', 1);
    await replicaA.acquire(p, `{evil}${'x'.repeat(10_000)}`, 1);
    const keys = await redisKeys(redis.port, 'sluice:rl:{keys/p:*');
    t.equal(keys.length, 2);
    t.ok(keys.includes('sluice:rl:{keys/p:10.1.2.3}'));
    t.ok(
      keys.some((key) => /^sluice:rl:\{keys\/p:#[A-Za-z0-9_-]{43}\}$/.test(key)),
      keys.join(' '),
    );
  });

  t.test('the Lua scripts reach the same states as the TypeScript, bit for bit', async (t) => {
    const client = new Redis(redis.url);
    t.teardown(() => client.quit());
    let seed = 11;
    const random = () => {
      seed = (seed * 48271) % 2147483647;
      return seed / 2147483647;
    };
    const strings = (values: readonly number[]) => values.map(String);
    for (const [index, p] of [
      { id: 'twin/tb', algorithm: 'token_bucket', limit: 7, windowMs: 1000, burst: 12 },
      { id: 'twin/tb2', algorithm: 'token_bucket', limit: 1000, windowMs: 60_000 },
      { id: 'twin/sw', algorithm: 'sliding_window', limit: 7, windowMs: 1000 },
      { id: 'twin/sw2', algorithm: 'sliding_window', limit: 1000, windowMs: 60_000 },
    ].entries()) {
      const policyUnderTest = p as RatePolicy;
      const key = `twin:${index}`;
      let bucket: BucketState | undefined;
      let window: WindowState | undefined;
      let now = 1_700_000_000_000 + random() * 1000;
      let mismatches = 0;
      for (let step = 0; step < 300; step++) {
        now += random() < 0.1 ? random() * 3 * p.windowMs : random() * 50;
        const units = random() < 0.2 ? -Math.floor(random() * 5) - 0.25 : Math.floor(random() * 4) + random();
        const at = String(now);
        let reply: unknown;
        let expected: number[];
        if (p.algorithm === 'token_bucket') {
          const args = strings([p.limit, p.windowMs, bucketCapacity(policyUnderTest), Math.abs(units)]);
          if (units >= 0) {
            reply = await client.eval(BUCKET_TAKE.lua, 1, key, ...args, at);
            const taken = tokenBucket.take(policyUnderTest, bucket, now, units);
            if (taken.allowed) bucket = taken.state;
            expected = [taken.allowed ? 1 : 0, taken.state.tokens, taken.state.updatedMs];
          } else {
            reply = await client.eval(
              BUCKET_ADJUST.lua,
              1,
              key,
              ...strings([p.limit, p.windowMs, p.burst ?? p.limit, units]),
              at,
            );
            bucket = tokenBucket.adjust(policyUnderTest, bucket, now, units);
            expected = [bucket.tokens, bucket.updatedMs];
          }
          if (bucket !== undefined && tokenBucket.idleMs(policyUnderTest, bucket, now) === 0)
            bucket = undefined;
        } else {
          if (units >= 0) {
            reply = await client.eval(WINDOW_TAKE.lua, 1, key, ...strings([p.limit, p.windowMs, units]), at);
            const taken = slidingWindow.take(policyUnderTest, window, now, units);
            if (taken.allowed) window = taken.state;
            const s = taken.state;
            expected = [taken.allowed ? 1 : 0, s.startMs, s.current, s.previous, now];
          } else {
            reply = await client.eval(
              WINDOW_ADJUST.lua,
              1,
              key,
              ...strings([p.limit, p.windowMs, units]),
              at,
            );
            window = slidingWindow.adjust(policyUnderTest, window, now, units);
            expected = [window.startMs, window.current, window.previous, now];
          }
          if (window !== undefined && slidingWindow.idleMs(policyUnderTest, window, now) === 0)
            window = undefined;
        }
        const got = (reply as unknown[]).map(Number);
        if (got.some((value, i) => !Object.is(value, expected[i]))) {
          mismatches += 1;
          if (mismatches === 1)
            t.fail(`${p.id} step ${step}: Lua ${got.join(' ')}, TypeScript ${expected.join(' ')}`);
        }
        // Keep Redis from expiring what the TypeScript twin still holds: only the fake clock moves.
        await client.persist(key);
      }
      t.equal(mismatches, 0, `${p.id}: 300 steps agree`);
    }
  });
});

t.test('a one-node Redis Cluster', { skip: redisServerMissing, timeout: 60_000 }, async (t) => {
  const redis = await startRedis(t, { cluster: true });
  const store = await upStore(t, { cluster: [{ host: '127.0.0.1', port: redis.port }] });
  for (const algorithm of ALGORITHMS) {
    const p = policy(algorithm, 3, `cluster/${algorithm}`);
    const decisions = await Promise.all(Array.from({ length: 5 }, () => store.acquire(p, 'tenant-c', 1)));
    t.equal(decisions.filter((d) => d.allowed).length, 3, `${algorithm}: the limit holds`);
    await store.adjust(p, 'tenant-c', -1);
    t.ok((await store.acquire(p, 'tenant-c', 1)).allowed, `${algorithm}: and a refund lands`);
    const key = store.keyOf(p, 'tenant-c');
    const slot = await redisCommand(redis.port, 'CLUSTER', 'KEYSLOT', key);
    const tagSlot = await redisCommand(redis.port, 'CLUSTER', 'KEYSLOT', `cluster/${algorithm}:tenant-c`);
    t.equal(slot, tagSlot, `${key} lives in the slot of its hash tag`);
  }
});
