import Anthropic, { type APIError as AnthropicApiError } from '@anthropic-ai/sdk';
import t from 'tap';
import { startMockLlm } from '../../src/mock-llm/server.ts';

const mock = await startMockLlm({ models: 30 });
t.teardown(() => mock.close());
const client = new Anthropic({ baseURL: mock.url, apiKey: 'test', maxRetries: 0 });

const params = {
  model: 'claude-3-5-haiku-latest',
  max_tokens: 1024,
  // 12 + 27 = 39 characters of text → ceil(39 / 4) = 10 input tokens.
  system: 'Be concise.!',
  messages: [
    { role: 'user' as const, content: [{ type: 'text' as const, text: 'Write a haiku about rivers.' }] },
  ],
};
const inputTokens = 10;

t.test('messages JSON: one text block, echoed model, usage', async (t) => {
  const message = await client.messages.create(params);
  t.equal(message.type, 'message');
  t.equal(message.role, 'assistant');
  t.equal(message.model, 'claude-3-5-haiku-latest');
  t.equal(message.stop_reason, 'end_turn');
  t.equal(message.content.length, 1);
  const block = message.content[0]!;
  t.equal(block.type, 'text');
  t.equal(block.type === 'text' && block.text.split(' ').length, 16);
  t.match(message.usage, { input_tokens: inputTokens, output_tokens: 16 });
});

t.test('max_tokens below the planned length: stop_reason max_tokens', async (t) => {
  const message = await client.messages.create({ ...params, max_tokens: 3 });
  t.equal(message.stop_reason, 'max_tokens');
  t.equal(message.usage.output_tokens, 3);
});

t.test('streaming: the exact event sequence, and the SDK final message carries usage', async (t) => {
  const stream = client.messages.stream(params);
  const types: string[] = [];
  stream.on('streamEvent', (event) => types.push(event.type));
  const final = await stream.finalMessage();
  t.same(types, [
    'message_start',
    'content_block_start',
    ...Array.from({ length: 16 }, () => 'content_block_delta'),
    'content_block_stop',
    'message_delta',
    'message_stop',
  ]);
  t.equal(final.stop_reason, 'end_turn');
  t.match(final.usage, { input_tokens: inputTokens, output_tokens: 16 });
  const block = final.content[0]!;
  t.equal(block.type === 'text' && block.text.split(' ').length, 16);
});

t.test('the ping event is on the wire (the SDK hides it)', async (t) => {
  const response = await fetch(`${mock.url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...params, stream: true }),
  });
  t.equal(response.headers.get('content-type'), 'text/event-stream; charset=utf-8');
  t.equal(response.headers.get('cache-control'), 'no-cache');
  const events = [...(await response.text()).matchAll(/^event: (\w+)$/gm)].map((match) => match[1]);
  t.same(events.slice(0, 4), ['message_start', 'content_block_start', 'ping', 'content_block_delta']);
});

t.test('streamed and JSON text are deterministic per body', async (t) => {
  const first = await client.messages.create(params);
  const second = await client.messages.create(params);
  const other = await client.messages.create({ ...params, system: 'Be verbose.' });
  t.same(first.content, second.content);
  t.notSame(first.content, other.content);
  t.not(first.id, second.id);
});

t.test('count_tokens uses the same heuristic', async (t) => {
  const count = await client.messages.countTokens({
    model: params.model,
    system: params.system,
    messages: params.messages,
  });
  t.same(count, { input_tokens: inputTokens });
});

t.test('models: Anthropic pagination over the configured model count', async (t) => {
  const ids: string[] = [];
  for await (const model of client.models.list({ limit: 7 })) ids.push(model.id);
  t.equal(ids.length, 30);
  t.equal(new Set(ids).size, 30);
  t.equal(ids[1], 'claude-3-5-haiku-latest');
  const page = await client.models.list({ limit: 7 });
  t.equal(page.data.length, 7);
  t.equal(page.has_more, true);
  const model = await client.models.retrieve('claude-3-5-haiku-latest');
  t.equal(model.type, 'model');
});

t.test('errors are in Anthropic shape', async (t) => {
  const error = await client.messages
    .create({
      model: 'claude-3-5-haiku-latest',
      messages: params.messages,
    } as Anthropic.MessageCreateParamsNonStreaming)
    .catch((e: unknown) => e);
  t.type(error, Anthropic.BadRequestError);
  t.match((error as AnthropicApiError).error, {
    type: 'error',
    error: { type: 'invalid_request_error', message: /max_tokens/ },
  });
});
