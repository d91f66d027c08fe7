import type { OutgoingHttpHeaders } from 'node:http';
import t from 'tap';
import { storableHeaders } from '../../src/cache/stored-headers.ts';

t.test('keeps what describes the answer, drops what describes the exchange', async (t) => {
  const stored = storableHeaders({
    'content-type': 'application/json',
    'content-encoding': 'gzip',
    'openai-model': 'gpt-4o-mini-2024-07-18',
    'openai-version': '2020-10-01',
    etag: '"abc"',
    // The quota at the time, the ids, the timings, the account, the connection: none replayed.
    'x-ratelimit-remaining-requests': '9999',
    'x-ratelimit-reset-tokens': '6ms',
    'anthropic-ratelimit-tokens-remaining': '80000',
    'anthropic-organization-id': 'org-1',
    'openai-organization': 'acme',
    'openai-project': 'proj_1',
    'openai-processing-ms': '312',
    'x-request-id': 'req_1',
    'request-id': 'req_2',
    'openai-request-id': 'req_3',
    'set-cookie': ['__cf_bm=1; path=/', 'other=2'],
    connection: 'keep-alive',
    'keep-alive': 'timeout=5',
    'transfer-encoding': 'chunked',
    te: 'trailers',
    trailer: 'x-checksum',
    upgrade: 'h2c',
    'proxy-authenticate': 'Basic',
    'proxy-connection': 'keep-alive',
    date: 'Tue, 01 Jul 2025 00:00:00 GMT',
    age: '5',
    'content-length': '123',
    'server-timing': 'upstream;dur=300',
    'x-sluice-cache': 'MISS',
    'cf-ray': '8f-AMS',
  });
  t.same(stored, {
    'content-type': 'application/json',
    'content-encoding': 'gzip',
    'openai-model': 'gpt-4o-mini-2024-07-18',
    'openai-version': '2020-10-01',
    etag: '"abc"',
  });
});

t.test('names are lower-cased; repeated values joined in order; numbers become text', async (t) => {
  // What a stage sets on its outgoing response: any case, arrays, numbers.
  const outgoing = (headers: OutgoingHttpHeaders) => storableHeaders(headers);
  t.same(outgoing({ 'Content-Type': 'text/event-stream', Vary: ['origin', 'accept-encoding'] }), {
    'content-type': 'text/event-stream',
    vary: 'origin, accept-encoding',
  });
  t.same(outgoing({ Vary: 'origin', vary: 'accept' }), { vary: 'origin, accept' });
  t.same(outgoing({ 'openai-version': 20201001 }), { 'openai-version': '20201001' });
});

t.test('absent and empty values are left out', async (t) => {
  const none: OutgoingHttpHeaders = { 'content-type': undefined, Vary: [] };
  t.same(storableHeaders(none), {});
});

t.test('a header the Connection header nominates as hop-by-hop is dropped even if allowed', async (t) => {
  t.same(storableHeaders({ connection: 'close, Content-Language', 'content-language': 'en', etag: 'x' }), {
    etag: 'x',
  });
});

t.test('prototype-ish names cannot slip through', async (t) => {
  const stored = storableHeaders(JSON.parse('{"__proto__":"x","constructor":"y","content-type":"a/b"}'));
  t.same(Object.keys(stored), ['content-type']);
});
