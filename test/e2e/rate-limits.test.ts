/**
 * Rate limits end to end: requests and tokens through Sluice to the mock, the 429 and its headers as
 * OpenAI clients read them, exactness across two replicas on one real Redis, Redis dying under
 * fail_open and fail_closed policies, shadow mode and the max_tokens ceiling.
 */
import OpenAI from 'openai';
import t from 'tap';
import { request } from 'undici';
import { startMockBackend } from '../support/mock-backend.ts';
import { redisServerMissing, startRedis } from '../support/redis.ts';
import { scrape, total } from '../support/scrape.ts';
import { startSluice } from '../support/sluice.ts';
import { startSluiceProcess } from '../support/sluice-process.ts';

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly json: Record<string, unknown>;
}

async function chat(
  sluice: { readonly url: string },
  options: { key?: string; body?: Record<string, unknown>; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const response = await request(`${sluice.url}/v1/chat/completions`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${options.key ?? 'key-a'}`,
      ...options.headers,
    },
    body: JSON.stringify({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hello there' }],
      ...options.body,
    }),
  });
  const text = await response.body.text();
  return { status: response.statusCode, headers: response.headers, json: JSON.parse(text) };
}

function chatRoute(extra: Record<string, unknown>) {
  return { name: 'chat', upstream: 'llm', protocol: 'openai', ...extra };
}

t.test('a request policy: the N+1th request is a 429 with the headers clients read', async (t) => {
  const mock = await startMockBackend(t);
  const sluice = await startSluice(t, {
    upstreams: { llm: { url: mock.url } },
    routes: [chatRoute({ rate_limits: [{ name: 'per-key', limit: 5, window_seconds: 60 }] })],
  });
  const answers: Answer[] = [];
  for (let i = 0; i < 5; i++) answers.push(await chat(sluice));
  t.same(
    answers.map((a) => a.status),
    [200, 200, 200, 200, 200],
  );
  t.equal(answers[0]?.headers['x-ratelimit-limit-requests'], '5');
  t.same(
    answers.map((a) => a.headers['x-ratelimit-remaining-requests']),
    ['4', '3', '2', '1', '0'],
    'remaining counts down',
  );
  t.match(answers[0]?.headers['x-ratelimit-reset-requests'], /^\d+(\.\d+)?(ms|s)$|m/);
  t.equal(answers[0]?.headers['ratelimit-policy'], '"per-key";q=5;w=60');
  t.match(answers[4]?.headers['ratelimit'], /^"per-key";r=0;t=\d+$/);

  const refused = await chat(sluice);
  t.equal(refused.status, 429);
  t.match(refused.json, { error: { code: 'sluice_rate_limited', type: 'rate_limit_error' } });
  t.match(String(refused.headers['retry-after']), /^[1-9]\d*$/, 'Retry-After in whole seconds');
  t.equal(refused.headers['x-ratelimit-remaining-requests'], '0');
  t.equal(mock.stats.started, 5, 'the refused request never reached the upstream');

  const otherKey = await chat(sluice, { key: 'key-b' });
  t.equal(otherKey.status, 200, 'another credential has its own budget');

  const client = new OpenAI({ baseURL: `${sluice.url}/v1`, apiKey: 'key-a', maxRetries: 0 });
  const raised = await client.chat.completions
    .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })
    .then(
      () => undefined,
      (error: unknown) => error,
    );
  t.ok(raised instanceof OpenAI.RateLimitError, 'the OpenAI SDK raises its RateLimitError');

  const samples = await scrape(sluice.adminUrl);
  t.equal(total(samples, 'sluice_rate_limit_decisions_total', { policy: 'per-key', result: 'allowed' }), 6);
  t.equal(total(samples, 'sluice_rate_limit_decisions_total', { policy: 'per-key', result: 'rejected' }), 2);
});

t.test(
  'token limits hold under 50 concurrent requests, and reservations follow the real usage',
  async (t) => {
    // Answers take a second, so all 50 are decided before the first reservation is corrected.
    const mock = await startMockBackend(t, { tokens: 10, latencyMs: 1000 });
    const limit = 3000;
    const sluice = await startSluice(t, {
      upstreams: { llm: { url: mock.url } },
      routes: [chatRoute({ rate_limits: [{ name: 'tokens', unit: 'tokens', limit, window_seconds: 3600 }] })],
    });
    // Each request reserves its prompt estimate plus max_tokens 200; the mock uses about 10 + a few.
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => chat(sluice, { body: { max_tokens: 200 } })),
    );
    const admitted = answers.filter((a) => a.status === 200).length;
    const refused = answers.filter((a) => a.status === 429).length;
    t.equal(admitted + refused, 50, 'every request was admitted or refused');
    const samples = await scrape(sluice.adminUrl);
    const reserved = total(samples, 'sluice_rate_limit_tokens_total', { kind: 'reserved' });
    const perRequest = reserved / admitted;
    t.ok(perRequest > 200, `each reservation covers max_tokens (${perRequest} per request)`);
    t.ok(
      admitted <= Math.floor(limit / perRequest),
      `${admitted} admitted: never over ${limit} reserved at once`,
    );
    t.ok(refused > 0, 'the rest were refused, not queued past the limit');

    // Once the answers are in, reservations shrink to the usage the mock reported.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const after = await scrape(sluice.adminUrl);
    const refunded = total(after, 'sluice_rate_limit_tokens_total', { kind: 'refunded' });
    const used = answers
      .filter((a) => a.status === 200)
      .reduce((sum, a) => sum + Number((a.json['usage'] as { total_tokens: number }).total_tokens), 0);
    t.equal(reserved - refunded, used, 'what stays charged is exactly the usage the provider reported');
    const again = await chat(sluice, { body: { max_tokens: 200 } });
    t.equal(again.status, 200, 'refunds made room for more');
  },
);

t.test('shadow policies count and let everything through; max_tokens ceilings', async (t) => {
  const mock = await startMockBackend(t, { tokens: 50 });
  const sluice = await startSluice(t, {
    upstreams: { llm: { url: mock.url } },
    routes: [
      chatRoute({
        match: { path_prefix: '/v1/chat' },
        rate_limits: [{ name: 'trial', limit: 2, window_seconds: 60, shadow: true }],
        max_tokens: { max: 5, action: 'cap' },
      }),
    ],
  });
  const answers = [];
  for (let i = 0; i < 4; i++) answers.push(await chat(sluice, { body: { max_tokens: 100 } }));
  t.same(
    answers.map((a) => a.status),
    [200, 200, 200, 200],
    'shadow never rejects',
  );
  t.equal(answers[0]?.headers['ratelimit-policy'], undefined, 'and sets no headers');
  const usage = answers[0]?.json['usage'] as { completion_tokens: number };
  t.equal(usage.completion_tokens, 5, 'max_tokens 100 was capped to 5 on the way');
  const samples = await scrape(sluice.adminUrl);
  t.equal(total(samples, 'sluice_rate_limit_decisions_total', { result: 'shadow_rejected' }), 2);

  const strict = await startSluice(t, {
    upstreams: { llm: { url: mock.url } },
    routes: [chatRoute({ max_tokens: { max: 5 } })],
  });
  const refused = await chat(strict, { body: { max_completion_tokens: 6 } });
  t.equal(refused.status, 400);
  t.match(refused.json, { error: { code: 'sluice_max_tokens_too_large' } });
});

t.test('with Redis', { skip: redisServerMissing, timeout: 90_000 }, async (t) => {
  t.test('two Sluice processes on one Redis admit exactly N in total under concurrent load', async (t) => {
    const mock = await startMockBackend(t);
    const redis = await startRedis(t);
    const config = {
      upstreams: { llm: { url: mock.url } },
      limits: { redis: { url: redis.url } },
      routes: [
        chatRoute({
          rate_limits: [
            { name: 'shared', limit: 20, window_seconds: 600, store: 'redis' },
            { name: 'bucket', algorithm: 'token_bucket', limit: 25, window_seconds: 600, store: 'redis' },
          ],
        }),
      ],
    };
    const replicas = await Promise.all([startSluiceProcess(t, config), startSluiceProcess(t, config)]);
    t.not(replicas[0].pid, replicas[1].pid);
    await waitForStore(replicas);
    const answers = await Promise.all(Array.from({ length: 60 }, (_, i) => chat(replicas[i % 2]!)));
    t.equal(answers.filter((a) => a.status === 200).length, 20, 'exactly 20 of 60, across both replicas');
    t.equal(mock.stats.started, 20);
  });

  t.test('Redis killed: fail_open limits per replica, fail_closed answers 503', async (t) => {
    const mock = await startMockBackend(t);
    const redis = await startRedis(t);
    const routes = (failure: string) => [
      chatRoute({
        rate_limits: [{ name: 'p', limit: 3, window_seconds: 600, store: 'redis', on_store_error: failure }],
      }),
    ];
    const base = {
      upstreams: { llm: { url: mock.url } },
      limits: { redis: { url: redis.url, command_timeout_ms: 200 } },
    };
    const open = await startSluice(t, { ...base, routes: routes('fail_open') });
    const closed = await startSluice(t, { ...base, routes: routes('fail_closed') });
    await waitForStore([open, closed]);
    await redis.stop();
    const whileDown = [];
    for (let i = 0; i < 5; i++) whileDown.push(await chat(open, { key: 'fresh-key' }));
    t.same(
      whileDown.map((a) => a.status),
      [200, 200, 200, 429, 429],
      'fail_open: the local limiter still enforces 3',
    );
    const refused = await chat(closed);
    t.equal(refused.status, 503);
    t.match(refused.json, { error: { code: 'sluice_rate_limit_unavailable' } });
    t.ok(Number(refused.headers['retry-after']) >= 1, 'with Retry-After');
    const samples = await scrape(open.adminUrl);
    t.equal(total(samples, 'sluice_rate_limit_store_up'), 0, 'the store is reported down');

    await redis.restart();
    await waitForStore([closed]);
    t.equal((await chat(closed)).status, 200, 'Redis back: fail_closed admits again by itself');
  });
});

async function waitForStore(replicas: readonly { readonly adminUrl: string }[]): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (const replica of replicas) {
    while (total(await scrape(replica.adminUrl), 'sluice_rate_limit_store_up') !== 1) {
      if (Date.now() > deadline) throw new Error('the rate-limit store did not come up');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
