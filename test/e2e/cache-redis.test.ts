/** The shared L2 tier through two Sluice replicas and a real Redis, and what happens when Redis dies. */
import t from 'tap';
import { request } from 'undici';
import { startMockBackend } from '../support/mock-backend.ts';
import { redisServerMissing, startRedis } from '../support/redis.ts';
import { type RunningSluice, startSluice } from '../support/sluice.ts';

async function ask(sluice: RunningSluice, content: string, stream = false) {
  const response = await request(`${sluice.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer key-a' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], stream }),
  });
  return {
    status: response.statusCode,
    cache: response.headers['x-sluice-cache'],
    text: await response.body.text(),
  };
}

t.test(
  'two replicas share answers through Redis; a dead Redis costs requests nothing',
  { skip: redisServerMissing, timeout: 60_000 },
  async (t) => {
    const mock = await startMockBackend(t);
    const redis = await startRedis(t);
    const config = {
      upstreams: { llm: { url: mock.url } },
      routes: [{ name: 'chat', upstream: 'llm', protocol: 'openai', cache: { ttl_seconds: 60 } }],
      cache: { redis: { url: redis.url, compress_above_bytes: 256 } },
    };
    const first = await startSluice(t, config);
    const second = await startSluice(t, config);

    const stored = await ask(first, 'shared answer', true);
    t.equal(stored.cache, 'MISS');
    // The write to Redis is not awaited by the request: give it a moment.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const fromL2 = await ask(second, 'shared answer', true);
    t.equal(fromL2.cache, 'HIT', 'the other replica answers from Redis');
    t.equal(fromL2.text, stored.text, 'byte for byte (stored compressed, replayed as sent)');
    const promoted = await ask(second, 'shared answer', true);
    t.equal(promoted.cache, 'HIT', 'and from its own L1 next');
    t.equal(mock.stats.byPath['/v1/chat/completions']?.started, 1);

    await redis.stop();
    for (let i = 0; i < 20; i++) {
      const answer = await ask(first, `while Redis is down ${i}`);
      t.equal(answer.status, 200, `request ${i} succeeds without Redis`);
    }
    const cached = await ask(first, 'shared answer', true);
    t.equal(cached.cache, 'HIT', 'L1 still answers');

    await redis.restart();
    const deadline = Date.now() + 20_000;
    let shared = false;
    while (!shared && Date.now() < deadline) {
      const content = `after restart ${Date.now()}`;
      await ask(first, content);
      await new Promise((resolve) => setTimeout(resolve, 200));
      shared = (await ask(second, content)).cache === 'HIT';
      if (!shared) await new Promise((resolve) => setTimeout(resolve, 500));
    }
    t.ok(shared, 'L2 comes back by itself');
    const states = first.logs.filter((line) => /redis|L2/i.test(String(line['msg'])));
    t.comment(states.map((line) => line['msg']).join(' / '));
    t.ok(
      states.length >= 2 && states.length <= 8,
      `state changes logged once each, not per request (${states.length})`,
    );
  },
);
