import { once } from 'node:events';
import { connect } from 'node:net';
import Anthropic, { type APIError as AnthropicApiError } from '@anthropic-ai/sdk';
import OpenAI, { type APIError as OpenAIApiError } from 'openai';
import t from 'tap';
import { startMockLlm } from '../../src/mock-llm/server.ts';
import type { MockRequestInfo } from '../../src/mock-llm/types.ts';

const mock = await startMockLlm();
t.teardown(() => mock.close());
const openai = new OpenAI({ baseURL: `${mock.url}/v1`, apiKey: 'test', maxRetries: 0 });
const anthropic = new Anthropic({ baseURL: mock.url, apiKey: 'test', maxRetries: 0 });
const chat = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'hi' }] };
const message = { model: 'claude-3-5-haiku-latest', max_tokens: 100, messages: chat.messages };

function post(path: string, body: unknown, headers: Record<string, string> = {}, url = mock.url) {
  return fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

t.test('x-mock-status 503: OpenAI error shape, SDK raises InternalServerError', async (t) => {
  const error = await openai.chat.completions
    .create(chat, { headers: { 'x-mock-status': '503' } })
    .catch((e: unknown) => e);
  t.type(error, OpenAI.InternalServerError);
  t.equal((error as OpenAIApiError).status, 503);
  t.match((error as OpenAIApiError).error, {
    message: /503/,
    type: 'server_error',
    param: null,
    code: null,
  });
});

t.test('x-mock-status 429: retry-after, in both protocols', async (t) => {
  const openAiError = await openai.chat.completions
    .create(chat, { headers: { 'x-mock-status': '429' } })
    .catch((e: unknown) => e);
  t.type(openAiError, OpenAI.RateLimitError);
  t.equal((openAiError as OpenAIApiError).headers?.get('retry-after'), '1');
  t.match((openAiError as OpenAIApiError).error, { type: 'requests', code: 'rate_limit_exceeded' });

  const anthropicError = await anthropic.messages
    .create(message, { headers: { 'x-mock-status': '429' } })
    .catch((e: unknown) => e);
  t.type(anthropicError, Anthropic.RateLimitError);
  t.equal((anthropicError as AnthropicApiError).headers?.get('retry-after'), '1');
  t.match((anthropicError as AnthropicApiError).error, {
    type: 'error',
    error: { type: 'rate_limit_error' },
  });
});

t.test('x-mock-reset-after N cuts an SSE stream after N events; the client sees an error', async (t) => {
  const resetSeen = once(mock, 'reset') as Promise<[MockRequestInfo]>;
  const resetsBefore = mock.stats.reset;
  const stream = await openai.chat.completions.create(
    { ...chat, stream: true },
    { headers: { 'x-mock-reset-after': '3' } },
  );
  let received = 0;
  await t.rejects(async () => {
    for await (const _chunk of stream) received++;
  });
  t.equal(received, 3, 'exactly the events written before the cut arrive');
  const [info] = await resetSeen;
  t.equal(info.eventsSent, 3);
  t.equal(info.outcome, 'reset');
  t.equal(mock.stats.reset, resetsBefore + 1);
});

t.test('x-mock-reset-after N cuts a JSON body after N bytes', async (t) => {
  const response = await post('/v1/chat/completions', chat, { 'x-mock-reset-after': '10' });
  t.equal(response.status, 200);
  t.ok(Number(response.headers.get('content-length')) > 10);
  await t.rejects(response.text());
});

t.test('x-mock-reset-after before-headers closes the connection without a response', async (t) => {
  await t.rejects(post('/v1/chat/completions', chat, { 'x-mock-reset-after': 'before-headers' }));
  await t.rejects(
    anthropic.messages.create(message, { headers: { 'x-mock-reset-after': 'before-headers' } }),
    {
      name: 'APIConnectionError',
    },
  );
});

t.test('x-mock-latency-ms delays the response head', async (t) => {
  const started = performance.now();
  const response = await post('/v1/chat/completions', chat, { 'x-mock-latency-ms': '300' });
  t.ok(performance.now() - started >= 280, 'at least the planned latency');
  t.equal(response.status, 200);
  await response.text();
});

t.test('x-mock-slow-headers-ms: the status line comes at once, the rest of the head later', async (t) => {
  const socket = connect(mock.port, '127.0.0.1');
  t.teardown(() => socket.destroy());
  await once(socket, 'connect');
  const started = performance.now();
  socket.write(
    'GET /v1/models HTTP/1.1\r\nhost: mock\r\nx-mock-slow-headers-ms: 400\r\nconnection: close\r\n\r\n',
  );
  const [first] = (await once(socket, 'data')) as [Buffer];
  t.equal(first.toString('latin1'), 'HTTP/1.1 200 OK\r\n', 'first bytes are the status line only');
  let rest = '';
  while (!rest.includes('\r\n\r\n')) rest += ((await once(socket, 'data')) as [Buffer])[0].toString('latin1');
  t.ok(performance.now() - started >= 380, 'the head completes after the delay');
  t.match(rest, /content-type: application\/json/);
});

t.test('x-mock-gap-ms spaces SSE events', async (t) => {
  const gapMs = 60;
  const response = await post(
    '/v1/chat/completions',
    { ...chat, stream: true },
    {
      'x-mock-gap-ms': String(gapMs),
      'x-mock-tokens': '5',
    },
  );
  const arrivals: number[] = [];
  const decoder = new TextDecoder();
  for await (const bytes of response.body!) {
    const events = decoder.decode(bytes as Uint8Array, { stream: true }).split('\n\n').length - 1;
    for (let i = 0; i < events; i++) arrivals.push(performance.now());
  }
  t.equal(arrivals.length, 5 + 2 + 1, 'role + 5 tokens + finish + [DONE]');
  const span = arrivals.at(-1)! - arrivals[0]!;
  t.ok(
    span >= (arrivals.length - 1) * gapMs * 0.9,
    `events spread over ≥ ${arrivals.length - 1} gaps (${span} ms)`,
  );
  const gaps = arrivals.slice(1).map((at, i) => at - arrivals[i]!);
  const median = gaps.sort((a, b) => a - b)[Math.floor(gaps.length / 2)]!;
  t.ok(median >= gapMs * 0.8, `median gap ${median} ms`);
});

t.test('a malformed x-mock header is a 400 naming it', async (t) => {
  const response = await post('/v1/chat/completions', chat, { 'x-mock-tokens': 'lots' });
  t.equal(response.status, 400);
  t.match(await response.json(), { error: { message: /x-mock-tokens/ } });
  const status = await post('/v1/chat/completions', chat, { 'x-mock-status': '302' });
  t.equal(status.status, 400);
  await status.text();
});

t.test('errorRate with a seed fails the same requests on every run', async (t) => {
  async function statuses() {
    const seeded = await startMockLlm({ errorRate: 0.5, errorStatuses: [500, 503], seed: 42 });
    const seen: number[] = [];
    for (let i = 0; i < 20; i++) {
      const response = await post('/v1/chat/completions', chat, {}, seeded.url);
      seen.push(response.status);
      await response.text();
    }
    await seeded.close();
    return seen;
  }
  const first = await statuses();
  t.same(await statuses(), first);
  t.ok(first.includes(200) && first.some((status) => status !== 200), `a mix of answers: ${first.join(',')}`);
  t.ok(
    first.every((status) => [200, 500, 503].includes(status)),
    'errors come from errorStatuses',
  );
});

t.test('x-mock-status: 200 exempts one request from errorRate', async (t) => {
  const failing = await startMockLlm({ errorRate: 1, errorStatuses: [500] });
  t.teardown(() => failing.close());
  const failed = await post('/v1/chat/completions', chat, {}, failing.url);
  t.equal(failed.status, 500);
  await failed.text();
  const exempt = await post('/v1/chat/completions', chat, { 'x-mock-status': '200' }, failing.url);
  t.equal(exempt.status, 200);
  await exempt.text();
});

t.test('resetRate 1 cuts every response somewhere', async (t) => {
  const resetting = await startMockLlm({ resetRate: 1, seed: 7 });
  t.teardown(() => resetting.close());
  const client = new OpenAI({ baseURL: `${resetting.url}/v1`, apiKey: 'test', maxRetries: 0 });
  for (let i = 0; i < 3; i++) {
    await t.rejects(async () => {
      const stream = await client.chat.completions.create({ ...chat, stream: true });
      for await (const _chunk of stream);
    });
  }
  t.equal(resetting.stats.reset, 3);
  t.equal(resetting.stats.completed, 0);
});
