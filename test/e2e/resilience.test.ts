/**
 * Chaos tests of the resilience features, end to end through a real Sluice to mock LLM targets
 * whose faults the tests switch at run time. They assert what the client sees, what each target
 * received and what /metrics says; never speed, except that a Retry-After wait was not cut short.
 */
import OpenAI from 'openai';
import t from 'tap';
import { request } from 'undici';
import type { MockLlm } from '../../src/mock-llm/server.ts';
import { eventually, until } from '../support/eventually.ts';
import { startMockBackend } from '../support/mock-backend.ts';
import { scrape, total } from '../support/scrape.ts';
import { startSluice } from '../support/sluice.ts';
import { startUpstream } from '../support/upstream-server.ts';

const chatBody = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });

async function chat(base: string, headers: Record<string, string> = {}, body = chatBody) {
  const response = await request(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  return { status: response.statusCode, headers: response.headers, text: await response.body.text() };
}

/** Requests a mock received, whatever their outcome. */
const received = (mock: MockLlm) => mock.stats.started;

const fastBreaker = {
  volume_threshold: 4,
  error_threshold_percent: 50,
  window_ms: 10000,
  reset_timeout_ms: 200,
};

t.test('a failing target: its breaker opens, traffic fails over, then it recovers', async (t) => {
  const a = await startMockBackend(t, { errorRate: 1, errorStatuses: [500] });
  const b = await startMockBackend(t);
  const { url, adminUrl } = await startSluice(t, {
    upstreams: {
      pair: {
        targets: [
          { name: 'a', url: a.url },
          { name: 'b', url: b.url },
        ],
        breaker: fastBreaker,
      },
    },
    routes: [
      {
        name: 'chat',
        upstream: 'pair',
        protocol: 'openai',
        retry: { attempts: 3, statuses: [500, 502, 503, 504], base_delay_ms: 0, max_delay_ms: 0 },
      },
    ],
  });
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'test', maxRetries: 0 });
  for (let i = 0; i < 40; i++) {
    const completion = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: `hello ${i}` }],
    });
    t.equal(completion.object, 'chat.completion');
  }
  let samples = await scrape(adminUrl);
  const opened = total(samples, 'sluice_upstream_breaker_transitions_total', { target: 'a', to: 'open' });
  t.ok(opened >= 1, `a's breaker opened (${opened} times)`);
  t.ok(received(a) < 20, `a got ${received(a)} of 40 requests: the open breaker kept it out`);
  t.equal(total(samples, 'sluice_upstream_attempts_total', { target: 'b', outcome: 'success' }), 40);

  a.setFaults({ errorRate: 0 });
  samples = await eventually('a closes again once it answers', 10_000, async () => {
    await chat(url);
    const now = await scrape(adminUrl);
    return total(now, 'sluice_upstream_breaker_state', { target: 'a', state: 'closed' }) === 1
      ? now
      : undefined;
  });
  t.ok(total(samples, 'sluice_upstream_breaker_transitions_total', { target: 'a', to: 'half_open' }) >= 1);
  t.ok(total(samples, 'sluice_upstream_breaker_transitions_total', { target: 'a', to: 'closed' }) >= 1);
  t.equal(total(samples, 'sluice_upstream_target_available', { target: 'a' }), 1);
  t.equal(total(samples, 'sluice_route_targets_available', { route: 'chat' }), 2);
});

t.test('a reset in the middle of a stream: the client sees an error and nothing is retried', async (t) => {
  const mock = await startMockBackend(t, { tokens: 20 });
  const { url } = await startSluice(t, {
    upstreams: { llm: { url: mock.url, breaker: fastBreaker } },
    routes: [{ name: 'chat', upstream: 'llm', protocol: 'openai', retry: { attempts: 3 } }],
  });
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'test', maxRetries: 0 });
  const stream = await client.chat.completions.create(
    { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], stream: true },
    { headers: { 'x-mock-reset-after': '3' } },
  );
  let chunks = 0;
  await t.rejects(async () => {
    for await (const _chunk of stream) chunks++;
  }, 'the broken stream reaches the client as an error');
  t.ok(chunks >= 1 && chunks <= 3, `${chunks} chunks arrived before the break`);
  t.equal(received(mock), 1, 'one upstream request: no retry after the first byte');
});

