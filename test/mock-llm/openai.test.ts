import OpenAI, { type APIError as OpenAIApiError } from 'openai';
import t from 'tap';
import { startMockLlm } from '../../src/mock-llm/server.ts';

const mock = await startMockLlm();
t.teardown(() => mock.close());
const client = new OpenAI({ baseURL: `${mock.url}/v1`, apiKey: 'test', maxRetries: 0 });

const messages = [{ role: 'user' as const, content: 'Write a haiku about rivers.' }];
// 27 characters of prompt text → ceil(27 / 4) = 7 prompt tokens by the documented heuristic.
const promptTokens = 7;

async function streamText(body: OpenAI.ChatCompletionCreateParamsStreaming) {
  const chunks: OpenAI.ChatCompletionChunk[] = [];
  for await (const chunk of await client.chat.completions.create(body)) chunks.push(chunk);
  const text = chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('');
  return { chunks, text };
}

t.test('chat completion JSON: echoed model, text of `tokens` words, consistent usage', async (t) => {
  const completion = await client.chat.completions.create({ model: 'gpt-4o-mini', messages });
  t.equal(completion.object, 'chat.completion');
  t.equal(completion.model, 'gpt-4o-mini');
  const choice = completion.choices[0]!;
  t.equal(choice.message.role, 'assistant');
  t.equal(choice.finish_reason, 'stop');
  t.equal(choice.message.content?.split(' ').length, 16, 'default tokens = 16 words');
  t.same(completion.usage, {
    prompt_tokens: promptTokens,
    completion_tokens: 16,
    total_tokens: promptTokens + 16,
  });
});

t.test('max_tokens below the planned length stops early with finish_reason length', async (t) => {
  const completion = await client.chat.completions.create({ model: 'gpt-4o-mini', messages, max_tokens: 5 });
  t.equal(completion.choices[0]?.finish_reason, 'length');
  t.equal(completion.usage?.completion_tokens, 5);
  t.equal(completion.choices[0]?.message.content?.split(' ').length, 5);
});

t.test(
  'streaming without include_usage: role chunk, one chunk per token, finish chunk, no usage',
  async (t) => {
    const { chunks, text } = await streamText({ model: 'gpt-4o-mini', messages, stream: true });
    t.equal(chunks.length, 16 + 2);
    t.equal(chunks[0]?.choices[0]?.delta.role, 'assistant');
    t.equal(chunks.at(-1)?.choices[0]?.finish_reason, 'stop');
    for (const chunk of chunks) {
      t.equal(chunk.object, 'chat.completion.chunk');
      t.equal(chunk.model, 'gpt-4o-mini');
      t.equal(chunk.id, chunks[0]?.id, 'one id for the whole stream');
      t.notOk('usage' in chunk, 'no usage field unless asked for');
    }
    t.equal(text.split(' ').length, 16);
  },
);

