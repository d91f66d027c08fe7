/** The HTTP cache of GET routes (RFC 9111), end to end against hand-written upstreams. */
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import t, { type Test } from 'tap';
import { request } from 'undici';
import { startMockBackend } from '../support/mock-backend.ts';
import { redisServerMissing, startRedis } from '../support/redis.ts';
import { scrape, total } from '../support/scrape.ts';
import { type RunningSluice, singleRoute, startSluice } from '../support/sluice.ts';
import { startUpstream } from '../support/upstream-server.ts';

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
}

type Handler = (req: IncomingMessage, res: ServerResponse, seen: readonly Seen[]) => void | Promise<void>;

interface Setup {
  readonly sluice: RunningSluice;
  /** Every request the upstream received, in order. */
  readonly seen: Seen[];
  call(path: string, headers?: Record<string, string>, method?: string): Promise<Answer>;
}

interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly cache: unknown;
  readonly text: string;
}

async function call(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
  const response = await request(url, { method, headers });
  const text = await response.body.text();
  return {
    status: response.statusCode,
    headers: response.headers,
    cache: response.headers['x-sluice-cache'],
    text,
  };
}

async function setup(
  t: Test,
  handler: Handler,
  httpCache: Record<string, unknown> = {},
  top: Record<string, unknown> = {},
): Promise<Setup> {
  const seen: Seen[] = [];
  const upstream = await startUpstream(t, (req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    return handler(req, res, seen);
  });
  const sluice = await startSluice(
    t,
    singleRoute(upstream, 'passthrough', { route: { http_cache: httpCache }, top }),
  );
  return { sluice, seen, call: (path, headers, method) => call(`${sluice.url}${path}`, headers, method) };
}

function reply(res: ServerResponse, headers: OutgoingHttpHeaders, body: string, status = 200): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(body);
}

const requestsTo = (seen: readonly Seen[], url: string, method = 'GET') =>
  seen.filter((request) => request.url === url && request.method === method).length;

t.test('max-age: the second GET is a HIT with Age, HEAD too, one upstream call', async (t) => {
  const { call, seen } = await setup(t, (_req, res, seen) =>
    reply(res, { 'cache-control': 'max-age=60', age: '50', 'x-request-id': `up-${seen.length}` }, '{"n":1}'),
  );
  const first = await call('/v1/models');
  t.equal(first.cache, 'MISS');
  const second = await call('/v1/models');
  t.equal(second.cache, 'HIT');
  t.equal(second.text, first.text);
  t.ok(Number(second.headers['age']) >= 50, 'Age counts what the upstream said it already was');
  t.ok(second.headers['date'], 'a Date of its own');
  t.equal(second.headers['content-type'], 'application/json');
  t.notOk(
    second.headers['x-request-id']?.toString().startsWith('up-'),
    'the upstream request id is not replayed',
  );
  const head = await call('/v1/models', {}, 'HEAD');
  t.equal(head.cache, 'HIT', 'a stored GET answers HEAD');
  t.equal(head.headers['content-length'], String(first.text.length));
  t.equal(head.text, '');
  t.equal(seen.length, 1, 'one upstream call');
});

t.test(
  'no-store and private responses are never stored; private ones are when the cache is not shared',
  async (t) => {
    const handler: Handler = (req, res) =>
      reply(
        res,
        { 'cache-control': req.url === '/private' ? 'private, max-age=60' : 'no-store, max-age=60' },
        '{}',
      );
    const { call, seen } = await setup(t, handler);
    for (const path of ['/no-store', '/private', '/no-store', '/private']) {
      t.equal((await call(path)).cache, 'BYPASS', path);
    }
    t.equal(seen.length, 4);

    const single = await setup(t, handler, { shared: false });
    t.equal((await single.call('/private')).cache, 'MISS');
    t.equal((await single.call('/private')).cache, 'HIT', 'shared: false stores private responses');
    t.equal((await single.call('/no-store')).cache, 'BYPASS');
  },
);

