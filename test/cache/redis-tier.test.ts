/**
 * The Redis L2 tier against a real redis-server: binary round trips with TTL, the hash-tagged key
 * layout, purge by prefix, and fail-open when Redis dies or hangs (every call still resolves at
 * once, the breaker opens, the tier comes back by itself), with one log line per state change.
 */
import type { Logger } from 'pino';
import t, { type Test } from 'tap';
import { planRedisConnection, reconnectDelayMs } from '../../src/cache/redis-connection.ts';
import {
  RedisTier,
  type RedisTierLogger,
  type RedisTierOptions,
  redisKey,
} from '../../src/cache/redis-tier.ts';
import type { RedisConfig } from '../../src/config/types.generated.ts';
import { type RunningRedis, redisCommand, redisServerMissing, startRedis } from '../support/redis.ts';

// The proxy hands the tier its pino logger; this fails to compile if the two drift apart.
const pinoFits: Logger extends RedisTierLogger ? true : never = true;
void pinoFits;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function redisConfig(shape: Partial<RedisConfig>): RedisConfig {
  return { key_prefix: 'sluice', command_timeout_ms: 100, compress_above_bytes: 1024, ...shape };
}

/** Every line the tier logs, as `level: message`. */
function recordingLogger(): { readonly lines: string[]; readonly logger: RedisTierLogger } {
  const lines: string[] = [];
  return {
    lines,
    logger: {
      warn: (_details, message) => lines.push(`warn: ${message}`),
      info: (_details, message) => lines.push(`info: ${message}`),
    },
  };
}

