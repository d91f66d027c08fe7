/**
 * Reading LLM traffic changes nothing the client gets: bytes equal a direct call, each streamed
 * event reaches the client before the upstream sends the next, ensure_stream_usage leaves the
 * client's stream as it would be without it, and bad or cut-off responses are counted without
 * breaking anything.
 */
import OpenAI from 'openai';
import t from 'tap';
import { request } from 'undici';
import { llmRoutes } from '../support/llm-routes.ts';
import { startMockBackend, withoutPerRequestFields } from '../support/mock-backend.ts';
import { scrape, total } from '../support/scrape.ts';
import { startSluice } from '../support/sluice.ts';
import { signal, startUpstream } from '../support/upstream-server.ts';

const prompt = 'Name three rivers, please.';
const chat = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: prompt }] };
const message = {
  model: 'claude-3-5-haiku-latest',
  max_tokens: 50,
  messages: [{ role: 'user', content: prompt }],
};

function routes(upstream: string) {
  return {
    upstreams: { backend: { url: upstream } },
    routes: llmRoutes(),
    llm: { prices: [{ model: 'gpt-*', input: 1, output: 1 }] },
  };
}

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

t.test('what the client gets equals a direct call, for every shape', async (t) => {
  const mock = await startMockBackend(t, { tokens: 6 });
  const { url } = await startSluice(t, routes(mock.url));
  const shapes: [string, unknown][] = [
    ['/v1/chat/completions', chat],
    ['/v1/chat/completions', { ...chat, stream: true }],
    ['/v1/chat/completions', { ...chat, stream: true, stream_options: { include_usage: true } }],
    ['/v1/responses', { model: 'gpt-4o-mini', input: prompt }],
    ['/v1/responses', { model: 'gpt-4o-mini', input: prompt, stream: true }],
    ['/v1/messages', message],
    ['/v1/messages', { ...message, stream: true }],
  ];
  for (const [path, body] of shapes) {
    const proxied = await post(`${url}${path}`, body, { 'x-mock-cached-tokens': '2' });
    const direct = await post(`${mock.url}${path}`, body, { 'x-mock-cached-tokens': '2' });
    t.equal(proxied.status, 200);
    t.equal(
      withoutPerRequestFields(proxied.text),
      withoutPerRequestFields(direct.text),
      `${path} ${JSON.stringify(body).slice(0, 60)}: identical bytes`,
    );
  }
});

t.test('ensure_stream_usage: the client stream is the one it asked for', async (t) => {
  const mock = await startMockBackend(t, { tokens: 8 });
  const { url, adminUrl } = await startSluice(t, routes(mock.url));
  for (const [path, body] of [
    ['/v1/chat/completions', { ...chat, stream: true }],
    ['/v1/completions', { model: 'gpt-3.5-turbo-instruct', prompt, stream: true }],
  ] as const) {
    const ensured = await post(`${url}/ensure${path}`, body);
    const direct = await post(`${mock.url}${path}`, body);
    t.equal(
      withoutPerRequestFields(ensured.text),
      withoutPerRequestFields(direct.text),
      `${path}: identical`,
    );
    t.notMatch(ensured.text, /usage/, `${path}: no usage reached the client`);
  }
  const asked = await post(`${url}/ensure/v1/chat/completions`, {
    ...chat,
    stream: true,
    stream_options: { include_usage: true },
  });
  t.match(asked.text, /"usage":\{/, 'a client that asked for usage still gets it');

  const openai = new OpenAI({ baseURL: `${url}/ensure/v1`, apiKey: 'k', maxRetries: 0 });
  let content = '';
  let chunks = 0;
  for await (const chunk of await openai.chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: prompt }],
    stream: true,
  })) {
    chunks++;
    t.equal(chunk.usage, undefined, 'no chunk carries usage');
    content += chunk.choices[0]?.delta.content ?? '';
  }
  t.equal(chunks, 8 + 2, 'role chunk, one per token, finish chunk');
  t.ok(content.length > 0, 'the SDK read the content');

  const samples = await scrape(adminUrl);
  t.equal(
    total(samples, 'sluice_llm_response_problems_total', { route: 'ensure' }),
    0,
    'every ensured stream had usage',
  );
  t.ok(total(samples, 'sluice_llm_tokens_total', { route: 'ensure', gen_ai_token_type: 'output' }) >= 8 * 4);
});

const openaiChunk = (n: number) =>
  `data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"w${n}"},"finish_reason":null}],"usage":null}\n\n`;
const anthropicDelta = (n: number) =>
  `event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"w${n}"}}\n\n`;
const responsesDelta = (n: number) =>
  `event: response.output_text.delta\ndata: {"type":"response.output_text.delta","item_id":"m","output_index":0,"content_index":0,"delta":"w${n}","sequence_number":${n}}\n\n`;

