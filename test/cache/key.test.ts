import type { IncomingHttpHeaders } from 'node:http';
import t from 'tap';
import {
  type CacheKeyParts,
  cacheKey,
  canonicalRequest,
  clientDirective,
  isCacheableOperation,
  matchesCondition,
  tenantScope,
  variantHeaders,
} from '../../src/cache/key.ts';
import type { RouteCacheConfig } from '../../src/config/types.generated.ts';
import type { JsonObject } from '../../src/llm/json.ts';

const IGNORED = ['user', 'metadata'];

const chat: JsonObject = {
  model: 'gpt-4o-mini',
  temperature: 0,
  messages: [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Hello' },
  ],
};

/** Parse text the way the request-body stage does, so whitespace and key order come from real JSON. */
const parse = (text: string): JsonObject => JSON.parse(text) as JsonObject;

const baseParts: CacheKeyParts = {
  route: 'chat',
  path: '/v1/chat/completions',
  tenant: 'k-0123456789abcdef0123456789abcdef',
  stream: false,
  canonicalBody: canonicalRequest(chat, IGNORED)!,
};

const keyOf = (body: JsonObject, parts: Partial<CacheKeyParts> = {}) =>
  cacheKey({ ...baseParts, canonicalBody: canonicalRequest(body, IGNORED)!, ...parts });

t.test('key order and whitespace do not change the canonical body or the key', async (t) => {
  const compact = parse(
    '{"model":"gpt-4o-mini","temperature":0,"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hello"}]}',
  );
  const reordered = parse(`{
    "messages" : [ { "content": "Be brief.", "role": "system" },
                   { "content": "Hello", "role": "user" } ],
    "temperature": 0.0,
    "model":   "gpt-4o-mini"
  }`);
  t.equal(canonicalRequest(reordered, IGNORED), canonicalRequest(compact, IGNORED));
  t.equal(keyOf(reordered), keyOf(compact));
  t.equal(keyOf(compact), keyOf(chat));
  t.equal(
    canonicalRequest(compact, []),
    '{"messages":[{"content":"Be brief.","role":"system"},{"content":"Hello","role":"user"}],"model":"gpt-4o-mini","temperature":0}',
    'RFC 8785 text: sorted keys, no whitespace',
  );
});

t.test('1.0, 1 and 1e0 are one JSON number', async (t) => {
  const texts = ['{"temperature":1.0}', '{"temperature":1}', '{"temperature":1e0}'];
  const canonical = new Set(texts.map((text) => canonicalRequest(parse(text), [])));
  t.same([...canonical], ['{"temperature":1}']);
});

t.test('any parameter change gives a different key', async (t) => {
  const variants: Record<string, string> = {
    base: keyOf(chat),
    model: keyOf({ ...chat, model: 'gpt-4o' }),
    temperature: keyOf({ ...chat, temperature: 0.2 }),
    'message content': keyOf({ ...chat, messages: [{ role: 'user', content: 'Hello!' }] }),
    'message order': keyOf({ ...chat, messages: [...(chat['messages'] as unknown[])].reverse() }),
    'added parameter': keyOf({ ...chat, max_tokens: 10 }),
    'stream flag': keyOf(chat, { stream: true }),
    path: keyOf(chat, { path: '/v1/completions' }),
    'path query': keyOf(chat, { path: '/v1/chat/completions?api-version=2024-10-21' }),
    route: keyOf(chat, { route: 'chat-eu' }),
    tenant: keyOf(chat, { tenant: 'k-fedcba9876543210fedcba9876543210' }),
    'variant headers': keyOf(chat, { variantHeaders: 'anthropic-beta=output-128k-2025-02-19' }),
  };
  t.equal(new Set(Object.values(variants)).size, Object.keys(variants).length, JSON.stringify(variants));
  t.equal(keyOf(chat, { variantHeaders: '' }), keyOf(chat), 'no variant headers is the same as none sent');
});