t.test('with a failing upstream, retries stay within the budget', async (t) => {
  const mock = await startMockBackend(t, { errorRate: 1, errorStatuses: [503] });
  const { url, adminUrl } = await startSluice(t, {
    upstreams: {
      llm: { url: mock.url, retry_budget: { ratio: 0.2, min_retries_per_second: 0, window_ms: 60000 } },
    },
    routes: [
      {
        name: 'chat',
        upstream: 'llm',
        protocol: 'openai',
        retry: { attempts: 3, base_delay_ms: 0, max_delay_ms: 0 },
      },
    ],
  });
  const clients = 100;
  const answers = await Promise.all(Array.from({ length: clients }, () => chat(url)));
  t.ok(
    answers.every((answer) => answer.status === 503),
    'each client gets the upstream’s 503',
  );
  const upstreamRequests = received(mock);
  t.ok(upstreamRequests > clients, `some retries were made (${upstreamRequests - clients})`);
  t.ok(upstreamRequests <= clients * 1.2, `${upstreamRequests} upstream requests ≤ (1 + 0.2) × ${clients}`);
  const samples = await scrape(adminUrl);
  t.ok(total(samples, 'sluice_upstream_retries_denied_total', { reason: 'budget_exhausted' }) > 0);
  t.equal(
    total(samples, 'sluice_upstream_retries_total', { upstream: 'llm' }),
    upstreamRequests - clients,
    'every retry is counted',
  );
});

t.test('429 with Retry-After: the retry waits for it; a longer one goes to the client', async (t) => {
  const mock = await startMockBackend(t, { errorRate: 1, errorStatuses: [429], retryAfterSeconds: 1 });
  const arrivals: number[] = [];
  mock.on('request', () => arrivals.push(performance.now()));
  const config = (maxRetryAfterMs: number) => ({
    upstreams: { llm: { url: mock.url } },
    routes: [
      {
        name: 'chat',
        upstream: 'llm',
        protocol: 'openai',
        retry: { attempts: 2, max_retry_after_ms: maxRetryAfterMs },
      },
    ],
  });
  const waiting = await startSluice(t, config(5000));
  const answer = await chat(waiting.url);
  t.equal(answer.status, 429, 'still limited after the retry: the 429 goes to the client');
  t.equal(arrivals.length, 2);
  t.ok(arrivals[1]! - arrivals[0]! >= 950, `the retry waited ${Math.round(arrivals[1]! - arrivals[0]!)} ms`);

  arrivals.length = 0;
  const impatient = await startSluice(t, config(500));
  const passed = await chat(impatient.url);
  t.equal(passed.status, 429);
  t.equal(passed.headers['retry-after'], '1', 'the upstream’s Retry-After reaches the client');
  t.equal(arrivals.length, 1, 'no retry when Retry-After is above max_retry_after_ms');
});

t.test('a slow target: a hedge to the other target answers first', async (t) => {
  const slow = await startMockBackend(t, { latencyMs: 3000 });
  const fast = await startMockBackend(t);
  const { url, adminUrl } = await startSluice(t, {
    upstreams: {
      pair: {
        targets: [
          { name: 'slow', url: slow.url, priority: 0 },
          { name: 'fast', url: fast.url, priority: 1 },
        ],
        balance: { strategy: 'priority' },
      },
    },
    routes: [{ name: 'chat', upstream: 'pair', protocol: 'openai', hedge: { delay_ms: 50 } }],
  });
  const answer = await chat(url);
  t.equal(answer.status, 200);
  t.equal(fast.stats.completed, 1, 'the fast target answered');
  await until('the slow attempt is aborted', 10_000, () => slow.stats.aborted === 1);
  const samples = await scrape(adminUrl);
  t.equal(total(samples, 'sluice_upstream_hedges_sent_total'), 1);
  t.equal(total(samples, 'sluice_upstream_hedges_won_total'), 1);
  t.equal(total(samples, 'sluice_upstream_attempts_total', { target: 'slow', outcome: 'hedge_lost' }), 1);
});

