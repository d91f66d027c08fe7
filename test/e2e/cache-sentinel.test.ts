/**
 * The shared L2 tier through Redis Sentinel, live: two Sluice replicas find the master through a
 * real Sentinel and share answers through it; when the master dies, Sentinel promotes its replica,
 * requests keep succeeding meanwhile (fail-open), and Sluice writes to the new master by itself.
 */

import t, { type Test } from 'tap';
import { request } from 'undici';
import { eventually } from '../support/eventually.ts';
import { startMockBackend } from '../support/mock-backend.ts';
import { redisKeys, redisQuery, redisServerMissing, startRedis, startSentinel } from '../support/redis.ts';
import { type RunningSluice, startSluice } from '../support/sluice.ts';

const MASTER_NAME = 'sluice-l2';
const ENTRY_KEYS = 'sluice:chat:*';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function ask(sluice: RunningSluice, content: string) {
  const response = await request(`${sluice.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer key-a' },
    body: JSON.stringify({ model: 'gpt-4o-mini', temperature: 0, messages: [{ role: 'user', content }] }),
    headersTimeout: 5000,
    bodyTimeout: 5000,
  });
  return {
    status: response.statusCode,
    cache: response.headers['x-sluice-cache'],
    text: await response.body.text(),
  };
}

/** A Sluice whose L2 goes through the Sentinel on `sentinelPort`, once its L2 client is connected. */
async function sluiceBehindSentinel(t: Test, mockUrl: string, sentinelPort: number): Promise<RunningSluice> {
  const sluice = await startSluice(t, {
    upstreams: { llm: { url: mockUrl } },
    routes: [
      {
        name: 'chat',
        upstream: 'llm',
        protocol: 'openai',
        cache: { ttl_seconds: 60, when: { temperature: 0 } },
      },
    ],
    cache: {
      redis: { sentinels: [{ host: '127.0.0.1', port: sentinelPort }], sentinel_name: MASTER_NAME },
    },
  });
  await eventually('the L2 client to connect through Sentinel', 5000, async () =>
    sluice.logs.some((line) => line['msg'] === 'Redis L2 cache connected') ? true : undefined,
  );
  return sluice;
}

t.test(
  'two replicas find the master through Sentinel and share answers through it',
  { skip: redisServerMissing, timeout: 30_000 },
  async (t) => {
    const mock = await startMockBackend(t);
    const master = await startRedis(t);
    const sentinel = await startSentinel(t, { masterName: MASTER_NAME, masterPort: master.port });
    const first = await sluiceBehindSentinel(t, mock.url, sentinel.port);

    const stored = await ask(first, 'through sentinel');
    t.equal(stored.status, 200);
    t.equal(stored.cache, 'MISS');
    // The write to Redis is not awaited by the request: wait for it to land on the master.
    const keys = await eventually('the entry on the master', 5000, async () => {
      const found = await redisKeys(master.port, ENTRY_KEYS);
      return found.length > 0 ? found : undefined;
    });
    t.equal(keys.length, 1, 'one entry on the master Sentinel names');
    t.match(keys[0], /^sluice:chat:[^:{}]+:\{[0-9a-f]+\}$/, 'under the prefix, digest hash-tagged');
    const ttl = Number(await redisQuery(master.port, 'PTTL', String(keys[0])));
    t.ok(ttl > 50_000 && ttl <= 60_000, `stored with the route's TTL (${ttl} ms left)`);

    const second = await sluiceBehindSentinel(t, mock.url, sentinel.port);
    const fromL2 = await ask(second, 'through sentinel');
    t.equal(fromL2.cache, 'HIT', 'a fresh replica answers from L2, found through Sentinel');
    t.equal(fromL2.text, stored.text, 'the same bytes');
    t.equal(mock.stats.byPath['/v1/chat/completions']?.started, 1, 'one upstream call in all');
  },
);

t.test(
  'when the master dies, Sentinel promotes the replica, requests never fail, Sluice follows by itself',
  { skip: redisServerMissing, timeout: 45_000 },
  async (t) => {
    const mock = await startMockBackend(t);
    const master = await startRedis(t);
    const replica = await startRedis(t, { replicaOf: master.port });
    const sentinel = await startSentinel(t, {
      masterName: MASTER_NAME,
      masterPort: master.port,
      downAfterMs: 500,
      replicas: 1,
    });
    const first = await sluiceBehindSentinel(t, mock.url, sentinel.port);
    const second = await sluiceBehindSentinel(t, mock.url, sentinel.port);

    t.equal((await ask(first, 'before failover')).cache, 'MISS');
    const [before] = await eventually('the entry to reach the replica', 5000, async () => {
      const found = await redisKeys(replica.port, ENTRY_KEYS);
      return found.length > 0 ? found : undefined;
    });
    t.ok(before, 'the entry is written to the master and replicated');

    const killedAt = Date.now();
    await master.stop();
    // Requests during the failover: all answered (by the upstream), none slowed by the dead Redis.
    let during = 0;
    let slowest = 0;
    while ((await sentinel.masterPort()) !== replica.port) {
      if (Date.now() - killedAt > 15_000) {
        t.comment(sentinel.log());
        throw new Error('Sentinel did not promote the replica within 15 s');
      }
      const started = performance.now();
      const answer = await ask(first, `during failover ${during}`);
      slowest = Math.max(slowest, performance.now() - started);
      during += 1;
      if (answer.status !== 200) t.fail(`request ${during} during the failover: ${answer.status}`);
      await sleep(50);
    }
    t.pass(`Sentinel named the replica master ${Date.now() - killedAt} ms after the kill`);
    t.ok(during > 0, `${during} requests during the failover, all 200`);
    t.ok(slowest < 1000, `none held up by the dead master (slowest ${Math.round(slowest)} ms)`);
    const role = await redisQuery(replica.port, 'ROLE');
    t.equal(Array.isArray(role) ? role[0] : role, 'master', 'the replica is a master now');

    // Sluice reconnects through Sentinel without being told: a new answer lands on the new master
    // and the other replica reads it from there.
    let attempt = 0;
    const shared = await eventually('a new entry on the new master, shared', 15_000, async () => {
      attempt += 1;
      const content = `after failover ${attempt}`;
      const keysBefore = await redisKeys(replica.port, ENTRY_KEYS);
      const answer = await ask(first, content);
      if (answer.status !== 200) t.fail(`request after the failover: ${answer.status}`);
      await sleep(100);
      const keysAfter = await redisKeys(replica.port, ENTRY_KEYS);
      if (keysAfter.length <= keysBefore.length) return undefined;
      return (await ask(second, content)).cache === 'HIT' ? content : undefined;
    });
    t.ok(
      shared,
      `the new master holds new entries and serves them (${Date.now() - killedAt} ms after the kill)`,
    );
    t.equal((await ask(second, 'before failover')).cache, 'HIT', 'the entry stored before the failover too');

    const lines = first.logs.map((line) => String(line['msg'])).filter((msg) => /redis|L2/i.test(msg));
    t.comment(lines.join(' / '));
    t.ok(lines.length <= 8, `state changes logged once each, not per request (${lines.length})`);
  },
);
