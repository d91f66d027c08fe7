/**
 * The official `openai` client pointed at Sluice instead of the backend notices nothing: the same
 * answers (byte for byte on the wire), the same streams, the same error classes.
 */
import { once } from 'node:events';
import OpenAI from 'openai';
import t from 'tap';
import { request } from 'undici';
import { startMockBackend, withoutPerRequestFields } from '../support/mock-backend.ts';
import { singleRoute, startSluice } from '../support/sluice.ts';

const chat = {
  model: 'gpt-4o-mini',
  messages: [{ role: 'user' as const, content: 'Tell me about rivers' }],
};

function client(baseURL: string): OpenAI {
  return new OpenAI({ baseURL: `${baseURL}/v1`, apiKey: 'sk-test', maxRetries: 0 });
}

t.test('openai SDK through Sluice', async (t) => {
  const mock = await startMockBackend(t, { tokens: 24 });
  const { url, logs } = await startSluice(t, singleRoute(mock.url, 'openai'));
  const viaSluice = client(url);
  const direct = client(mock.url);

  t.test('chat completion: same answer, request id and Server-Timing added', async (t) => {
    const { data, response } = await viaSluice.chat.completions.create(chat).withResponse();
    const expected = await direct.chat.completions.create(chat);
    t.same({ ...data, id: 'x', created: 0 }, { ...expected, id: 'x', created: 0 });
    t.match(data.id, /^chatcmpl-mock-\d+$/);
    t.match(response.headers.get('x-request-id'), /^[0-9a-f-]{36}$/);
    t.match(response.headers.get('server-timing'), /^sluice;dur=/);
    t.match(response.headers.get('x-mock-request-id'), /^\d+$/, 'upstream headers pass through');
  });

  t.test('streaming: the same chunks in the same order, usage included when asked', async (t) => {
    const body = { ...chat, stream: true as const, stream_options: { include_usage: true } };
    const collect = async (c: OpenAI) => {
      const chunks: unknown[] = [];
      for await (const chunk of await c.chat.completions.create(body)) chunks.push(chunk);
      return withoutPerRequestFields(JSON.stringify(chunks));
    };
    const [through, straight] = [await collect(viaSluice), await collect(direct)];
    t.equal(through, straight);
    const parsed = JSON.parse(through) as { usage?: { completion_tokens: number } | null }[];
    t.equal(parsed.length, 24 + 3, 'role chunk, one per token, finish chunk, usage chunk');
    t.equal(parsed.at(-1)?.usage?.completion_tokens, 24);
  });

  t.test('the bytes on the wire are the backend bytes (JSON and SSE)', async (t) => {
    for (const stream of [false, true]) {
      const send = async (base: string) => {
        const res = await request(`${base}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ ...chat, stream }),
        });
        return {
          status: res.statusCode,
          type: res.headers['content-type'],
          body: withoutPerRequestFields(await res.body.text()),
        };
      };
      t.same(await send(url), await send(mock.url), stream ? 'SSE' : 'JSON');
    }
  });

  t.test('embeddings and models', async (t) => {
    const embedding = await viaSluice.embeddings.create({
      model: 'text-embedding-3-small',
      input: ['one', 'two'],
      dimensions: 8,
    });
    t.equal(embedding.data.length, 2);
    t.equal(embedding.data[0]?.embedding.length, 8);
    const models = [];
    for await (const model of viaSluice.models.list()) models.push(model.id);
    t.ok(models.includes('gpt-4o-mini'), 'models listed');
    const model = await viaSluice.models.retrieve('gpt-4o-mini');
    t.equal(model.id, 'gpt-4o-mini');
  });

  t.test('backend errors reach the client as the SDK error classes it already handles', async (t) => {
    const cases = [
      { status: 429, type: OpenAI.RateLimitError },
      { status: 500, type: OpenAI.InternalServerError },
      { status: 400, type: OpenAI.BadRequestError },
    ];
    for (const c of cases) {
      const headers = { 'x-mock-status': String(c.status) };
      const through = await viaSluice.chat.completions.create(chat, { headers }).catch((e: unknown) => e);
      const straight = await direct.chat.completions.create(chat, { headers }).catch((e: unknown) => e);
      t.type(through, c.type, `${c.status} is a ${c.type.name}`);
      t.equal((through as InstanceType<typeof OpenAI.APIError>).status, c.status);
      t.equal(
        (through as InstanceType<typeof OpenAI.APIError>).message,
        (straight as InstanceType<typeof OpenAI.APIError>).message,
        'same message as from the backend',
      );
    }
  });

  t.test('a client that goes away mid-stream cancels the upstream call', async (t) => {
    const controller = new AbortController();
    const aborted = once(mock, 'aborted');
    const stream = await viaSluice.chat.completions.create(
      { ...chat, stream: true, max_tokens: 500 },
      { signal: controller.signal, headers: { 'x-mock-tokens': '500', 'x-mock-gap-ms': '20' } },
    );
    let received = 0;
    // The SDK ends the iteration quietly or with APIUserAbortError, depending on where the abort lands.
    try {
      for await (const _chunk of stream) {
        received++;
        if (received === 3) controller.abort();
      }
    } catch (error) {
      t.equal((error as Error).name, 'APIUserAbortError');
    }
    t.equal(received, 3, 'no chunk after the abort');
    const [info] = await aborted;
    t.ok(info.eventsSent < 500, `the mock stopped after ${info.eventsSent} of 500 events`);
    await new Promise((r) => setTimeout(r, 50));
    const line = logs.filter((l) => l['msg'] === 'request').at(-1);
    t.match(line, { status: 499, error: 'client_closed_request' }, 'the access log says the client left', {
      line,
    } as object);
  });

  t.end();
});

t.test('errors Sluice itself returns have the OpenAI shape and a stable code', async (t) => {
  const { url } = await startSluice(t, singleRoute('http://127.0.0.1:1', 'openai'));
  const error = (await client(url)
    .chat.completions.create(chat)
    .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
  t.type(error, OpenAI.APIError);
  t.equal(error.status, 502);
  t.equal(error.code, 'sluice_upstream_connect_failed');
  t.equal(error.type, 'api_error');
  t.match(error.message, /upstream/);
  t.equal(error.headers?.get('x-sluice-error'), 'sluice_upstream_connect_failed');
});
