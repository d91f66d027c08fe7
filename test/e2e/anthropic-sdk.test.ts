/** The official `@anthropic-ai/sdk` client pointed at Sluice: same messages, streams and errors. */
import Anthropic from '@anthropic-ai/sdk';
import t from 'tap';
import { request } from 'undici';
import { startMockBackend, withoutPerRequestFields } from '../support/mock-backend.ts';
import { singleRoute, startSluice } from '../support/sluice.ts';

const message = {
  model: 'claude-3-5-haiku-latest',
  max_tokens: 64,
  system: 'Be brief.',
  messages: [{ role: 'user' as const, content: 'Tell me about valleys' }],
};

function client(baseURL: string): Anthropic {
  return new Anthropic({ baseURL, apiKey: 'sk-ant-test', maxRetries: 0 });
}

t.test('anthropic SDK through Sluice', async (t) => {
  const mock = await startMockBackend(t, { tokens: 20 });
  const { url } = await startSluice(t, singleRoute(mock.url, 'anthropic'));
  const viaSluice = client(url);
  const direct = client(mock.url);

  t.test('messages: same answer', async (t) => {
    const through = await viaSluice.messages.create(message);
    const straight = await direct.messages.create(message);
    t.same({ ...through, id: 'x' }, { ...straight, id: 'x' });
    t.equal(through.usage.output_tokens, 20);
  });

  t.test('streaming: same events in order, the final message assembled by the SDK', async (t) => {
    const collect = async (c: Anthropic) => {
      const events: unknown[] = [];
      const stream = c.messages.stream(message);
      stream.on('streamEvent', (event) => events.push(event));
      const final = await stream.finalMessage();
      return { events: withoutPerRequestFields(JSON.stringify(events)), final: { ...final, id: 'x' } };
    };
    const through = await collect(viaSluice);
    const straight = await collect(direct);
    t.equal(through.events, straight.events);
    t.same(through.final, straight.final);
    const types = (JSON.parse(through.events) as { type: string }[]).map((e) => e.type);
    t.equal(types[0], 'message_start');
    t.equal(types.at(-1), 'message_stop');
  });

  t.test('the SSE bytes on the wire are the backend bytes', async (t) => {
    const send = async (base: string) => {
      const res = await request(`${base}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
        body: JSON.stringify({ ...message, stream: true }),
      });
      return { status: res.statusCode, body: withoutPerRequestFields(await res.body.text()) };
    };
    t.same(await send(url), await send(mock.url));
  });

  t.test('count_tokens', async (t) => {
    const counted = await viaSluice.messages.countTokens({
      model: message.model,
      system: message.system,
      messages: message.messages,
    });
    const created = await viaSluice.messages.create(message);
    t.equal(counted.input_tokens, created.usage.input_tokens);
  });

  t.test('backend errors reach the client as the SDK error classes', async (t) => {
    const cases = [
      { status: 429, type: Anthropic.RateLimitError },
      { status: 529, type: Anthropic.InternalServerError },
      { status: 401, type: Anthropic.AuthenticationError },
    ];
    for (const c of cases) {
      const headers = { 'x-mock-status': String(c.status) };
      const error = await viaSluice.messages.create(message, { headers }).catch((e: unknown) => e);
      t.type(error, c.type, `${c.status} is a ${c.type.name}`);
      t.equal((error as InstanceType<typeof Anthropic.APIError>).status, c.status);
    }
  });

  t.end();
});

t.test('errors Sluice itself returns have the Anthropic shape', async (t) => {
  const { url } = await startSluice(t, singleRoute('http://127.0.0.1:1', 'anthropic'));
  const error = (await client(url)
    .messages.create(message)
    .catch((e: unknown) => e)) as InstanceType<typeof Anthropic.APIError>;
  t.type(error, Anthropic.APIError);
  t.equal(error.status, 502);
  t.match(error.error, { type: 'error', error: { type: 'api_error', message: /upstream/ } });
  t.equal(error.headers?.get('x-sluice-error'), 'sluice_upstream_connect_failed');
});
