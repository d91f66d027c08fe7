import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { resolveMockLlmOptions } from '../../src/mock-llm/options.ts';
import { startMockLlm } from '../../src/mock-llm/server.ts';
import type { MockRequestInfo } from '../../src/mock-llm/types.ts';

const mock = await startMockLlm();
t.teardown(() => mock.close());
const chat = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] };

function post(path: string, body: string, headers: Record<string, string> = {}, signal?: AbortSignal) {
  return fetch(`${mock.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
    ...(signal ? { signal } : {}),
  });
}

t.test('listens on a free loopback port', async (t) => {
  t.match(mock.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  t.equal(mock.url, `http://127.0.0.1:${mock.port}`);
});

t.test('request and complete events carry the body and what was sent', async (t) => {
  const body = JSON.stringify(chat);
  const requested = once(mock, 'request') as Promise<[MockRequestInfo]>;
  const completed = once(mock, 'complete') as Promise<[MockRequestInfo]>;
  const response = await post('/v1/chat/completions', body, { 'x-custom': 'yes' });
  const text = await response.text();
  const [request] = await requested;
  t.equal(request.body.toString(), body);
  t.equal(request.method, 'POST');
  t.equal(request.path, '/v1/chat/completions');
  t.equal(request.headers['x-custom'], 'yes');
  t.equal(response.headers.get('x-mock-request-id'), String(request.id));
  const [complete] = await completed;
  t.equal(complete, request, 'one info object per request');
  t.equal(complete.status, 200);
  t.equal(complete.outcome, 'completed');
  t.equal(complete.bytesSent, Buffer.byteLength(text));
});

t.test('a client abort mid-stream stops generation, emits aborted and is counted', async (t) => {
  const path = '/v1/chat/completions';
  const before = { ...mock.stats, path: { ...mock.stats.byPath[path] } };
  const aborted = once(mock, 'aborted') as Promise<[MockRequestInfo]>;
  const controller = new AbortController();
  const response = await post(
    path,
    JSON.stringify({ ...chat, stream: true }),
    { 'x-mock-gap-ms': '30', 'x-mock-tokens': '1000' },
    controller.signal,
  );
  const reader = response.body!.getReader();
  await reader.read();
  controller.abort();
  const [info] = await aborted;
  t.equal(info.outcome, 'aborted');
  t.ok(info.eventsSent >= 1 && info.eventsSent < 1000, `stopped early (${info.eventsSent} events)`);
  t.equal(mock.stats.aborted, before.aborted + 1);
  t.equal(mock.stats.byPath[path]?.aborted, (before.path.aborted ?? 0) + 1);
  t.equal(mock.stats.completed, before.completed, 'not counted as completed');
  const eventsAtAbort = info.eventsSent;
  await sleep(150);
  t.equal(info.eventsSent, eventsAtAbort, 'nothing more is written after the client left');
});

t.test('invalid JSON is a 400 in the protocol shape', async (t) => {
  const openai = await post('/v1/chat/completions', '{"model": ');
  t.equal(openai.status, 400);
  t.match(await openai.json(), { error: { type: 'invalid_request_error', message: /not valid JSON/ } });
  const anthropic = await post('/v1/messages', 'not json');
  t.equal(anthropic.status, 400);
  t.match(await anthropic.json(), { type: 'error', error: { type: 'invalid_request_error' } });
});

t.test('unknown paths are 404, known paths with the wrong method 405', async (t) => {
  const missing = await fetch(`${mock.url}/v2/chat`);
  t.equal(missing.status, 404);
  t.match(await missing.json(), { error: { message: /Unknown path/ } });
  const anthropicMissing = await post('/v1/messages/batches', '{}');
  t.equal(anthropicMissing.status, 404);
  t.match(await anthropicMissing.json(), { type: 'error', error: { type: 'not_found_error' } });
  const wrongMethod = await fetch(`${mock.url}/v1/chat/completions`);
  t.equal(wrongMethod.status, 405);
  t.equal(wrongMethod.headers.get('allow'), 'POST');
  await wrongMethod.text();
});

t.test('bodies above maxBodyBytes are 413, declared or streamed', async (t) => {
  const small = await startMockLlm({ maxBodyBytes: 1024 });
  t.teardown(() => small.close());
  const big = JSON.stringify({ ...chat, padding: 'x'.repeat(4096) });
  const declared = await fetch(`${small.url}/v1/chat/completions`, { method: 'POST', body: big });
  t.equal(declared.status, 413);
  t.match(await declared.json(), { error: { message: /1024 bytes/ } });

  const chunked = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode(big));
      controller.close();
    },
  });
  const streamed = await fetch(`${small.url}/v1/chat/completions`, {
    method: 'POST',
    body: chunked,
    duplex: 'half',
  } as RequestInit);
  t.equal(streamed.status, 413);
  await streamed.text();
});

t.test('close() ends streams in progress and resolves', async (t) => {
  const closing = await startMockLlm({ gapMs: 50, tokens: 1000 });
  const response = await fetch(`${closing.url}/v1/chat/completions`, {
    method: 'POST',
    body: JSON.stringify({ ...chat, stream: true }),
  });
  const reader = response.body!.getReader();
  await reader.read();
  await closing.close();
  await t.rejects(async () => {
    for (;;) if ((await reader.read()).done) break;
  });
  await closing.close();
  t.pass('close is idempotent');
});

t.test('options are validated eagerly with the option name', async (t) => {
  t.throws(() => resolveMockLlmOptions({ errorRate: 2 }), /errorRate/);
  t.throws(() => resolveMockLlmOptions({ errorStatuses: [200] }), /errorStatuses/);
  t.throws(() => resolveMockLlmOptions({ port: 70000 }), /port/);
  await t.rejects(startMockLlm({ tokens: -1 }), /tokens/);
  t.equal(resolveMockLlmOptions({ tokens: undefined }).tokens, 16, 'undefined takes the default');
});
