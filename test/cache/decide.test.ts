import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import t from 'tap';
import { type CacheDecision, DecisionMemo } from '../../src/cache/decide.ts';
import type { RouteCacheConfig } from '../../src/config/types.generated.ts';
import { parseJsonObject } from '../../src/llm/json.ts';
import type { ProxyContext } from '../../src/pipeline/context.ts';

const settings: RouteCacheConfig = {
  ttl_seconds: 60,
  ignore_fields: ['user'],
  when: { temperature: 0 },
  follower_retry: false,
  allow_client_bypass: true,
};

/** The parts of a request context a decision reads. */
function request(body: object | string, headers: IncomingHttpHeaders = {}): ProxyContext {
  const requestBody = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  const req = { method: 'POST', headers: { authorization: 'Bearer a', ...headers } } as IncomingMessage;
  return {
    req,
    path: '/v1/chat/completions',
    search: '',
    route: {
      name: 'openai',
      protocol: 'openai',
      upstreamName: 'up',
      websocket: false,
      stripPrefix: undefined,
    },
    requestBody,
    requestBodyBytes: requestBody.length,
    requestJson: () => parseJsonObject(requestBody),
  } as unknown as ProxyContext;
}

function keyOf(decision: CacheDecision): string {
  if (decision.kind !== 'cache') throw new Error(`expected a cache decision, got ${decision.kind}`);
  return decision.key;
}

const chat = { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], temperature: 0 };
/** Over the size where the memo keys a request by its SHA-256 instead of its bytes. */
const longChat = { ...chat, messages: [{ role: 'user', content: 'x'.repeat(4096) }] };

for (const [size, body] of [
  ['small', chat],
  ['large', longChat],
] as const) {
  t.test(`${size} requests: identical ones share a decision, any difference gets its own`, async (t) => {
    const memo = new DecisionMemo();
    const first = memo.decide(request(body), settings, false);
    t.equal(memo.decide(request(body), settings, false), first, 'the same bytes: the memoized decision');
    const reordered = JSON.stringify(body)
      .replace('{"model":"gpt-4o",', '{')
      .replace(/}$/, ',"model":"gpt-4o"}');
    t.equal(keyOf(memo.decide(request(reordered), settings, false)), keyOf(first), 'key order: same key');
    t.not(
      keyOf(memo.decide(request({ ...body, model: 'gpt-4o-mini' }), settings, false)),
      keyOf(first),
      'another model: another key',
    );
    t.not(
      keyOf(memo.decide(request(body, { authorization: 'Bearer b' }), settings, false)),
      keyOf(first),
      'another credential: another tenant',
    );
    t.equal(memo.decide(request({ ...body, temperature: 1 }), settings, false).kind, 'bypass');
    t.equal(memo.decide(request(body, { 'cache-control': 'no-store' }), settings, false).kind, 'bypass');
    t.equal(memo.decide(request(body), settings, false), first, 'still memoized after the others');
  });
}

t.test('a value cannot move between two headers and keep the fingerprint', async (t) => {
  const memo = new DecisionMemo();
  const one = memo.decide(request(chat, { authorization: 'Bearer ab', 'x-api-key': '' }), settings, false);
  const other = memo.decide(request(chat, { authorization: 'Bearer a', 'x-api-key': 'b' }), settings, false);
  t.not(keyOf(one), keyOf(other));
});
