import t from 'tap';
import { request } from 'undici';
import { parseJsonObject } from '../../src/llm/json.ts';
import { describeLlmRequest, type LlmProtocol } from '../../src/llm/request.ts';
import { ResponseObserver } from '../../src/llm/response-observer.ts';
import { startMockBackend } from '../support/mock-backend.ts';

/** Feeds `bytes` in pieces of varying size, as a socket would deliver them. */
function observeInPieces(observer: ResponseObserver, bytes: Buffer): void {
  let offset = 0;
  for (let size = 1; offset < bytes.length; size = (size * 7 + 3) % 97 || 1) {
    observer.observe(bytes.subarray(offset, offset + size));
    offset += size;
  }
}

interface Case {
  name: string;
  protocol: LlmProtocol;
  path: string;
  body: Record<string, unknown>;
  expect: (raw: string) => { input?: number; output?: number; finish?: string[] };
}

const chat = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Tell me about rivers' }] };
const message = {
  model: 'claude-3-5-haiku-latest',
  max_tokens: 100,
  messages: [{ role: 'user', content: 'Tell me about valleys' }],
};

/** The usage the mock itself reported, read from its own bytes independently of the observer. */
const jsonUsage = (raw: string) => {
  const body = JSON.parse(raw) as { usage: Record<string, number>; choices?: { finish_reason: string }[] };
  return {
    input: body.usage['prompt_tokens'] ?? body.usage['input_tokens'],
    output: body.usage['completion_tokens'] ?? body.usage['output_tokens'],
  };
};
const sseUsageChunk = (raw: string) => {
  const last = raw
    .split('\n\n')
    .filter((e) => e.startsWith('data: {'))
    .map((e) => JSON.parse(e.slice(6)) as { usage?: Record<string, number> | null })
    .findLast((c) => c.usage);
  return { input: last?.usage?.['prompt_tokens'], output: last?.usage?.['completion_tokens'] };
};

const cases: Case[] = [
  {
    name: 'chat, JSON',
    protocol: 'openai',
    path: '/v1/chat/completions',
    body: chat,
    expect: (raw) => ({ ...jsonUsage(raw), finish: ['stop'] }),
  },
  {
    name: 'chat, SSE with include_usage',
    protocol: 'openai',
    path: '/v1/chat/completions',
    body: { ...chat, stream: true, stream_options: { include_usage: true } },
    expect: (raw) => ({ ...sseUsageChunk(raw), finish: ['stop'] }),
  },
  {
    name: 'chat, SSE without usage',
    protocol: 'openai',
    path: '/v1/chat/completions',
    body: { ...chat, stream: true },
    expect: () => ({ finish: ['stop'] }),
  },
  {
    name: 'chat, SSE cut by max_tokens',
    protocol: 'openai',
    path: '/v1/chat/completions',
    body: { ...chat, stream: true, max_tokens: 3, stream_options: { include_usage: true } },
    expect: (raw) => ({ ...sseUsageChunk(raw), finish: ['length'] }),
  },
  {
    name: 'completions, SSE with usage',
    protocol: 'openai',
    path: '/v1/completions',
    body: {
      model: 'gpt-3.5-turbo-instruct',
      prompt: 'Once',
      stream: true,
      stream_options: { include_usage: true },
    },
    expect: (raw) => ({ ...sseUsageChunk(raw), finish: ['stop'] }),
  },
  {
    name: 'embeddings, JSON',
    protocol: 'openai',
    path: '/v1/embeddings',
    body: { model: 'text-embedding-3-small', input: ['one', 'two'], dimensions: 4 },
    expect: (raw) => ({ input: jsonUsage(raw).input, finish: [] }),
  },
  {
    name: 'anthropic messages, JSON',
    protocol: 'anthropic',
    path: '/v1/messages',
    body: message,
    expect: (raw) => ({ ...jsonUsage(raw), finish: ['end_turn'] }),
  },
  {
    name: 'anthropic messages, SSE',
    protocol: 'anthropic',
    path: '/v1/messages',
    body: { ...message, stream: true },
    expect: (raw) => {
      const events = raw.split('\n\n').filter((e) => e.includes('data: '));
      interface AnthropicEvent {
        type: string;
        message?: { usage: { input_tokens: number } };
        usage?: { output_tokens: number };
      }
      const data = events.map((e) => JSON.parse(e.slice(e.indexOf('data: ') + 6)) as AnthropicEvent);
      const start = data.find((d) => d.type === 'message_start');
      const delta = data.find((d) => d.type === 'message_delta');
      return {
        input: start?.message?.usage.input_tokens,
        output: delta?.usage?.output_tokens,
        finish: ['end_turn'],
      };
    },
  },
];