t.test(
  'streaming with include_usage: usage null on every chunk, then a usage chunk without choices',
  async (t) => {
    const { chunks, text } = await streamText({
      model: 'gpt-4o-mini',
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    t.equal(chunks.length, 16 + 3);
    const last = chunks.at(-1)!;
    t.same(last.choices, []);
    t.same(last.usage, {
      prompt_tokens: promptTokens,
      completion_tokens: 16,
      total_tokens: promptTokens + 16,
    });
    for (const chunk of chunks.slice(0, -1)) t.equal(chunk.usage, null);
    t.equal(text.split(' ').length, 16);
  },
);

t.test('delta chunks carry OpenAI-style obfuscation padding unless the request turns it off', async (t) => {
  const padded = await streamText({ model: 'gpt-4o-mini', messages, stream: true });
  for (const chunk of padded.chunks) {
    const padding = (chunk as { obfuscation?: unknown }).obfuscation;
    t.ok(typeof padding === 'string' && /^[A-Za-z0-9]{1,16}$/.test(padding), `padding ${String(padding)}`);
  }
  const plain = await streamText({
    model: 'gpt-4o-mini',
    messages,
    stream: true,
    stream_options: { include_obfuscation: false },
  });
  for (const chunk of plain.chunks) t.notOk('obfuscation' in chunk);
  t.equal(plain.text, padded.text, 'the same text either way');
});

t.test('text is deterministic per request body', async (t) => {
  const body = { model: 'gpt-4o-mini', messages, stream: true as const };
  const first = await streamText(body);
  const second = await streamText(body);
  const other = await streamText({ ...body, messages: [{ role: 'user', content: 'Something else.' }] });
  t.equal(first.text, second.text, 'identical bodies → identical text');
  t.not(first.text, other.text, 'different bodies → different text');
  t.not(first.chunks[0]?.id, second.chunks[0]?.id, 'ids still differ, so a cached answer can be told apart');
});

t.test('stream_options does not change the text: usage reporting is not part of the prompt', async (t) => {
  const plain = await streamText({ model: 'gpt-4o-mini', messages, stream: true });
  // Placed before `messages`, so leaving it out must keep the other fields' order.
  const withUsage = await streamText({
    model: 'gpt-4o-mini',
    stream_options: { include_usage: true },
    messages,
    stream: true,
  });
  t.equal(withUsage.text, plain.text);
  t.equal(withUsage.chunks.at(-1)?.usage?.completion_tokens, 16, 'usage still reported');
});

t.test('streamed text equals the deltas the SDK helper accumulates', async (t) => {
  const runner = client.chat.completions.stream({
    model: 'gpt-4o-mini',
    messages,
    stream_options: { include_usage: true },
  });
  const final = await runner.finalChatCompletion();
  t.equal(final.choices[0]?.message.content?.split(' ').length, 16);
  t.equal(final.usage?.completion_tokens, 16);
});

t.test('legacy completions: JSON and SSE', async (t) => {
  const json = await client.completions.create({
    model: 'gpt-3.5-turbo-instruct',
    prompt: 'Say this is a test',
  });
  t.equal(json.object, 'text_completion');
  t.equal(json.choices[0]?.text.split(' ').length, 16);
  t.same(json.usage, { prompt_tokens: 5, completion_tokens: 16, total_tokens: 21 });

  const stream = await client.completions.create({
    model: 'gpt-3.5-turbo-instruct',
    prompt: 'Say this is a test',
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  let usage: OpenAI.CompletionUsage | null | undefined;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.text ?? '';
    usage = chunk.usage ?? usage;
  }
  t.equal(text.split(' ').length, 16);
  t.equal(usage?.completion_tokens, 16);
});

t.test('embeddings: dimensions honoured, unit length, deterministic, base64 default decoded', async (t) => {
  const floats = await client.embeddings.create({
    model: 'text-embedding-3-small',
    input: ['hello', 'world', 'hello'],
    dimensions: 64,
    encoding_format: 'float',
  });
  t.equal(floats.data.length, 3);
  const [hello, world, helloAgain] = floats.data.map((item) => item.embedding);
  t.equal(hello?.length, 64);
  t.same(hello, helloAgain, 'same input → same vector');
  t.notSame(hello, world);
  const norm = Math.sqrt(hello!.reduce((sum, value) => sum + value * value, 0));
  t.ok(Math.abs(norm - 1) < 1e-4, `unit length (got ${norm})`);
  t.same(floats.usage, { prompt_tokens: 6, total_tokens: 6 });

  // No encoding_format: the SDK asks for base64 on the wire and decodes float32 itself.
  const decoded = await client.embeddings.create({
    model: 'text-embedding-3-small',
    input: 'hello',
    dimensions: 64,
  });
  t.same(Array.from(decoded.data[0]!.embedding), hello, 'base64 decodes to the float vector');

  const defaultLength = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'hello' });
  t.equal(defaultLength.data[0]?.embedding.length, 1536);
});

t.test('models: list and retrieve', async (t) => {
  const ids: string[] = [];
  for await (const model of client.models.list()) ids.push(model.id);
  t.equal(ids.length, 8);
  t.ok(ids.includes('gpt-4o-mini'));
  t.ok(ids.includes('claude-3-5-haiku-latest'));
  t.ok(ids.includes('mock-gpt-1'));
  const model = await client.models.retrieve('mock-gpt-1');
  t.equal(model.id, 'mock-gpt-1');
  const missing = await client.models.retrieve('no-such-model').catch((e: unknown) => e);
  t.type(missing, OpenAI.NotFoundError);
});

t.test('missing fields are 400s in OpenAI shape', async (t) => {
  const error = await client.chat.completions
    .create({ model: 'gpt-4o-mini' } as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming)
    .catch((e: unknown) => e);
  t.type(error, OpenAI.BadRequestError);
  t.match((error as OpenAIApiError).error, { message: /messages/, type: 'invalid_request_error' });
});