t.test('slow calls open the latency breaker; every target open gives 503 with Retry-After', async (t) => {
  const mock = await startMockBackend(t, { latencyMs: 150 });
  const { url, adminUrl } = await startSluice(t, {
    upstreams: {
      llm: { url: mock.url, breaker: { ...fastBreaker, reset_timeout_ms: 30000, slow_call_ms: 100 } },
    },
    routes: [{ name: 'chat', upstream: 'llm', protocol: 'anthropic' }],
  });
  for (let i = 0; i < 4; i++) t.equal((await chat(url)).status, 200, 'slow but answered');
  const refused = await chat(url);
  t.equal(refused.status, 503);
  t.equal(refused.headers['x-sluice-error'], 'sluice_upstream_unavailable');
  const retryAfter = Number(refused.headers['retry-after']);
  t.ok(retryAfter >= 1 && retryAfter <= 30, `Retry-After ${retryAfter} s: until the reset timeout`);
  t.match(JSON.parse(refused.text), { type: 'error', error: { type: 'overloaded_error' } });
  t.equal(received(mock), 4, 'the open breaker kept the fifth request away');
  const samples = await scrape(adminUrl);
  t.equal(
    total(samples, 'sluice_upstream_breaker_transitions_total', { to: 'open', reason: 'slow_calls' }),
    1,
  );
  t.equal(total(samples, 'sluice_route_targets_available', { route: 'chat' }), 0);
});

t.test('failover chain, model mapping and per-target credentials', async (t) => {
  const primary = await startMockBackend(t, { errorRate: 1, errorStatuses: [502] });
  const backup = await startMockBackend(t);
  const seen: { model: unknown; key: unknown; version: unknown; authorization: unknown }[] = [];
  backup.on('request', (info) => {
    const body = JSON.parse(info.body.toString()) as { model?: unknown };
    seen.push({
      model: body.model,
      key: info.headers['api-key'],
      version: info.headers['x-api-version'],
      authorization: info.headers.authorization,
    });
  });
  const { url, adminUrl } = await startSluice(t, {
    upstreams: {
      primary: {
        url: primary.url,
        api_key: 'primary-key',
        outlier_detection: { consecutive_failures: 2, max_ejection_percent: 100 },
      },
      azure: {
        targets: [
          {
            name: 'azure-east',
            url: backup.url,
            api_key: 'azure-key',
            api_key_header: 'api-key',
            headers: { 'x-api-version': '2024-10-21' },
            models: { 'gpt-4o-mini': 'my-mini-deployment' },
          },
        ],
      },
    },
    routes: [
      {
        name: 'chat',
        upstream: 'primary',
        failover: ['azure'],
        protocol: 'openai',
        retry: { attempts: 2, base_delay_ms: 0, max_delay_ms: 0 },
      },
    ],
  });
  for (let i = 0; i < 5; i++) t.equal((await chat(url, { authorization: 'Bearer client-key' })).status, 200);
  t.equal(received(primary), 2, 'the primary was ejected after two consecutive failures');
  t.equal(seen.length, 5);
  t.same(
    seen[0],
    { model: 'my-mini-deployment', key: 'azure-key', version: '2024-10-21', authorization: undefined },
    'mapped model, the target’s own key, and no other credential',
  );
  const samples = await scrape(adminUrl);
  t.equal(total(samples, 'sluice_route_failovers_total', { route: 'chat', from: 'primary', to: 'azure' }), 5);
  t.equal(total(samples, 'sluice_upstream_ejections_total', { upstream: 'primary' }), 1);
});

t.test('a target that refuses connections: the retry goes to the other one', async (t) => {
  const live = await startMockBackend(t);
  const { url } = await startSluice(t, {
    upstreams: {
      pair: {
        targets: [
          { name: 'dead', url: 'http://127.0.0.1:9' },
          { name: 'live', url: live.url },
        ],
      },
    },
    routes: [{ name: 'chat', upstream: 'pair', protocol: 'openai', retry: { attempts: 2 } }],
  });
  const answers = await Promise.all(Array.from({ length: 6 }, () => chat(url)));
  t.same(
    answers.map((answer) => answer.status),
    [200, 200, 200, 200, 200, 200],
  );
});

