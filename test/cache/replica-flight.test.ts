/**
 * The cross-replica single-flight protocol against a real redis-server: one replica takes the lock,
 * another waits for its entry; a failed or dead leader and a dead Redis end the wait early; the lock
 * is only ever released by its owner; and it all works on a Redis Cluster (lock and entry in one slot).
 * Each "replica" is its own RedisTier, so its own connection, as in two Sluice processes.
 */
import t, { type Test } from 'tap';
import { RedisTier } from '../../src/cache/redis-tier.ts';
import { type ReplicaClaim, ReplicaFlights } from '../../src/cache/replica-flight.ts';
import type { RedisConfig } from '../../src/config/types.generated.ts';
import { redisCommand, redisServerMissing, startRedis } from '../support/redis.ts';

const quiet = { warn: () => undefined, info: () => undefined };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const KEY = 'chat:k-1:5eed';

async function replica(t: Test, shape: Partial<RedisConfig>) {
  const config = { key_prefix: 'sluice', command_timeout_ms: 500, compress_above_bytes: 1024, ...shape };
  const tier = new RedisTier(config, quiet);
  t.teardown(() => tier.close());
  const deadline = Date.now() + 5000;
  while (tier.state() !== 'up') {
    if (Date.now() > deadline) throw new Error('the tier did not connect');
    await sleep(20);
  }
  return { tier, flights: new ReplicaFlights(tier) };
}

/** A claim with how long it took, in milliseconds. */
async function timedClaim(flights: ReplicaFlights, key: string, waitMs: number) {
  const started = performance.now();
  const claim = await flights.claim(key, waitMs);
  return { claim, ms: performance.now() - started };
}

function lockOf(claim: ReplicaClaim) {
  if (claim.kind !== 'call' || claim.lock === undefined) throw new Error(`no lock: ${JSON.stringify(claim)}`);
  return claim.lock;
}

async function leaderAndWaiter(t: Test, shape: Partial<RedisConfig>) {
  const a = await replica(t, shape);
  const b = await replica(t, shape);
  const lead = await a.flights.claim(KEY, 10_000);
  t.match(lead, { kind: 'call', outcome: undefined }, 'the first replica leads at once');
  const lock = lockOf(lead);
  const waiting = timedClaim(b.flights, KEY, 10_000);
  await sleep(150);
  const answer = Buffer.from([0, 255, 1, 254, 0x7b]);
  await a.tier.set(KEY, answer, 60_000);
  await lock.release();
  const { claim, ms } = await waiting;
  t.ok(ms >= 150 && ms < 5000, `the other waited for the answer (${ms.toFixed(0)} ms)`);
  t.same(claim, { kind: 'answered', entry: answer }, 'and got the stored bytes');
}