t.test('usage, finish reasons and model come out as the mock reported them, chunked anyhow', async (t) => {
  const mock = await startMockBackend(t, { tokens: 12 });
  for (const c of cases) {
    const body = Buffer.from(JSON.stringify(c.body));
    const res = await request(`${mock.url}${c.path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body,
    });
    const raw = Buffer.from(await res.body.arrayBuffer());
    const described = describeLlmRequest(c.protocol, c.path, parseJsonObject(body));
    const eventStream = String(res.headers['content-type']).startsWith('text/event-stream');
    t.equal(eventStream, described.stream, `${c.name}: stream flag read from the request`);
    const observer = new ResponseObserver(c.protocol, described.operation, eventStream);
    observeInPieces(observer, raw);
    const outcome = observer.finish();
    const expected = c.expect(raw.toString('utf8'));
    t.equal(outcome.complete, true, `${c.name}: complete`);
    t.equal(outcome.malformed, 0, `${c.name}: nothing malformed`);
    t.equal(outcome.responseModel, c.body['model'], `${c.name}: response model`);
    t.equal(outcome.usage?.input, expected.input, `${c.name}: input tokens`);
    t.equal(outcome.usage?.output, expected.output, `${c.name}: output tokens`);
    t.same(outcome.finishReasons, expected.finish, `${c.name}: finish reasons`);
    if (eventStream && c.path !== '/v1/embeddings') {
      t.ok(
        outcome.firstTokenAt !== undefined && outcome.lastTokenAt! >= outcome.firstTokenAt,
        `${c.name}: token times`,
      );
    }
  }
});

t.test('truncated and malformed streams are reported, never thrown', async (t) => {
  const truncated = new ResponseObserver('openai', 'chat', true);
  truncated.observe(Buffer.from('data: {"model":"m","choices":[{"delta":{"content":"hi"}}]}\n\ndata: {"mo'));
  const cut = truncated.finish();
  t.equal(cut.complete, false, 'no [DONE]: not complete');
  t.equal(cut.responseModel, 'm');
  t.equal(cut.malformed, 0, 'an unfinished event is not an event');

  const garbage = new ResponseObserver('anthropic', 'chat', true);
  garbage.observe(Buffer.from('event: message_start\ndata: {not json\n\ndata: [1,2]\n\n'));
  t.equal(garbage.finish().malformed, 2);

  const json = new ResponseObserver('openai', 'chat', false);
  json.observe(Buffer.from('{"model":"m","choi'));
  const partial = json.finish();
  t.equal(partial.complete, false);
  t.equal(partial.malformed, 1);
});

t.test('requests: operation by path, fields from the body, invalid JSON left alone', async (t) => {
  const body = Buffer.from(
    JSON.stringify({
      model: 'gpt-4o',
      stream: true,
      max_completion_tokens: 50,
      stream_options: { include_usage: true },
    }),
  );
  t.match(describeLlmRequest('openai', '/openai/v1/chat/completions', parseJsonObject(body)), {
    operation: 'chat',
    parsed: true,
    model: 'gpt-4o',
    stream: true,
    maxTokens: 50,
    includeUsage: true,
  });
  t.equal(describeLlmRequest('openai', '/v1/completions', undefined).operation, 'text_completion');
  t.equal(describeLlmRequest('openai', '/v1/responses', undefined).operation, 'responses');
  t.equal(describeLlmRequest('openai', '/v1/models/gpt-4o', undefined).operation, 'models');
  t.equal(describeLlmRequest('anthropic', '/v1/messages/count_tokens', undefined).operation, 'count_tokens');
  t.equal(describeLlmRequest('anthropic', '/v1/messages', undefined).operation, 'chat');
  t.equal(describeLlmRequest('openai', '/v1/files', undefined).operation, 'other');
  for (const raw of ['{"model":', '[1,2]', 'null', '']) {
    t.match(describeLlmRequest('openai', '/v1/chat/completions', parseJsonObject(Buffer.from(raw))), {
      parsed: false,
      model: undefined,
    });
  }
});

t.test('cached and reasoning tokens the mock was asked to report are counted exactly', async (t) => {
  const mock = await startMockBackend(t, { tokens: 10 });
  const headers = {
    'content-type': 'application/json',
    'anthropic-version': '2023-06-01',
    'x-mock-cached-tokens': '3',
    'x-mock-reasoning-tokens': '7',
  };
  const longChat = { ...chat, messages: [{ role: 'user', content: 'x'.repeat(100) }] };
  const longMessage = { ...message, messages: [{ role: 'user', content: 'x'.repeat(100) }] };
  const runs = [
    { protocol: 'openai', path: '/v1/chat/completions', body: longChat },
    {
      protocol: 'openai',
      path: '/v1/chat/completions',
      body: { ...longChat, stream: true, stream_options: { include_usage: true } },
    },
    { protocol: 'anthropic', path: '/v1/messages', body: longMessage },
    { protocol: 'anthropic', path: '/v1/messages', body: { ...longMessage, stream: true } },
  ] as const;
  for (const run of runs) {
    const body = Buffer.from(JSON.stringify(run.body));
    const res = await request(`${mock.url}${run.path}`, { method: 'POST', headers, body });
    const raw = Buffer.from(await res.body.arrayBuffer());
    const described = describeLlmRequest(run.protocol, run.path, parseJsonObject(body));
    const observer = new ResponseObserver(run.protocol, described.operation, described.stream);
    observeInPieces(observer, raw);
    const { usage } = observer.finish();
    const label = `${run.protocol} ${described.stream ? 'SSE' : 'JSON'}`;
    // 100 characters of prompt are 25 tokens by the mock's heuristic.
    if (run.protocol === 'openai') {
      t.same(usage, { input: 25, output: 17, cachedInput: 3, reasoning: 7 }, label);
    } else {
      // The mock's input_tokens is the uncached rest (22); the total input counts the cached 3 too.
      t.same(usage, { input: 25, output: 10, cachedInput: 3, cacheCreationInput: 0 }, label);
    }
  }
});