t.test(
  'responses to credentialed requests: only when the response allows it, and per credential',
  async (t) => {
    const handler: Handler = (req, res) =>
      reply(
        res,
        { 'cache-control': req.url === '/public' ? 'public, max-age=60' : 'max-age=60' },
        `"${req.url}"`,
      );
    const { call } = await setup(t, handler);
    const keyA = { authorization: 'Bearer key-a' };
    t.equal((await call('/plain', keyA)).cache, 'BYPASS');
    t.equal(
      (await call('/plain', { 'x-api-key': 'key-a' })).cache,
      'BYPASS',
      'x-api-key is a credential too',
    );
    t.equal((await call('/public', keyA)).cache, 'MISS');
    t.equal((await call('/public', keyA)).cache, 'HIT', '`public` allows it');
    t.equal(
      (await call('/public', { authorization: 'Bearer key-b' })).cache,
      'MISS',
      'another key, another entry',
    );
    t.equal((await call('/public')).cache, 'MISS', 'no credential, another entry');

    const authorized = await setup(t, handler, { cache_authorized: true });
    t.equal((await authorized.call('/plain', keyA)).cache, 'MISS');
    t.equal((await authorized.call('/plain', keyA)).cache, 'HIT', 'cache_authorized stores it');
    t.equal((await authorized.call('/plain', { authorization: 'Bearer key-b' })).cache, 'MISS');
    t.equal((await authorized.call('/plain', { authorization: 'Bearer key-b' })).cache, 'HIT');
    t.equal(requestsTo(authorized.seen, '/plain'), 2, 'one upstream call per key');
  },
);

t.test('Vary: two Accept-Language values are two entries', async (t) => {
  const { call, seen } = await setup(t, (req, res) =>
    reply(
      res,
      { 'cache-control': 'max-age=60', vary: 'Accept-Language' },
      `"${req.headers['accept-language']}"`,
    ),
  );
  t.equal((await call('/greeting', { 'accept-language': 'en' })).cache, 'MISS');
  t.equal((await call('/greeting', { 'accept-language': 'de' })).cache, 'MISS');
  const en = await call('/greeting', { 'accept-language': 'en' });
  const de = await call('/greeting', { 'accept-language': 'de' });
  t.same([en.cache, en.text, de.cache, de.text], ['HIT', '"en"', 'HIT', '"de"']);
  t.equal(seen.length, 2);
});

t.test('revalidation: If-None-Match / If-Modified-Since upstream, a 304 renews the entry', async (t) => {
  const lastModified = new Date(Date.now() - 3_600_000).toUTCString();
  const { call, seen } = await setup(t, (req, res) => {
    const validators = { etag: '"v1"', 'last-modified': lastModified };
    if (req.headers['if-none-match'] === '"v1"') {
      res.writeHead(304, { ...validators, 'cache-control': 'max-age=60' });
      res.end();
      return;
    }
    reply(res, { ...validators, 'cache-control': 'no-cache' }, '{"version":1}');
  });
  const first = await call('/v1/models');
  t.equal(first.cache, 'MISS');
  const second = await call('/v1/models');
  t.equal(second.cache, 'REVALIDATED');
  t.equal(second.status, 200);
  t.equal(second.text, first.text, 'the stored body, replayed');
  t.equal(second.headers['cache-control'], 'max-age=60', 'with the headers of the 304');
  t.equal(seen[1]?.headers['if-none-match'], '"v1"');
  t.equal(seen[1]?.headers['if-modified-since'], lastModified);
  const third = await call('/v1/models');
  t.equal(third.cache, 'HIT', 'fresh again after the 304');
  t.equal(seen.length, 2);

  const conditional = await call('/v1/models', { 'if-none-match': 'W/"v1"' });
  t.equal(conditional.status, 304, 'a client that has it gets a 304 from the cache');
  t.equal(conditional.headers['etag'], '"v1"');
  t.equal(conditional.text, '');
  const other = await call('/v1/models', { 'if-none-match': '"v0"' });
  t.equal(other.status, 200);
  t.equal(seen.length, 2);
});

t.test('stale-while-revalidate: served stale, refreshed once in the background', async (t) => {
  const { call, seen } = await setup(t, async (_req, res, seen) => {
    if (seen.length === 1) {
      // Already 5 s old with 1 s of freshness: stale as soon as it is stored.
      reply(res, { 'cache-control': 'max-age=1, stale-while-revalidate=60', age: '5' }, '"v1"');
      return;
    }
    await sleep(100);
    reply(res, { 'cache-control': 'max-age=60' }, '"v2"');
  });
  t.equal((await call('/list')).cache, 'MISS');
  const stale = await Promise.all([call('/list'), call('/list'), call('/list')]);
  t.same(
    stale.map((answer) => [answer.cache, answer.text]),
    [
      ['STALE', '"v1"'],
      ['STALE', '"v1"'],
      ['STALE', '"v1"'],
    ],
  );
  while (seen.length < 2) await sleep(10);
  await sleep(200);
  const fresh = await call('/list');
  t.same([fresh.cache, fresh.text], ['HIT', '"v2"']);
  t.equal(seen.length, 2, 'one background refresh for three stale answers');
});

