/**
 * `cache.across_replicas` end to end: two Sluice replicas sharing one Redis in front of one slow mock
 * LLM. Identical requests spread over both make one upstream call, JSON and SSE alike, with every
 * client getting the same bytes; with Redis dead each replica still answers, calling on its own.
 */
import t from 'tap';
import { request } from 'undici';
import { startMockBackend } from '../support/mock-backend.ts';
import { redisServerMissing, startRedis } from '../support/redis.ts';
import { scrape, total } from '../support/scrape.ts';
import { type RunningSluice, startSluice } from '../support/sluice.ts';

const CLIENTS = 20;

async function ask(sluice: RunningSluice, content: string, stream: boolean) {
  const response = await request(`${sluice.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer key-a' },
    body: JSON.stringify({
      model: 'gpt-4o-mini',
      temperature: 0,
      messages: [{ role: 'user', content }],
      stream,
    }),
  });
  return {
    status: response.statusCode,
    cache: String(response.headers['x-sluice-cache']),
    age: response.headers['age'],
    text: await response.body.text(),
  };
}

/** CLIENTS identical requests at once, alternating between the replicas. */
function burst(replicas: readonly RunningSluice[], content: string, stream: boolean) {
  return Promise.all(
    Array.from({ length: CLIENTS }, (_, i) => ask(replicas[i % replicas.length]!, content, stream)),
  );
}

function tally(values: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}

t.test(
  'two replicas, one upstream call; a dead Redis only costs the sharing',
  { skip: redisServerMissing, timeout: 60_000 },
  async (t) => {
    // Slow enough that every request of a burst arrives while the first is still being answered.
    const mock = await startMockBackend(t, { latencyMs: 300 });
    const redis = await startRedis(t);
    const config = {
      upstreams: { llm: { url: mock.url } },
      routes: [
        {
          name: 'chat',
          upstream: 'llm',
          protocol: 'openai',
          cache: { ttl_seconds: 60, when: { temperature: 0 }, across_replicas: { wait_seconds: 10 } },
        },
      ],
      cache: { redis: { url: redis.url, key_prefix: 'replicas-e2e', command_timeout_ms: 500 } },
    };
    const replicas = [await startSluice(t, config), await startSluice(t, config)];
    const calls = () => mock.stats.byPath['/v1/chat/completions']?.started ?? 0;
    // A replica starts serving before its Redis connection is up (and goes without it until then).
    for (const replica of replicas) {
      const deadline = Date.now() + 5000;
      while (total(await scrape(replica.adminUrl), 'sluice_cache_l2_up') !== 1) {
        if (Date.now() > deadline) throw new Error('Redis did not come up');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }

    for (const stream of [false, true]) {
      const kind = stream ? 'SSE' : 'JSON';
      const before = calls();
      const answers = await burst(replicas, `one call for all (${kind})`, stream);
      t.equal(calls() - before, 1, `${kind}: one upstream call for ${CLIENTS} clients on two replicas`);
      t.ok(
        answers.every((answer) => answer.status === 200 && answer.text === answers[0]!.text),
        `${kind}: every client got the same bytes`,
      );
      if (stream) t.match(answers[0]!.text, /data: \[DONE\]\n\n$/, 'the whole stream, replayed');
      t.same(
        tally(answers.map((answer) => answer.cache)),
        { MISS: 1, COALESCED: CLIENTS - 1 },
        `${kind}: MISS once, COALESCED for the rest`,
      );
      t.equal(
        answers.filter((answer) => answer.age !== undefined).length,
        CLIENTS / 2,
        `${kind}: the waiting replica's clients get an Age, as from a hit`,
      );
    }

    const samples = (await Promise.all(replicas.map((replica) => scrape(replica.adminUrl)))).flat();
    const waits = 'sluice_cache_replica_waits_total';
    t.equal(
      total(samples, waits, { route: 'chat', outcome: 'answered' }),
      2,
      'one wait per key on the waiting replica, however many of its clients waited',
    );
    t.equal(total(samples, waits), 2, 'and no other outcome');
    t.equal(
      total(samples, 'sluice_cache_lookups_total', { route: 'chat', tier: 'l2', result: 'coalesced' }),
      2,
      'counted as coalesced from L2',
    );

    await redis.stop();
    const before = calls();
    const answers = await burst(replicas, 'Redis is down', false);
    t.ok(
      answers.every((answer) => answer.status === 200),
      'every request is answered without Redis',
    );
    t.equal(calls() - before, 2, 'each replica made its own call, shared by its own clients');
    t.same(tally(answers.map((answer) => answer.cache)), { MISS: 2, COALESCED: CLIENTS - 2 });
    const after = (await Promise.all(replicas.map((replica) => scrape(replica.adminUrl)))).flat();
    t.equal(total(after, waits, { outcome: 'redis_unavailable' }), 2, 'counted, once per replica');
  },
);
