import { once } from 'node:events';
import OpenAI from 'openai';
import t from 'tap';
import { startMockLlm } from '../../src/mock-llm/server.ts';
import type { MockRequestInfo } from '../../src/mock-llm/types.ts';

const mock = await startMockLlm();
t.teardown(() => mock.close());
const client = new OpenAI({ baseURL: `${mock.url}/v1`, apiKey: 'test', maxRetries: 0 });

const input = 'Write a haiku about rivers.';
const instructions = 'Be brief.';
// 27 + 9 characters of input and instructions → ceil(36 / 4) = 9 input tokens by the heuristic.
const inputTokens = 9;

interface WireEvent {
  readonly event: string;
  readonly data: Record<string, unknown>;
}

function post(body: object, headers: Record<string, string> = {}) {
  return fetch(`${mock.url}/v1/responses`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

/** The raw SSE events, keeping the `event:` line apart from the `data:` JSON to compare them. */
async function postStream(body: object, headers: Record<string, string> = {}) {
  const response = await post({ ...body, stream: true }, headers);
  const raw = await response.text();
  const events: WireEvent[] = raw
    .split('\n\n')
    .filter((block) => block !== '')
    .map((block) => {
      const lines = block.split('\n');
      const event = lines.find((line) => line.startsWith('event: '))?.slice('event: '.length) ?? '';
      const data = lines.find((line) => line.startsWith('data: '))?.slice('data: '.length) ?? 'null';
      return { event, data: JSON.parse(data) as Record<string, unknown> };
    });
  return { response, raw, events };
}

const framing = (deltas: number, end: string) => [
  'response.created',
  'response.in_progress',
  'response.output_item.added',
  'response.content_part.added',
  ...Array.from({ length: deltas }, () => 'response.output_text.delta'),
  'response.output_text.done',
  'response.content_part.done',
  'response.output_item.done',
  end,
];

t.test('JSON: the real response shape, 16 words, usage with zeroed details', async (t) => {
  const response = await post({ model: 'gpt-4o-mini', input, instructions });
  t.equal(response.status, 200);
  const body = (await response.json()) as OpenAI.Responses.Response;
  t.match(body, {
    id: /^resp_mock_\d+$/,
    object: 'response',
    status: 'completed',
    incomplete_details: null,
    error: null,
    instructions,
    model: 'gpt-4o-mini',
  });
  t.type(body.created_at, 'number');
  t.equal(body.output.length, 1);
  const item = body.output[0] as OpenAI.Responses.ResponseOutputMessage;
  t.match(item, { type: 'message', id: /^msg_mock_\d+$/, status: 'completed', role: 'assistant' });
  t.equal(item.content.length, 1);
  const part = item.content[0] as OpenAI.Responses.ResponseOutputText;
  t.equal(part.type, 'output_text');
  t.same(part.annotations, []);
  t.equal(part.text.split(' ').length, 16, 'default tokens = 16 words');
  t.same(body.usage, {
    input_tokens: inputTokens,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: 16,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: inputTokens + 16,
  });
});

t.test('JSON: cached tokens capped at the input, reasoning tokens added to the output', async (t) => {
  const headers = { 'x-mock-tokens': '4', 'x-mock-cached-tokens': '100', 'x-mock-reasoning-tokens': '5' };
  const body = (await (
    await post({ model: 'o4-mini', input, instructions }, headers)
  ).json()) as OpenAI.Responses.Response;
  t.same(body.usage, {
    input_tokens: inputTokens,
    input_tokens_details: { cached_tokens: inputTokens },
    output_tokens: 4 + 5,
    output_tokens_details: { reasoning_tokens: 5 },
    total_tokens: inputTokens + 9,
  });
  const cached = (await (
    await post({ model: 'o4-mini', input }, { 'x-mock-cached-tokens': '3' })
  ).json()) as OpenAI.Responses.Response;
  t.equal(cached.usage?.input_tokens_details.cached_tokens, 3);
});

t.test('JSON: max_output_tokens below the planned length makes the response incomplete', async (t) => {
  const body = (await (
    await post({ model: 'gpt-4o-mini', input, max_output_tokens: 5 })
  ).json()) as OpenAI.Responses.Response;
  t.equal(body.status, 'incomplete');
  t.same(body.incomplete_details, { reason: 'max_output_tokens' });
  t.equal(body.max_output_tokens, 5);
  t.equal(body.usage?.output_tokens, 5);
  const item = body.output[0] as OpenAI.Responses.ResponseOutputMessage;
  t.equal(item.status, 'incomplete');
  t.equal((item.content[0] as OpenAI.Responses.ResponseOutputText).text.split(' ').length, 5);
});

t.test('input items: string content and text parts count, instructions too', async (t) => {
  const items = [
    { role: 'user', content: [{ type: 'input_text', text: 'abcdefgh' }] },
    { type: 'message', role: 'user', content: 'abcd' },
  ];
  const body = (await (
    await post({ model: 'gpt-4o-mini', input: items, instructions: 'abcd' })
  ).json()) as OpenAI.Responses.Response;
  t.equal(body.usage?.input_tokens, 4, 'ceil(16 / 4)');
});

t.test('missing model or input: 400 in OpenAI shape', async (t) => {
  const noInput = await post({ model: 'gpt-4o-mini' });
  t.equal(noInput.status, 400);
  t.match(await noInput.json(), { error: { message: /input/, type: 'invalid_request_error' } });
  const noModel = await post({ input });
  t.equal(noModel.status, 400);
  t.match(await noModel.json(), { error: { message: /model/ } });
});

t.test('SSE: the real event sequence, event lines, sequence numbers, usage at the end', async (t) => {
  const headers = { 'x-mock-cached-tokens': '2', 'x-mock-reasoning-tokens': '3' };
  const { response, raw, events } = await postStream({ model: 'gpt-4o-mini', input, instructions }, headers);
  t.match(response.headers.get('content-type'), /^text\/event-stream/);
  t.notMatch(raw, /\[DONE\]/, 'no [DONE] in the Responses API');
  t.same(
    events.map((event) => event.event),
    framing(16, 'response.completed'),
  );
  events.forEach((event, index) => {
    t.equal(event.data['type'], event.event, 'data.type matches the event line');
    t.equal(event.data['sequence_number'], index);
  });

  const created = events[0]!.data['response'] as OpenAI.Responses.Response;
  t.match(created, { object: 'response', status: 'in_progress', output: [], usage: null });
  const deltas = events.filter((event) => event.event === 'response.output_text.delta');
  const text = deltas.map((event) => event.data['delta']).join('');
  t.equal(text.split(' ').length, 16);
  for (const delta of deltas)
    t.match(delta.data, { item_id: /^msg_mock_/, output_index: 0, content_index: 0 });
  t.equal(events.at(-4)?.data['text'], text, 'output_text.done has the whole text');

  const done = events.at(-2)!.data['item'] as OpenAI.Responses.ResponseOutputMessage;
  t.equal(done.status, 'completed');
  const completed = events.at(-1)!.data['response'] as OpenAI.Responses.Response;
  t.equal(completed.id, created.id, 'one response id for the whole stream');
  t.equal(completed.status, 'completed');
  t.equal((completed.output[0] as OpenAI.Responses.ResponseOutputMessage).id, done.id);
  t.same(completed.usage, {
    input_tokens: inputTokens,
    input_tokens_details: { cached_tokens: 2 },
    output_tokens: 16 + 3,
    output_tokens_details: { reasoning_tokens: 3 },
    total_tokens: inputTokens + 19,
  });
});

t.test('SSE: max_output_tokens ends with response.incomplete', async (t) => {
  const { events } = await postStream({ model: 'gpt-4o-mini', input, max_output_tokens: 3 });
  t.same(
    events.map((event) => event.event),
    framing(3, 'response.incomplete'),
  );
  const last = events.at(-1)!.data['response'] as OpenAI.Responses.Response;
  t.equal(last.status, 'incomplete');
  t.same(last.incomplete_details, { reason: 'max_output_tokens' });
  t.equal(last.usage?.output_tokens, 3);
});

t.test(
  'faults: x-mock-reset-after cuts the stream after N events, x-mock-status answers an error',
  async (t) => {
    const resetSeen = once(mock, 'reset') as Promise<[MockRequestInfo]>;
    const stream = await client.responses.create(
      { model: 'gpt-4o-mini', input, stream: true },
      { headers: { 'x-mock-reset-after': '3' } },
    );
    const received: string[] = [];
    await t.rejects(async () => {
      for await (const event of stream) received.push(event.type);
    });
    t.same(received, framing(16, '').slice(0, 3), 'exactly the events written before the cut arrive');
    const [info] = await resetSeen;
    t.equal(info.eventsSent, 3);

    const failed = await post({ model: 'gpt-4o-mini', input, stream: true }, { 'x-mock-status': '503' });
    t.equal(failed.status, 503);
    t.match(await failed.json(), { error: { type: 'server_error' } });
  },
);

t.test('text is seeded by the body, not by stream_options', async (t) => {
  const text = async (body: object) => {
    const { events } = await postStream(body);
    return events.filter((e) => e.event === 'response.output_text.delta').map((e) => e.data['delta']);
  };
  const plain = await text({ model: 'gpt-4o-mini', input });
  t.same(await text({ model: 'gpt-4o-mini', input }), plain, 'identical bodies → identical text');
  t.same(await text({ model: 'gpt-4o-mini', input, stream_options: { include_obfuscation: false } }), plain);
  t.notSame(await text({ model: 'gpt-4o-mini', input: 'Something else.' }), plain);
});

t.test('SDK: responses.create returns output_text and usage', async (t) => {
  const response = await client.responses.create({ model: 'gpt-4o-mini', input, instructions });
  t.equal(response.output_text.split(' ').length, 16);
  t.equal(response.status, 'completed');
  t.equal(response.usage?.input_tokens, inputTokens);
  t.equal(response.usage?.output_tokens, 16);
});

t.test('SDK: streamed create yields the typed events in order', async (t) => {
  const stream = await client.responses.create({ model: 'gpt-4o-mini', input, stream: true });
  const types: string[] = [];
  let text = '';
  let final: OpenAI.Responses.Response | undefined;
  for await (const event of stream) {
    types.push(event.type);
    if (event.type === 'response.output_text.delta') text += event.delta;
    if (event.type === 'response.completed') final = event.response;
  }
  t.same(types, framing(16, 'response.completed'));
  t.equal(text.split(' ').length, 16);
  t.equal(final?.usage?.total_tokens, 7 + 16);
});

t.test('SDK: responses.stream accumulates deltas and finalResponse has the usage', async (t) => {
  const stream = client.responses.stream(
    { model: 'gpt-4o-mini', input: [{ role: 'user', content: input }] },
    { headers: { 'x-mock-cached-tokens': '4', 'x-mock-reasoning-tokens': '2' } },
  );
  let deltas = '';
  stream.on('response.output_text.delta', (event) => {
    deltas += event.delta;
  });
  const final = await stream.finalResponse();
  t.equal(final.output_text, deltas);
  t.equal(final.output_text.split(' ').length, 16);
  t.same(final.usage, {
    input_tokens: 7,
    input_tokens_details: { cached_tokens: 4 },
    output_tokens: 18,
    output_tokens_details: { reasoning_tokens: 2 },
    total_tokens: 25,
  });

  const cut = await client.responses
    .stream({ model: 'gpt-4o-mini', input, max_output_tokens: 2 })
    .finalResponse();
  t.equal(cut.status, 'incomplete');
  t.equal(cut.output_text.split(' ').length, 2);
});