t.test('stale-if-error: an upstream error or reset gets the stale response, within its window', async (t) => {
  const { call } = await setup(t, (req, res, seen) => {
    const first = seen.filter((request) => request.url === req.url).length === 1;
    if (first) {
      const window = req.url === '/short' ? 'stale-if-error=1' : 'stale-if-error=60';
      reply(res, { 'cache-control': `max-age=1, ${window}`, age: '5', etag: '"e"' }, '"good"');
    } else if (req.headers['x-fail'] === 'reset') {
      req.socket.destroy();
    } else {
      reply(res, {}, '{"error":"down"}', 500);
    }
  });
  t.equal((await call('/models')).cache, 'MISS');
  const onError = await call('/models');
  t.same([onError.status, onError.cache, onError.text], [200, 'STALE', '"good"']);
  const onReset = await call('/models', { 'x-fail': 'reset' });
  t.same([onReset.status, onReset.cache, onReset.text], [200, 'STALE', '"good"']);

  t.equal((await call('/short')).cache, 'MISS');
  const beyond = await call('/short');
  t.equal(beyond.status, 500, 'past its stale-if-error window, the error goes through');
});

t.test('a successful unsafe request to the URI drops its entries, for every variant', async (t) => {
  const { call, seen } = await setup(t, (req, res) => {
    if (req.method !== 'GET')
      return reply(res, {}, '{}', req.headers['x-status'] ? Number(req.headers['x-status']) : 201);
    reply(res, { 'cache-control': 'max-age=60', vary: 'accept-language' }, '{}');
  });
  await call('/files', { 'accept-language': 'en' });
  await call('/files', { 'accept-language': 'de' });
  t.equal((await call('/files', { 'accept-language': 'en' })).cache, 'HIT');
  await call('/files', { 'x-status': '404' }, 'POST');
  t.equal((await call('/files', { 'accept-language': 'en' })).cache, 'HIT', 'a failed POST changes nothing');
  await call('/other', {}, 'DELETE');
  t.equal((await call('/files', { 'accept-language': 'en' })).cache, 'HIT', 'another URI changes nothing');
  const posted = await call('/files', { authorization: 'Bearer key-b' }, 'POST');
  t.equal(posted.cache, undefined, 'unsafe requests carry no cache status');
  t.equal((await call('/files', { 'accept-language': 'en' })).cache, 'MISS');
  t.equal((await call('/files', { 'accept-language': 'de' })).cache, 'MISS');
  t.equal(requestsTo(seen, '/files'), 4);
});

t.test('freshness the upstream does not state: default_ttl_seconds, never over no-cache', async (t) => {
  const handler: Handler = (req, res) =>
    reply(res, req.url === '/no-cache' ? { 'cache-control': 'no-cache' } : {}, '{}');
  const plain = await setup(t, handler);
  t.equal((await plain.call('/silent')).cache, 'BYPASS', 'no freshness, no validator: nothing to keep');
  const defaulted = await setup(t, handler, { default_ttl_seconds: 60 });
  t.equal((await defaulted.call('/silent')).cache, 'MISS');
  t.equal((await defaulted.call('/silent')).cache, 'HIT');
  t.equal((await defaulted.call('/no-cache')).cache, 'BYPASS');
  t.equal((await defaulted.call('/no-cache')).cache, 'BYPASS');
});

t.test('bodies over max_entry_bytes stream through unstored; errors are never stored', async (t) => {
  const big = JSON.stringify('x'.repeat(4096));
  const { call, sluice } = await setup(
    t,
    (req, res) => {
      if (req.url === '/missing') return reply(res, { 'cache-control': 'max-age=60' }, '{}', 404);
      res.writeHead(200, { 'cache-control': 'max-age=60' });
      res.write(big.slice(0, 100));
      res.end(big.slice(100));
    },
    {},
    { cache: { max_entry_bytes: 1024 } },
  );
  for (const _ of [1, 2]) {
    const answer = await call('/big');
    t.same([answer.cache, answer.text.length], ['MISS', big.length]);
    t.equal((await call('/missing')).cache, 'BYPASS');
  }
  const samples = await scrape(sluice.adminUrl);
  t.equal(total(samples, 'sluice_cache_stores_total', { route: 'main', result: 'too_large' }), 2);
  t.equal(total(samples, 'sluice_cache_stores_total', { route: 'main', result: 'not_ok' }), 2);
});