async function eventually(what: string, timeoutMs: number, check: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

async function upTier(
  t: Test,
  redis: RunningRedis,
  shape: Partial<RedisConfig> = {},
  options: RedisTierOptions = {},
) {
  const { lines, logger } = recordingLogger();
  const tier = new RedisTier(redisConfig({ url: redis.url, ...shape }), logger, options);
  t.teardown(() => tier.close());
  await eventually('the tier to connect', 5000, () => tier.state() === 'up');
  return { tier, lines };
}

/** Milliseconds a call took, with what it resolved to. */
async function timed<T>(call: () => Promise<T>): Promise<{ readonly ms: number; readonly value: T }> {
  const started = performance.now();
  const value = await call();
  return { ms: performance.now() - started, value };
}

const CONNECTED = 'info: Redis L2 cache connected';
const UNREACHABLE = 'warn: Redis L2 cache unreachable; requests go on without it and it reconnects by itself';
const OPENED = 'warn: Redis L2 breaker open: skipping L2 until it recovers';
const HALF_OPEN = 'info: Redis L2 breaker half-open: probing Redis';
const CLOSED = 'info: Redis L2 breaker closed: using L2 again';

t.test('each config shape gets its own ioredis client, all failing fast and reconnecting', async (t) => {
  const standalone = planRedisConnection(
    redisConfig({ url: 'redis://cache:6379/2', command_timeout_ms: 250 }),
  );
  t.equal(standalone.mode, 'standalone');
  if (standalone.mode !== 'standalone') return;
  t.equal(standalone.url, 'redis://cache:6379/2');
  t.match(standalone.options, { enableOfflineQueue: false, commandTimeout: 250, maxRetriesPerRequest: 0 });
  t.equal(standalone.options.retryStrategy, reconnectDelayMs);
  t.notOk('password' in standalone.options, 'no password unless configured');

  const sentinel = planRedisConnection(
    redisConfig({ sentinels: [{ host: 's1', port: 26379 }], sentinel_name: 'main', password: 'pw' }),
  );
  t.equal(sentinel.mode, 'sentinel');
  t.match(sentinel.options, {
    sentinels: [{ host: 's1', port: 26379 }],
    name: 'main',
    password: 'pw',
    enableOfflineQueue: false,
    commandTimeout: 100,
    maxRetriesPerRequest: 0,
    sentinelRetryStrategy: reconnectDelayMs,
    sentinelCommandTimeout: 500,
  });

  const cluster = planRedisConnection(redisConfig({ cluster: [{ host: 'c1', port: 7000 }], password: 'pw' }));
  t.equal(cluster.mode, 'cluster');
  if (cluster.mode !== 'cluster') return;
  t.same(cluster.nodes, [{ host: 'c1', port: 7000 }]);
  t.match(cluster.options, {
    enableOfflineQueue: false,
    clusterRetryStrategy: reconnectDelayMs,
    redisOptions: { commandTimeout: 100, maxRetriesPerRequest: 0, enableOfflineQueue: false, password: 'pw' },
  });

  t.throws(() => planRedisConnection(redisConfig({})), /exactly one of url, sentinels or cluster/);
  t.throws(
    () => planRedisConnection(redisConfig({ url: 'redis://a', cluster: [{ host: 'c1', port: 1 }] })),
    /exactly one/,
  );
  t.throws(() => planRedisConnection(redisConfig({ sentinels: [{ host: 's', port: 1 }] })), /sentinel_name/);
});

t.test(
  'reconnect delays grow from 50 ms and stop growing at 2 s (plus under 100 ms of jitter)',
  async (t) => {
    t.ok(reconnectDelayMs(1) >= 50 && reconnectDelayMs(1) < 150);
    t.ok(reconnectDelayMs(3) >= 200 && reconnectDelayMs(3) < 300);
    t.ok(reconnectDelayMs(1000) >= 2000 && reconnectDelayMs(1000) < 2100);
  },
);

t.test('the digest is the hash tag, so an entry and its companion keys share a Cluster slot', async (t) => {
  t.equal(redisKey('sluice', 'chat:k-0a1b:9f8e7d'), 'sluice:chat:k-0a1b:{9f8e7d}');
  t.equal(redisKey('team-a:cache', 'chat:anonymous:00ff'), 'team-a:cache:chat:anonymous:{00ff}');
});

t.test('against a real redis-server', { skip: redisServerMissing, timeout: 60_000 }, async (t) => {
  t.test('binary values round-trip, and Redis expires them after their TTL', async (t) => {
    const redis = await startRedis(t);
    const events: string[] = [];
    const onEvent = (event: string, seconds: number) =>
      events.push(seconds >= 0 && seconds < 1 ? event : 'bad');
    const { tier, lines } = await upTier(t, redis, {}, { onEvent });
    const value = Buffer.concat([
      Buffer.from(Array.from({ length: 256 }, (_, byte) => byte)),
      Buffer.alloc(70_000, 0xfe),
    ]);
    await tier.set('chat:k-1:aa', value, 60_000);
    t.ok((await tier.get('chat:k-1:aa'))?.equals(value), 'the same bytes come back');

    await tier.set('chat:k-1:bb', Buffer.from('short-lived'), 200);
    t.equal((await tier.get('chat:k-1:bb'))?.toString(), 'short-lived');
    const ttl = Number((await redisCommand(redis.port, 'PTTL', 'sluice:chat:k-1:{bb}')).slice(1));
    t.ok(ttl > 0 && ttl <= 200, `TTL in Redis is ${ttl} ms`);
    await sleep(300);
    t.equal(await tier.get('chat:k-1:bb'), undefined, 'expired');
    t.equal(await tier.get('chat:k-1:never'), undefined, 'absent');

    await tier.set('chat:k-1:cc', value, 0);
    t.equal(await tier.get('chat:k-1:cc'), undefined, 'a TTL of 0 stores nothing');
    await tier.delete('chat:k-1:aa');
    t.equal(await tier.get('chat:k-1:aa'), undefined, 'deleted');
    t.match(tier.stats(), { hit: 2, miss: 4, set: 2, delete: 1, error: 0, timeout: 0, rejected: 0 });
    t.same(
      events,
      ['set', 'hit', 'set', 'hit', 'miss', 'miss', 'miss', 'delete', 'miss'],
      'one event per outcome',
    );
    t.same(lines, [CONNECTED]);
  });

  t.test('keys are prefix:route:tenant:{digest}', async (t) => {
    const redis = await startRedis(t);
    const { tier } = await upTier(t, redis, { key_prefix: 'team-a' });
    await tier.set('chat:t-42:0123abcd', Buffer.from('x'), 10_000);
    t.equal(await redisCommand(redis.port, 'EXISTS', 'team-a:chat:t-42:{0123abcd}'), ':1\r\n');
    t.equal(await redisCommand(redis.port, 'DBSIZE'), ':1\r\n', 'and nothing else');
  });

  t.test(
    'purge removes exactly the keys under a prefix, in batches, and only this deployment’s',
    async (t) => {
      const redis = await startRedis(t);
      const { tier } = await upTier(t, redis, { command_timeout_ms: 1000 });
      const { tier: neighbour } = await upTier(t, redis, { key_prefix: 'other', command_timeout_ms: 1000 });
      const value = Buffer.from('v');
      const writes = [
        ...Array.from({ length: 1200 }, (_, i) => tier.set(`chat:k-1:${i}`, value, 60_000)),
        ...Array.from({ length: 10 }, (_, i) => tier.set(`chat:k-2:${i}`, value, 60_000)),
        ...Array.from({ length: 5 }, (_, i) => tier.set(`embed:k-1:${i}`, value, 60_000)),
        ...Array.from({ length: 3 }, (_, i) => neighbour.set(`chat:k-1:${i}`, value, 60_000)),
      ];
      await Promise.all(writes);
      t.equal(tier.stats().set, 1215);

      t.equal(await tier.purge('chat:k-1:'), 1200, 'one tenant of one route, more keys than one SCAN step');
      t.equal(await tier.get('chat:k-1:7'), undefined);
      t.equal((await tier.get('chat:k-2:7'))?.toString(), 'v', 'the other tenant keeps its entries');
      t.equal(await tier.purge('chat*'), 0, 'the prefix is literal text, not a pattern');
      t.equal(await tier.purge('chat:'), 10, 'a whole route');
      t.equal(await tier.purge(''), 5, 'everything of this key_prefix');
      t.equal(await redisCommand(redis.port, 'DBSIZE'), ':3\r\n', 'the neighbour’s keys are untouched');
    },
  );

  t.test('Redis killed mid-test: every call resolves at once, then the tier is back by itself', async (t) => {
    const redis = await startRedis(t);
    const { tier, lines } = await upTier(t, redis);
    await tier.set('chat:k-1:aa', Buffer.from('before'), 60_000);
    t.equal((await tier.get('chat:k-1:aa'))?.toString(), 'before');

    await redis.stop();
    await eventually('the tier to notice', 2000, () => tier.state() !== 'up');
    const calls = 40;
    for (let i = 0; i < calls / 2; i += 1) {
      const read = await timed(() => tier.get('chat:k-1:aa'));
      const write = await timed(() => tier.set('chat:k-1:aa', Buffer.from('during'), 60_000));
      t.equal(read.value, undefined);
      t.ok(
        read.ms < 250 && write.ms < 250,
        `call ${i} resolved in ${read.ms.toFixed(1)} / ${write.ms.toFixed(1)} ms`,
      );
    }
    const during = tier.stats();
    t.equal(during.error + during.rejected, calls, 'every call failed open and was counted');
    t.ok(during.error <= 5, `the breaker opened after ${during.error} errors`);
    t.equal(during.timeout, 0, 'a dead Redis fails at once instead of timing out');
    t.equal(tier.state(), 'open');

    await redis.restart();
    await eventually('the tier to be up again', 10_000, () => tier.state() === 'up');
    await tier.set('chat:k-1:aa', Buffer.from('after'), 60_000);
    t.equal((await tier.get('chat:k-1:aa'))?.toString(), 'after');
    t.same(lines, [CONNECTED, UNREACHABLE, OPENED, CONNECTED, CLOSED], 'one line per state change');
  });

  t.test(
    'a hung Redis: calls time out at command_timeout_ms, the breaker opens, a probe closes it',
    async (t) => {
      const redis = await startRedis(t);
      const { tier, lines } = await upTier(t, redis, { command_timeout_ms: 100 }, { resetTimeoutMs: 300 });
      redis.pause();
      t.teardown(() => redis.resume());
      for (let i = 0; i < 5; i += 1) {
        const read = await timed(() => tier.get('chat:k-1:aa'));
        t.ok(read.ms >= 90 && read.ms < 400, `timed out after ${read.ms.toFixed(1)} ms`);
      }
      t.match(tier.stats(), { timeout: 5, rejected: 0 });
      t.equal(tier.state(), 'open');
      const skipped = await timed(() => tier.get('chat:k-1:aa'));
      t.equal(tier.stats().rejected, 1, 'the open breaker answers without asking Redis');
      t.ok(skipped.ms < 50, `in ${skipped.ms.toFixed(2)} ms`);

      redis.resume();
      await sleep(350);
      t.equal(await tier.get('chat:k-1:aa'), undefined, 'the probe: a real miss');
      t.equal(tier.state(), 'up');
      t.same(lines, [CONNECTED, OPENED, HALF_OPEN, CLOSED], 'the connection never dropped');
    },
  );

  t.test('failed probes while Redis stays down add no log lines', async (t) => {
    const redis = await startRedis(t);
    const { tier, lines } = await upTier(t, redis, {}, { resetTimeoutMs: 100 });
    await redis.stop();
    const until = Date.now() + 800;
    while (Date.now() < until) {
      await tier.get('chat:k-1:aa');
      await sleep(10);
    }
    t.ok(tier.stats().error >= 7, `${tier.stats().error} errors: several probes failed`);
    t.same(lines, [CONNECTED, UNREACHABLE, OPENED, HALF_OPEN]);
  });

  t.test('close() logs nothing, is quick with Redis dead, and the tier then skips every call', async (t) => {
    const redis = await startRedis(t);
    const { tier: healthy, lines } = await upTier(t, redis);
    await healthy.close();
    await sleep(50);
    t.same(lines, [CONNECTED], 'closing is not an outage');

    const { tier } = await upTier(t, redis);
    await redis.stop();
    const closing = await timed(() => tier.close());
    t.ok(closing.ms < 1000, `closed in ${closing.ms.toFixed(1)} ms`);
    t.equal(await tier.get('chat:k-1:aa'), undefined);
    await tier.set('chat:k-1:aa', Buffer.from('v'), 1000);
    t.match(tier.stats(), { rejected: 2, error: 0 });
  });

  t.test('a Redis Cluster: entry and lock share a slot, purge scans the masters', async (t) => {
    const redis = await startRedis(t, { cluster: true });
    const { lines, logger } = recordingLogger();
    const tier = new RedisTier(redisConfig({ cluster: [{ host: '127.0.0.1', port: redis.port }] }), logger);
    t.teardown(() => tier.close());
    await eventually('the cluster client to connect', 5000, () => tier.state() === 'up');

    await tier.set('chat:k-1:9f8e7d', Buffer.from([0, 1, 2]), 60_000);
    t.same(await tier.get('chat:k-1:9f8e7d'), Buffer.from([0, 1, 2]));
    const entry = redisKey('sluice', 'chat:k-1:9f8e7d');
    const slot = await redisCommand(redis.port, 'CLUSTER', 'KEYSLOT', entry);
    t.equal(await redisCommand(redis.port, 'CLUSTER', 'KEYSLOT', `${entry}:lock`), slot);
    t.equal(slot, await redisCommand(redis.port, 'CLUSTER', 'KEYSLOT', '9f8e7d'), 'only the digest counts');

    await Promise.all(
      Array.from({ length: 20 }, (_, i) => tier.set(`chat:k-2:${i}`, Buffer.from('v'), 60_000)),
    );
    t.equal(await tier.purge('chat:'), 21, 'keys of many slots, unlinked without CROSSSLOT errors');
    t.same(lines, [CONNECTED]);
  });
});