t.test('key layout: route:tenant:sha256 hex, fields cannot bleed into each other', async (t) => {
  t.match(keyOf(chat), /^chat:k-[0-9a-f]{32}:[0-9a-f]{64}$/);
  t.ok(keyOf(chat).startsWith(`${baseParts.route}:${baseParts.tenant}:`), 'purgeable by prefix');
  const shifted = [
    keyOf(chat, { path: '/v1/a', canonicalBody: '{"b":1}' }),
    keyOf(chat, { path: '/v1/a{"b":1}', canonicalBody: '' }),
    keyOf(chat, { path: '/v1/a', variantHeaders: 'x', canonicalBody: '{}' }),
    keyOf(chat, { path: '/v1/ax', canonicalBody: '{}' }),
  ];
  t.equal(new Set(shifted).size, shifted.length);
});

t.test('ignored top-level fields do not change the key; a nested `user` does', async (t) => {
  t.equal(keyOf({ ...chat, user: 'alice', metadata: { trace: 'abc' } }), keyOf(chat));
  t.equal(keyOf({ ...chat, user: 'alice' }), keyOf({ ...chat, user: 'bob' }));
  const withNestedUser = (name: string) => ({
    ...chat,
    messages: [{ role: 'user', content: 'Hello', user: name }],
  });
  t.not(keyOf(withNestedUser('alice')), keyOf(withNestedUser('bob')));
  t.not(
    canonicalRequest({ ...chat, user: 'alice' }, []),
    canonicalRequest(chat, []),
    'with no ignored fields, user counts',
  );
  t.not(
    canonicalRequest({ ...chat, seed: 1 }, ['user', 'metadata']),
    canonicalRequest(chat, ['user', 'metadata']),
  );
});

t.test('a `__proto__` field is keyed like any other field', async (t) => {
  const a = parse('{"model":"m","__proto__":{"x":1}}');
  const b = parse('{"model":"m","__proto__":{"x":2}}');
  t.not(canonicalRequest(a, IGNORED), canonicalRequest(b, IGNORED));
  t.match(canonicalRequest(a, IGNORED), /"__proto__":\{"x":1\}/);
});

t.test('a body with a lone surrogate has no canonical form and is not cached', async (t) => {
  t.equal(canonicalRequest(parse('{"prompt":"\\ud800"}'), IGNORED), undefined);
  t.equal(canonicalRequest(parse('{"prompt":"\\ud83d\\ude00"}'), IGNORED), '{"prompt":"😀"}');
});

t.test('two credentials never share a scope, and the scope never contains them', async (t) => {
  const keyA = 'Bearer sk-proj-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
  const keyB = 'Bearer sk-proj-BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB';
  const scopeA = tenantScope({ authorization: keyA }, undefined);
  const scopeB = tenantScope({ authorization: keyB }, undefined);
  t.not(scopeA, scopeB);
  t.match(scopeA, /^k-[0-9a-f]{32}$/);
  t.equal(tenantScope({ authorization: keyA }, undefined), scopeA, 'stable');
  for (const scope of [scopeA, scopeB]) {
    t.notOk(scope.includes('sk-proj'), 'no credential text in the scope');
    t.notOk(keyOf(chat, { tenant: scope }).includes('sk-proj'), 'nor in the key');
  }
  const anthropicA = tenantScope({ 'x-api-key': 'sk-ant-a' }, undefined);
  const anthropicB = tenantScope({ 'x-api-key': 'sk-ant-b' }, undefined);
  const azure = tenantScope({ 'api-key': 'sk-ant-a' }, undefined);
  t.equal(new Set([anthropicA, anthropicB, azure]).size, 3, 'x-api-key and api-key are credentials too');
});

t.test('every credential header counts: a shared gateway authorization does not merge clients', async (t) => {
  const shared = 'Bearer gateway-token';
  const a = tenantScope({ authorization: shared, 'x-api-key': 'client-a' }, undefined);
  const b = tenantScope({ authorization: shared, 'x-api-key': 'client-b' }, undefined);
  t.not(a, b);
  t.not(a, tenantScope({ authorization: shared }, undefined));
});

t.test('no credential is anonymous; an empty header is no credential', async (t) => {
  t.equal(tenantScope({}, undefined), 'anonymous');
  t.equal(tenantScope({ authorization: '' }, undefined), 'anonymous');
  t.equal(tenantScope({ 'x-tenant': 'acme' }, undefined), 'anonymous', 'unconfigured tenant header');
});