t.test('each event reaches the client before the upstream sends the next', { timeout: 30_000 }, async (t) => {
  const events = 5;
  let received: { promise: Promise<void>; resolve: () => void }[] = [];
  let eventOf: (n: number) => string = openaiChunk;
  const upstream = await startUpstream(t, async (req, res) => {
    for await (const _ of req) {
      // read the request
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    for (let i = 0; i < events; i++) {
      res.write(eventOf(i));
      // Lockstep: an event held back by Sluice would never reach the client, and this would hang.
      await received[i]!.promise;
    }
    res.end('data: [DONE]\n\n');
  });
  const { url } = await startSluice(t, routes(upstream));
  const runs: [string, string, unknown, (n: number) => string][] = [
    ['openai, accounting', '/v1/chat/completions', { ...chat, stream: true }, openaiChunk],
    ['openai, ensure_stream_usage', '/ensure/v1/chat/completions', { ...chat, stream: true }, openaiChunk],
    ['anthropic', '/v1/messages', { ...message, stream: true }, anthropicDelta],
    ['responses', '/v1/responses', { model: 'gpt-4o-mini', input: prompt, stream: true }, responsesDelta],
  ];
  for (const [name, path, body, event] of runs) {
    received = Array.from({ length: events }, signal);
    eventOf = event;
    const res = await request(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    let text = '';
    let seen = 0;
    for await (const chunk of res.body) {
      text += String(chunk);
      while (seen < events && text.includes(`"w${seen}"`)) received[seen++]!.resolve();
    }
    t.equal(seen, events, `${name}: every event arrived on its own`);
  }
});

t.test(
  'malformed, truncated and unparsed traffic is counted and breaks nothing',
  { timeout: 30_000 },
  async (t) => {
    const mock = await startMockBackend(t, { tokens: 10, gapMs: 5 });
    const broken = await startUpstream(t, async (req, res) => {
      for await (const _ of req) {
        // read the request
      }
      if (req.url?.includes('responses')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"id": "resp_1", "usage": {"input_tokens": 3');
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"choices":[{"delta":{"content":"a"}}]}\n\n');
      res.write('data: {this is not json}\n\n');
      res.write(': a comment\n\nevent: odd\ndata: [1,2]\n\n');
      res.end('data: [DONE]\n\n');
    });
    const config = routes(mock.url);
    const { url, adminUrl } = await startSluice(t, {
      ...config,
      upstreams: { backend: { url: mock.url }, broken: { url: broken } },
      routes: [
        {
          name: 'broken',
          match: { path_prefix: '/broken/' },
          strip_prefix: '/broken',
          upstream: 'broken',
          protocol: 'openai',
        },
        ...config.routes,
      ],
    });

    const malformedStream = await post(`${url}/broken/v1/chat/completions`, { ...chat, stream: true });
    t.equal(malformedStream.status, 200);
    t.match(malformedStream.text, /\{this is not json\}/, 'the malformed event still reached the client');
    const cutJson = await post(`${url}/broken/v1/responses`, { model: 'gpt-4o-mini', input: prompt });
    t.equal(
      cutJson.text,
      '{"id": "resp_1", "usage": {"input_tokens": 3',
      'a broken JSON body is forwarded as is',
    );

    const truncated = await request(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-mock-reset-after': '4' },
      body: JSON.stringify({ ...chat, stream: true, stream_options: { include_usage: true } }),
    });
    t.equal(truncated.statusCode, 200);
    await t.rejects(truncated.body.text(), 'the client sees the stream break off');

    const unparsed = await post(`${url}/v1/chat/completions`, '{"model": "gpt-4o-mini", "messages": [');
    t.equal(unparsed.status, 400, 'invalid JSON is forwarded, and the upstream answers it');
    t.ok(unparsed.headers['x-mock-request-id'], 'the answer came from the upstream, not from Sluice');

    const healthy = await post(`${url}/v1/chat/completions`, chat);
    t.equal(healthy.status, 200, 'the next request is served');

    const samples = await scrape(adminUrl);
    const problems = (problem: string) => total(samples, 'sluice_llm_response_problems_total', { problem });
    t.equal(problems('malformed'), 2, 'the stream with bad events and the cut JSON body are malformed');
    t.equal(problems('truncated'), 1, 'the stream that broke off is truncated');
    t.equal(total(samples, 'sluice_llm_unparsed_requests_total'), 1, 'the invalid request body is unparsed');
    t.equal(
      total(samples, 'gen_ai_client_operation_duration_seconds_count', { error_type: '400' }),
      1,
      'the upstream 400 is an operation with an error type',
    );
  },
);

t.test('10,000 distinct model names leave the series bounded', { timeout: 120_000 }, async (t) => {
  const mock = await startMockBackend(t, { tokens: 1 });
  const maxLabels = 50;
  const { url, adminUrl } = await startSluice(t, {
    upstreams: { backend: { url: mock.url, pool: { connections: 16 } } },
    routes: [{ name: 'openai', upstream: 'backend', protocol: 'openai' }],
    llm: {
      model_labels: ['tenant-*'],
      max_model_labels: maxLabels,
      prices: [{ model: '*', input: 1, output: 1 }],
    },
  });
  const names = 10_000;
  let next = 0;
  const worker = async () => {
    while (next < names) {
      const n = next++;
      // Half match the allow-list (and hit the cap), half do not.
      const model = n % 2 === 0 ? `tenant-${n}` : `random-${n}`;
      const res = await post(`${url}/v1/chat/completions`, {
        model,
        messages: [{ role: 'user', content: 'x' }],
      });
      if (res.status !== 200) throw new Error(`request ${n}: ${res.status}`);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  const samples = await scrape(adminUrl);
  const models = new Set(
    samples
      .filter((s) => s.labels['gen_ai_request_model'] !== undefined)
      .map((s) => s.labels['gen_ai_request_model']),
  );
  t.equal(models.size, maxLabels + 1, `${maxLabels} admitted names plus other`);
  t.ok(models.has('other'), 'the rest is other');
  t.equal(total(samples, 'gen_ai_client_operation_duration_seconds_count'), names, 'every request counted');
  const llmSeries = samples.filter(
    (s) => s.name.startsWith('gen_ai_') || s.name.startsWith('sluice_llm_'),
  ).length;
  t.ok(llmSeries < 5_000, `${llmSeries} LLM samples for 10,000 model names`);
});
