/**
 * Redis failing under the failover store: killed (connection lost) and hung (SIGSTOP, commands
 * time out). fail_open policies are then decided by the local limiter and fail_closed ones are
 * refused as "store unavailable"; once Redis is known down no request reaches for it; when it is
 * back the Redis store is used again by itself; each state change is reported once.
 */

import t, { type Test } from 'tap';
import type { RedisConfig } from '../../src/config/types.generated.ts';
import { FailoverRateStore, type SharedRateStore } from '../../src/ratelimit/rate-failover-store.ts';
import { MemoryRateStore } from '../../src/ratelimit/rate-memory-store.ts';
import {
  type RedisRateOutcome,
  type RedisRateState,
  RedisRateStore,
} from '../../src/ratelimit/rate-redis-store.ts';
import type { RateDecision, RatePolicy } from '../../src/ratelimit/rate-types.ts';
import { until } from '../support/eventually.ts';
import { type RunningRedis, redisKeys, redisServerMissing, startRedis } from '../support/redis.ts';

const open: RatePolicy = { id: 'r/open', algorithm: 'token_bucket', limit: 5, windowMs: 3_600_000 };
const closed: RatePolicy = {
  id: 'r/closed',
  algorithm: 'sliding_window',
  limit: 5,
  windowMs: 3_600_000,
  failure: 'fail_closed',
};

/** A failover store over a Redis store that records its state changes and every command it tried. */
async function failoverOn(t: Test, redis: RunningRedis, config: Partial<RedisConfig> = {}) {
  const states: RedisRateState[] = [];
  const commands: RedisRateOutcome[] = [];
  const shared = new RedisRateStore(
    { url: redis.url, key_prefix: 'sluice', command_timeout_ms: 200, compress_above_bytes: 1024, ...config },
    {
      onStateChange: (state) => states.push(state),
      onCommand: (outcome) => commands.push(outcome),
      resetTimeoutMs: 300,
    },
  );
  const store = new FailoverRateStore(shared);
  t.teardown(() => store.close());
  await until('Redis up', 5000, () => shared.state() === 'up');
  return { shared, store, states, commands };
}

const many = (n: number, call: () => Promise<RateDecision>) => Promise.all(Array.from({ length: n }, call));

t.test('Redis killed and restarted', { skip: redisServerMissing, timeout: 60_000 }, async (t) => {
  const redis = await startRedis(t);
  const { shared, store, states, commands } = await failoverOn(t, redis);

  t.match(await store.acquire(open, 'c', 2), { allowed: true, remaining: 3 });
  t.notOk('local' in (await store.acquire(closed, 'c', 1)), 'decided in Redis');
  t.same(states, ['up']);

  await redis.stop();
  await until('the store to notice', 5000, () => states.length === 2);
  t.same(states, ['up', 'down']);
  const triedBefore = commands.length;

  const local = await many(8, () => store.acquire(open, 'c', 1));
  t.ok(
    local.every((d) => d.local === true),
    'fail_open: decided by the local limiter',
  );
  t.equal(local.filter((d) => d.allowed).length, 5, 'which limits too: per replica, from a full quota');
  const refused = await many(8, () => store.acquire(closed, 'c', 1));
  t.ok(
    refused.every((d) => !d.allowed && d.storeUnavailable === true && d.retryAfterMs === 2000),
    'fail_closed: store unavailable, retry in 2 s',
  );
  await store.adjust(open, 'c', -1);
  t.ok((await store.acquire(open, 'c', 1)).allowed, 'a refund while down lands locally');
  t.equal(commands.length, triedBefore, 'no request reached for the dead Redis');

  await redis.restart();
  await until('the store to reconnect by itself', 10_000, () => shared.state() === 'up');
  t.same(states, ['up', 'down', 'up'], 'each change reported once');
  const back = await store.acquire(open, 'c', 1);
  t.match(back, { allowed: true, remaining: 4 }, 'Redis decides again (it restarted empty)');
  t.notOk('local' in back);
  t.notOk((await store.acquire(closed, 'c', 1)).storeUnavailable);
  t.same(await redisKeys(redis.port, 'sluice:rl:*'), ['sluice:rl:{r/closed:c}', 'sluice:rl:{r/open:c}']);
});

t.test(
  'Redis hung: bounded waits, then the breaker keeps requests away',
  { skip: redisServerMissing, timeout: 60_000 },
  async (t) => {
    const redis = await startRedis(t);
    const { shared, store, states, commands } = await failoverOn(t, redis);
    t.ok((await store.acquire(open, 'h', 1)).allowed);

    redis.pause();
    t.teardown(() => redis.resume());
    const during: RateDecision[] = [];
    for (let i = 0; i < 10; i++) during.push(await store.acquire(open, 'h', 0));
    t.ok(
      during.every((d) => d.local === true),
      'every request answered by the local limiter',
    );
    const timeouts = commands.filter((outcome) => outcome === 'timeout').length;
    t.ok(timeouts >= 1 && timeouts <= 5, `only the first ${timeouts} waited for the command timeout`);
    t.same(states, ['up', 'down'], 'the breaker opening is reported once');
    t.match(await store.acquire(closed, 'h', 1), { allowed: false, storeUnavailable: true });

    redis.resume();
    await until('a probe to close the breaker', 10_000, () => {
      void store.acquire(open, 'h', 0);
      return shared.state() === 'up';
    });
    t.same(states, ['up', 'down', 'up']);
    t.notOk('local' in (await store.acquire(open, 'h', 1)), 'Redis decides again');
  },
);

t.test('fail_open without Redis at all, and the shared store is the only one asked', async (t) => {
  const asked: string[] = [];
  const down: SharedRateStore = {
    available: () => false,
    acquire: async () => {
      asked.push('acquire');
      throw new Error('unreachable');
    },
    adjust: async () => {
      asked.push('adjust');
    },
    close: async () => undefined,
  };
  const local = new MemoryRateStore();
  const store = new FailoverRateStore(down, { local, unavailableRetryAfterMs: 500 });
  t.match(await store.acquire(open, 'x', 5), { allowed: true, local: true, remaining: 0 });
  t.match(await store.acquire(closed, 'x', 1), { allowed: false, storeUnavailable: true, retryAfterMs: 500 });
  await store.adjust(closed, 'x', -1);
  t.same(asked, [], 'an unavailable store is not called');
  t.equal(local.stats().keys, 1, 'fail_closed policies leave nothing in the local store');
  await t.rejects(store.acquire(open, 'x', -1), RangeError, 'bad arguments are the caller’s bug');
});