t.test('the tenant header wins over the credential', async (t) => {
  const acmeWithA = tenantScope({ 'x-tenant': 'acme', authorization: 'Bearer a' }, 'X-Tenant');
  const acmeWithB = tenantScope({ 'x-tenant': 'acme', authorization: 'Bearer b' }, 'X-Tenant');
  const globex = tenantScope({ 'x-tenant': 'globex', authorization: 'Bearer a' }, 'X-Tenant');
  t.match(acmeWithA, /^t-[0-9a-f]{32}$/);
  t.equal(acmeWithA, acmeWithB, 'one tenant, two keys: one scope');
  t.not(acmeWithA, globex);
  t.notOk(acmeWithA.includes('acme'));
  t.equal(
    tenantScope({ authorization: 'Bearer a' }, 'x-tenant'),
    tenantScope({ authorization: 'Bearer a' }, undefined),
    'without the tenant header, the credential decides',
  );
  t.not(
    tenantScope({ 'x-tenant': 'k' }, 'x-tenant'),
    tenantScope({ authorization: 'k' }, undefined),
    'a tenant named like a credential is not that credential',
  );
});

t.test('variant headers: Anthropic version and betas, OpenAI betas', async (t) => {
  t.equal(variantHeaders({ authorization: 'x', 'content-type': 'application/json' }), '');
  const headers: IncomingHttpHeaders = {
    'anthropic-version': '2023-06-01',
    'anthropic-beta': 'output-128k-2025-02-19',
  };
  t.equal(variantHeaders(headers), 'anthropic-version=2023-06-01\nanthropic-beta=output-128k-2025-02-19');
  t.not(variantHeaders(headers), variantHeaders({ 'anthropic-version': '2023-06-01' }));
  t.equal(variantHeaders({ 'openai-beta': 'assistants=v2' }), 'openai-beta=assistants=v2');
});

t.test('condition: every listed field present and equal as JSON', async (t) => {
  t.ok(matchesCondition(chat, {}), 'empty condition matches every request');
  t.ok(matchesCondition(chat, { temperature: 0 }));
  t.ok(matchesCondition(parse('{"temperature":0.0}'), { temperature: 0 }), '0.0 is 0');
  t.ok(matchesCondition(parse('{"temperature":-0}'), { temperature: 0 }), '-0 is 0 in JSON');
  t.notOk(matchesCondition(chat, { temperature: 0.7 }));
  t.notOk(matchesCondition(chat, { temperature: '0' }), 'a string is not a number');
  t.notOk(matchesCondition({ model: 'm' }, { temperature: 0 }), 'a missing field does not match');
  t.notOk(matchesCondition({ temperature: null }, { temperature: 0 }));
  t.ok(matchesCondition({ temperature: null }, { temperature: null }), 'null matches only null');
  t.notOk(matchesCondition(chat, { temperature: 0, model: 'gpt-4o' }), 'all fields must hold');
  t.ok(matchesCondition(chat, { temperature: 0, model: 'gpt-4o-mini' }));
  t.ok(
    matchesCondition(
      { response_format: { type: 'json_object', strict: true } },
      {
        response_format: { strict: true, type: 'json_object' },
      },
    ),
    'objects compare regardless of key order',
  );
  t.notOk(matchesCondition({ stop: ['a', 'b'] }, { stop: ['b', 'a'] }), 'arrays compare in order');
  t.notOk(matchesCondition({}, { toString: 0 }), 'inherited properties are not fields');
});

t.test('condition from a route config type', async (t) => {
  const config: RouteCacheConfig = {
    ttl_seconds: 60,
    ignore_fields: IGNORED,
    when: { temperature: 0 },
    allow_client_bypass: true,
    follower_retry: false,
  };
  t.ok(matchesCondition(chat, config.when));
});