t.test('lookups are counted by result and tier', async (t) => {
  const { call, sluice } = await setup(t, (req, res, seen) => {
    if (req.url === '/revalidate' && req.headers['if-none-match']) {
      res.writeHead(304, { etag: '"r"', 'cache-control': 'no-cache' });
      res.end();
      return;
    }
    if (req.url === '/stale' && requestsTo(seen, '/stale') > 1) return reply(res, {}, '{}', 503);
    const cacheControl = req.url === '/revalidate' ? 'no-cache' : 'max-age=1, stale-if-error=60';
    reply(res, { 'cache-control': cacheControl, etag: '"r"', age: req.url === '/stale' ? '5' : '0' }, '{}');
  });
  await call('/revalidate');
  await call('/revalidate');
  await call('/stale');
  await call('/stale');
  const samples = await scrape(sluice.adminUrl);
  const lookups = (result: string) => total(samples, 'sluice_cache_lookups_total', { route: 'main', result });
  t.same(
    { miss: lookups('miss'), revalidated: lookups('revalidated'), stale: lookups('stale') },
    { miss: 2, revalidated: 1, stale: 1 },
  );
  t.equal(total(samples, 'sluice_cache_lookups_total', { route: 'main', tier: 'l1', result: 'stale' }), 1);
  t.equal(total(samples, 'sluice_cache_stores_total', { route: 'main', result: 'stored' }), 3);
});

t.test('works on LLM routes: /v1/models from the mock, POSTs untouched by the HTTP cache', async (t) => {
  const mock = await startMockBackend(t);
  const sluice = await startSluice(
    t,
    singleRoute(mock.url, 'openai', { route: { http_cache: { default_ttl_seconds: 60 } } }),
  );
  const first = await call(`${sluice.url}/v1/models`, { authorization: 'Bearer key-a' });
  t.equal(first.cache, 'BYPASS', 'a credentialed request without `public` is not stored by default');

  const authorized = await startSluice(
    t,
    singleRoute(mock.url, 'openai', {
      route: { http_cache: { default_ttl_seconds: 60, cache_authorized: true } },
    }),
  );
  const models = `${authorized.url}/v1/models`;
  t.equal((await call(models, { authorization: 'Bearer key-a' })).cache, 'MISS');
  const hit = await call(models, { authorization: 'Bearer key-a' });
  t.equal(hit.cache, 'HIT');
  t.match(JSON.parse(hit.text), { object: 'list' });
  const chat = await request(`${authorized.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer key-a' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
  });
  t.equal(chat.statusCode, 200);
  t.equal(chat.headers['x-sluice-cache'], undefined);
  await chat.body.text();
});

t.test(
  'two replicas share entries and revalidate them through Redis',
  { skip: redisServerMissing },
  async (t) => {
    const redis = await startRedis(t);
    const seen: Seen[] = [];
    const upstream = await startUpstream(t, (req, res) => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
      if (req.headers['if-none-match'] === '"shared"') {
        res.writeHead(304, { etag: '"shared"', 'cache-control': 'no-cache' });
        res.end();
        return;
      }
      const cacheControl = req.url === '/fresh' ? 'max-age=60' : 'no-cache';
      reply(
        res,
        { 'cache-control': cacheControl, etag: '"shared"', vary: 'accept-language' },
        `"${req.url}"`,
      );
    });
    const config = singleRoute(upstream, 'passthrough', {
      route: { http_cache: {} },
      top: { cache: { redis: { url: redis.url } } },
    });
    const [one, two] = [await startSluice(t, config), await startSluice(t, config)];
    const headers = { 'accept-language': 'en' };
    t.equal((await call(`${one.url}/fresh`, headers)).cache, 'MISS');
    t.equal((await call(`${one.url}/validated`, headers)).cache, 'MISS');
    // Writes to Redis are not awaited by the request.
    await sleep(200);
    const fresh = await call(`${two.url}/fresh`, headers);
    t.same([fresh.cache, fresh.text], ['HIT', '"/fresh"']);
    const validated = await call(`${two.url}/validated`, headers);
    t.same([validated.cache, validated.text], ['REVALIDATED', '"/validated"']);
    t.equal(
      seen.at(-1)?.headers['if-none-match'],
      '"shared"',
      'the policy came back from Redis with its validator',
    );
    const samples = await scrape(two.adminUrl);
    t.equal(total(samples, 'sluice_cache_lookups_total', { route: 'main', tier: 'l2', result: 'hit' }), 1);
  },
);