t.test('active health checks take a failing target out and bring it back', async (t) => {
  const a = await startMockBackend(t);
  const b = await startMockBackend(t);
  const { url, adminUrl } = await startSluice(t, {
    upstreams: {
      pair: {
        targets: [
          { name: 'a', url: `${a.url}/v1` },
          { name: 'b', url: `${b.url}/v1` },
        ],
        health_check: { path: '/models', interval_ms: 20, healthy_threshold: 2, unhealthy_threshold: 2 },
      },
    },
    routes: [{ name: 'chat', upstream: 'pair', protocol: 'openai', strip_prefix: '/v1' }],
  });
  const availability = async (target: string) =>
    total(await scrape(adminUrl), 'sluice_upstream_target_available', { target });
  a.setFaults({ errorRate: 1, errorStatuses: [503] });
  await eventually('a is taken out', 10_000, async () =>
    (await availability('a')) === 0 ? true : undefined,
  );
  const before = a.stats.byPath['/v1/chat/completions']?.started ?? 0;
  for (let i = 0; i < 10; i++) t.equal((await chat(url)).status, 200);
  t.equal(a.stats.byPath['/v1/chat/completions']?.started ?? 0, before, 'no request went to a while out');
  const samples = await scrape(adminUrl);
  t.ok(total(samples, 'sluice_upstream_health_checks_total', { target: 'a', result: 'fail' }) >= 2);
  t.equal(total(samples, 'sluice_upstream_breaker_state', { target: 'a', state: 'ejected' }), 1);
  a.setFaults({ errorRate: 0 });
  await eventually('a comes back', 10_000, async () => ((await availability('a')) === 1 ? true : undefined));
  t.ok(
    total(await scrape(adminUrl), 'sluice_upstream_breaker_transitions_total', {
      target: 'a',
      reason: 'active_check_passed',
    }) >= 1,
  );
});

t.test(
  'every target open: a GET route with a stored response serves it stale (stale-if-error)',
  async (t) => {
    let models = 0;
    const upstream = await startUpstream(t, (req, res) => {
      if (req.url === '/models' && models++ === 0) {
        res.writeHead(200, {
          'content-type': 'application/json',
          'cache-control': 'max-age=0, stale-if-error=60',
        });
        res.end('{"data":[]}');
        return;
      }
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end('{"error":"down"}');
    });
    const { url } = await startSluice(t, {
      upstreams: { api: { url: upstream, breaker: { ...fastBreaker, reset_timeout_ms: 30000 } } },
      routes: [{ name: 'api', upstream: 'api', http_cache: {} }],
    });
    const get = async (path: string) => {
      const response = await request(`${url}${path}`);
      return {
        status: response.statusCode,
        cache: response.headers['x-sluice-cache'],
        text: await response.body.text(),
      };
    };
    t.same(await get('/models'), { status: 200, cache: 'MISS', text: '{"data":[]}' });
    // With the first 200, three 500s make 75 % failures over the volume of 4: the breaker opens.
    for (let i = 0; i < 3; i++) t.equal((await get('/other')).status, 500);
    t.equal((await get('/other')).status, 503, 'the breaker is open');
    const seenBefore = models;
    t.same(await get('/models'), { status: 200, cache: 'STALE', text: '{"data":[]}' });
    t.equal(models, seenBefore, 'answered without the upstream');
  },
);

t.test('cost follows the prices of the target that answered', async (t) => {
  const mock = await startMockBackend(t, { tokens: 10 });
  const { url, adminUrl } = await startSluice(t, {
    upstreams: {
      pair: {
        prices: [{ model: 'gpt-4o-mini', input: 1, output: 1 }],
        targets: [
          { name: 'list', url: mock.url },
          { name: 'discounted', url: mock.url, prices: [{ model: 'gpt-4o-mini', input: 0.5, output: 0.5 }] },
        ],
      },
    },
    routes: [{ name: 'chat', upstream: 'pair', protocol: 'openai' }],
  });
  const tokens: number[] = [];
  for (let i = 0; i < 2; i++) {
    const answer = await chat(url);
    const usage = (JSON.parse(answer.text) as { usage: { total_tokens: number } }).usage;
    tokens.push(usage.total_tokens);
  }
  const samples = await scrape(adminUrl);
  const cost = total(samples, 'sluice_llm_cost_usd_total', { route: 'chat' });
  // Round-robin: one request each, at 1 and 0.5 USD per million tokens.
  t.equal(Math.round(cost * 1e12), Math.round(((tokens[0]! + tokens[1]! * 0.5) / 1e6) * 1e12));
});