t.test('cross-replica single-flight', { skip: redisServerMissing, timeout: 60_000 }, async (t) => {
  t.test('the lock holder calls, the other replica waits for its entry', async (t) => {
    const redis = await startRedis(t);
    await leaderAndWaiter(t, { url: redis.url });
    t.equal(await redisCommand(redis.port, 'EXISTS', 'sluice:chat:k-1:{5eed}:lock'), ':0\r\n', 'released');
  });

  t.test('an answer stored before the claim is taken as it is: no lock, no second call', async (t) => {
    const redis = await startRedis(t);
    const a = await replica(t, { url: redis.url });
    const answer = Buffer.from('stored already');
    await a.tier.set(KEY, answer, 60_000);
    t.same(await a.flights.claim(KEY, 10_000), { kind: 'answered', entry: answer });
    t.equal(await redisCommand(redis.port, 'EXISTS', 'sluice:chat:k-1:{5eed}:lock'), ':0\r\n', 'no lock');
  });

  t.test('on a Redis Cluster too: entry and lock are one slot for the poll script', async (t) => {
    const redis = await startRedis(t, { cluster: true });
    await leaderAndWaiter(t, { cluster: [{ host: '127.0.0.1', port: redis.port }] });
  });

  t.test('a leader that fails releases the lock: waiters stop at once, one takes over', async (t) => {
    const redis = await startRedis(t);
    const a = await replica(t, { url: redis.url });
    const b = await replica(t, { url: redis.url });
    const c = await replica(t, { url: redis.url });
    const lock = lockOf(await a.flights.claim(KEY, 10_000));
    // A waiter that takes the lock over fails too, so a waiter still polling stops as well.
    const failing = async (flights: ReplicaFlights) => {
      const result = await timedClaim(flights, KEY, 10_000);
      if (result.claim.kind === 'call') await result.claim.lock?.release();
      return result;
    };
    const waiters = [failing(b.flights), failing(c.flights)];
    await sleep(100);
    await lock.release();
    const claims = await Promise.all(waiters);
    for (const { claim, ms } of claims) {
      t.match(claim, { kind: 'call', outcome: 'leader_failed' });
      t.ok(ms < 5000, `stopped waiting ${ms.toFixed(0)} ms in, far from wait_seconds`);
    }
    t.ok(
      claims.some(({ claim }) => claim.kind === 'call' && claim.lock !== undefined),
      'a waiter took the lock over before calling',
    );
  });

  t.test('a dead leader holds the lock no longer than wait_seconds', async (t) => {
    const redis = await startRedis(t);
    const a = await replica(t, { url: redis.url });
    const b = await replica(t, { url: redis.url });
    lockOf(await a.flights.claim(KEY, 400));
    // The waiter would wait 10 s; the dead leader's lock expiring ends it.
    const { claim, ms } = await timedClaim(b.flights, KEY, 10_000);
    t.match(claim, { kind: 'call', outcome: 'leader_failed' });
    t.ok(claim.kind === 'call' && claim.lock !== undefined, 'and it takes the lock over');
    t.ok(ms >= 300 && ms < 5000, `after ${ms.toFixed(0)} ms`);
  });

  t.test('a waiter gives up after its wait, and then calls without the lock', async (t) => {
    const redis = await startRedis(t);
    const a = await replica(t, { url: redis.url });
    const b = await replica(t, { url: redis.url });
    const lock = lockOf(await a.flights.claim(KEY, 10_000));
    const { claim, ms } = await timedClaim(b.flights, KEY, 300);
    t.same(claim, { kind: 'call', lock: undefined, outcome: 'timed_out' });
    t.ok(ms >= 290 && ms < 5000, `after ${ms.toFixed(0)} ms`);
    await lock.release();
  });

  t.test('a release never removes a lock another replica took after ours expired', async (t) => {
    const redis = await startRedis(t);
    const a = await replica(t, { url: redis.url });
    const b = await replica(t, { url: redis.url });
    const stale = lockOf(await a.flights.claim(KEY, 100));
    await sleep(200);
    const fresh = lockOf(await b.flights.claim(KEY, 10_000));
    await stale.release();
    const lockKey = 'sluice:chat:k-1:{5eed}:lock';
    t.equal(await redisCommand(redis.port, 'EXISTS', lockKey), ':1\r\n', 'the new owner keeps it');
    await fresh.release();
    t.equal(await redisCommand(redis.port, 'EXISTS', lockKey), ':0\r\n');
  });

  t.test('Redis dying before or during a wait: call at once, as without the feature', async (t) => {
    const redis = await startRedis(t);
    const a = await replica(t, { url: redis.url });
    const b = await replica(t, { url: redis.url });
    lockOf(await a.flights.claim(KEY, 10_000));
    const waiting = timedClaim(b.flights, KEY, 10_000);
    await sleep(100);
    await redis.stop();
    const during = await waiting;
    t.same(during.claim, { kind: 'call', lock: undefined, outcome: 'redis_unavailable' });
    t.ok(during.ms < 5000, `during: ${during.ms.toFixed(0)} ms`);
    for (let i = 0; i < 10; i += 1) {
      const before = await timedClaim(b.flights, `chat:k-1:${i}`, 10_000);
      t.same(before.claim, { kind: 'call', lock: undefined, outcome: 'redis_unavailable' });
      t.ok(before.ms < 5000, `before: ${before.ms.toFixed(0)} ms`);
    }
  });
});