t.test('client directives from every Cache-Control form', async (t) => {
  const cases: readonly (readonly [IncomingHttpHeaders, 'use' | 'bypass' | 'refresh'])[] = [
    [{}, 'use'],
    [{ 'cache-control': '' }, 'use'],
    [{ 'cache-control': 'max-age=0' }, 'use'],
    [{ 'cache-control': 'no-transform' }, 'use'],
    [{ 'cache-control': 'no-store' }, 'bypass'],
    [{ 'cache-control': 'No-Store' }, 'bypass'],
    [{ 'cache-control': '  no-store  ' }, 'bypass'],
    [{ 'cache-control': 'max-age=0,no-store' }, 'bypass'],
    [{ 'cache-control': 'max-age=0 , NO-STORE' }, 'bypass'],
    [{ 'cache-control': 'no-cache' }, 'refresh'],
    [{ 'cache-control': 'NO-CACHE' }, 'refresh'],
    [{ 'cache-control': 'no-cache="set-cookie"' }, 'refresh'],
    [{ 'cache-control': 'no-cache = "x"' }, 'refresh'],
    [{ 'cache-control': 'max-stale, no-cache' }, 'refresh'],
    [{ 'cache-control': 'no-cache, no-store' }, 'bypass'],
    [{ 'cache-control': 'no-store', 'x-sluice-cache': 'refresh' }, 'bypass'],
    [{ 'cache-control': 'no-storex' }, 'use'],
    [{ 'cache-control': 'x-no-cache' }, 'use'],
    [{ 'cache-control': 'private="a, no-store"' }, 'use'],
    [{ 'cache-control': 'private="a, \\"no-store"' }, 'use'],
    [{ 'cache-control': 'private="a", no-store' }, 'bypass'],
    [{ 'cache-control': 'private="unterminated, no-store' }, 'use'],
    [{ 'x-sluice-cache': 'refresh' }, 'refresh'],
    [{ 'x-sluice-cache': ' Refresh ' }, 'refresh'],
    [{ 'x-sluice-cache': ['other', 'refresh'] }, 'refresh'],
    [{ 'x-sluice-cache': 'hit' }, 'use'],
  ];
  for (const [headers, expected] of cases) {
    t.equal(clientDirective(headers, true), expected, JSON.stringify(headers));
  }
});

t.test('allow_client_bypass false: the cache decides alone', async (t) => {
  for (const headers of [
    { 'cache-control': 'no-store' },
    { 'cache-control': 'no-cache' },
    { 'x-sluice-cache': 'refresh' },
  ]) {
    t.equal(clientDirective(headers, false), 'use', JSON.stringify(headers));
  }
});

t.test('cacheable operations: POST generation, embeddings and token counts', async (t) => {
  const body: JsonObject = { model: 'm' };
  for (const operation of ['chat', 'text_completion', 'embeddings'] as const) {
    t.ok(isCacheableOperation('openai', 'POST', operation, body), `openai ${operation}`);
  }
  t.ok(isCacheableOperation('openai', 'POST', 'responses', { ...body, store: false }));
  t.ok(isCacheableOperation('anthropic', 'POST', 'chat', body));
  t.ok(isCacheableOperation('anthropic', 'POST', 'count_tokens', body));
  for (const operation of ['models', 'other'] as const) {
    t.notOk(isCacheableOperation('openai', 'POST', operation, body), `openai ${operation}`);
    t.notOk(isCacheableOperation('anthropic', 'POST', operation, body), `anthropic ${operation}`);
  }
  t.notOk(isCacheableOperation('openai', 'GET', 'chat', body), 'only POST');
  t.notOk(isCacheableOperation('openai', 'PUT', 'chat', body));
  t.notOk(isCacheableOperation('openai', 'POST', 'chat', undefined), 'no JSON object body');
  t.notOk(isCacheableOperation('anthropic', 'POST', 'embeddings', body), 'not an Anthropic operation');
});

t.test('stateful requests are not cached', async (t) => {
  const responses = (extra: JsonObject) => isCacheableOperation('openai', 'POST', 'responses', extra);
  t.notOk(responses({ model: 'm' }), 'Responses store by default');
  t.notOk(responses({ store: true }));
  t.notOk(responses({ store: false, previous_response_id: 'resp_1' }));
  t.ok(responses({ store: false, previous_response_id: null }), 'a null previous response is none');
  t.notOk(responses({ store: false, conversation: 'conv_1' }));
  t.notOk(responses({ store: false, background: true }));
  t.ok(responses({ store: false, background: false }));
  t.notOk(isCacheableOperation('openai', 'POST', 'chat', { store: true }), 'stored chat completion');
  t.ok(isCacheableOperation('openai', 'POST', 'chat', { store: false }));
  t.notOk(isCacheableOperation('anthropic', 'POST', 'chat', { container: 'container_1' }));
});
