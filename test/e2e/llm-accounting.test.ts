/**
 * LLM accounting end to end: every protocol and shape the mock speaks goes through Sluice, and what
 * /metrics and the access log say equals the usage the mock reported to the client (read here from
 * the client's own bytes) and the price table's arithmetic.
 */
import t from 'tap';
import { request } from 'undici';
import { llmRoutes } from '../support/llm-routes.ts';
import { startMockBackend } from '../support/mock-backend.ts';
import { promtool, promtoolMissing } from '../support/promtool.ts';
import { scrape, total } from '../support/scrape.ts';
import { startSluice } from '../support/sluice.ts';

interface Usage {
  input: number;
  output: number;
  cached: number;
  cacheCreation: number;
  reasoning: number;
}

type Json = Record<string, unknown> & {
  usage?: Record<string, number | Record<string, number> | null> | null;
};

interface Case {
  readonly name: string;
  readonly path: string;
  readonly body: Record<string, unknown>;
  readonly headers?: Record<string, string>;
  /** What the mock reported, read from the bytes the client got; undefined when it reported none. */
  readonly usage: (raw: string) => Usage | undefined;
  readonly finish: string;
  readonly streamed: boolean;
  readonly askMockDirectly?: true;
}

function dataEvents(raw: string): Json[] {
  const events: Json[] = [];
  for (const block of raw.split('\n\n')) {
    const data = block
      .split('\n')
      .filter((line) => line.startsWith('data: '))
      .map((line) => line.slice(6))
      .join('\n');
    if (data !== '' && data !== '[DONE]') events.push(JSON.parse(data) as Json);
  }
  return events;
}

const detail = (usage: Json['usage'], group: string, key: string): number => {
  const details = usage?.[group];
  return typeof details === 'object' && details !== null ? (details[key] ?? 0) : 0;
};

function openaiUsage(usage: Json['usage']): Usage | undefined {
  if (!usage) return undefined;
  const count = (a: string, b: string) => Number(usage[a] ?? usage[b] ?? 0);
  return {
    input: count('prompt_tokens', 'input_tokens'),
    output: count('completion_tokens', 'output_tokens'),
    cached:
      detail(usage, 'prompt_tokens_details', 'cached_tokens') +
      detail(usage, 'input_tokens_details', 'cached_tokens'),
    cacheCreation: 0,
    reasoning:
      detail(usage, 'completion_tokens_details', 'reasoning_tokens') +
      detail(usage, 'output_tokens_details', 'reasoning_tokens'),
  };
}

/** Anthropic bills uncached input, cache reads and cache writes apart; the total input is their sum. */
function anthropicUsage(usage: Record<string, unknown>, output: number): Usage {
  const n = (key: string) => Number(usage[key] ?? 0);
  return {
    input: n('input_tokens') + n('cache_read_input_tokens') + n('cache_creation_input_tokens'),
    output,
    cached: n('cache_read_input_tokens'),
    cacheCreation: n('cache_creation_input_tokens'),
    reasoning: 0,
  };
}

const prompt = 'Tell me about rivers and the sea, briefly please.';
const chat = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: prompt }] };
const message = {
  model: 'claude-3-5-haiku-latest',
  max_tokens: 100,
  messages: [{ role: 'user', content: prompt }],
};
const detailsHeaders = { 'x-mock-cached-tokens': '3', 'x-mock-reasoning-tokens': '2' };

const cases: Case[] = [
  {
    name: 'chat JSON',
    path: '/v1/chat/completions',
    body: chat,
    headers: detailsHeaders,
    usage: (raw) => openaiUsage((JSON.parse(raw) as Json).usage),
    finish: 'stop',
    streamed: false,
  },
  {
    name: 'chat SSE with include_usage',
    path: '/v1/chat/completions',
    body: { ...chat, stream: true, stream_options: { include_usage: true } },
    headers: detailsHeaders,
    usage: (raw) => openaiUsage(dataEvents(raw).at(-1)?.usage),
    finish: 'stop',
    streamed: true,
  },
  {
    name: 'chat SSE without include_usage (no usage to count)',
    path: '/v1/chat/completions',
    body: { ...chat, stream: true },
    usage: () => undefined,
    finish: 'stop',
    streamed: true,
  },
  {
    name: 'legacy completions JSON (an unpriced model)',
    path: '/v1/completions',
    body: { model: 'gpt-3.5-turbo-instruct', prompt },
    usage: (raw) => openaiUsage((JSON.parse(raw) as Json).usage),
    finish: 'stop',
    streamed: false,
  },
  {
    name: 'embeddings',
    path: '/v1/embeddings',
    body: { model: 'text-embedding-3-small', input: [prompt, 'and a second input'] },
    usage: (raw) => ({ ...openaiUsage((JSON.parse(raw) as Json).usage)!, output: 0 }),
    finish: '',
    streamed: false,
  },
  {
    name: 'Responses API JSON',
    path: '/v1/responses',
    body: { model: 'gpt-4o-mini', input: prompt },
    headers: detailsHeaders,
    usage: (raw) => openaiUsage((JSON.parse(raw) as Json).usage),
    finish: 'completed',
    streamed: false,
  },
  {
    name: 'Responses API SSE',
    path: '/v1/responses',
    body: { model: 'gpt-4o-mini', input: prompt, stream: true },
    headers: detailsHeaders,
    usage: (raw) => {
      const done = dataEvents(raw).find((e) => e['type'] === 'response.completed');
      return openaiUsage((done?.['response'] as Json | undefined)?.usage);
    },
    finish: 'completed',
    streamed: true,
  },
  {
    name: 'Anthropic JSON',
    path: '/v1/messages',
    body: message,
    headers: detailsHeaders,
    usage: (raw) => {
      const usage = (JSON.parse(raw) as Json).usage as Record<string, number>;
      return anthropicUsage(usage, usage['output_tokens'] ?? 0);
    },
    finish: 'end_turn',
    streamed: false,
  },
  {
    name: 'Anthropic SSE',
    path: '/v1/messages',
    body: { ...message, stream: true },
    headers: detailsHeaders,
    usage: (raw) => {
      const events = dataEvents(raw);
      const start = events.find((e) => e['type'] === 'message_start')?.['message'] as Json;
      const delta = events.find((e) => e['type'] === 'message_delta')?.usage as Record<string, number>;
      return anthropicUsage(start.usage as Record<string, number>, delta['output_tokens'] ?? 0);
    },
    finish: 'end_turn',
    streamed: true,
  },
  {
    name: 'chat SSE on an ensure_stream_usage route (usage counted, not shown)',
    path: '/ensure/v1/chat/completions',
    body: { ...chat, stream: true },
    headers: detailsHeaders,
    // The client sees no usage: what the mock reported comes from the same request sent straight
    // to it with include_usage (the mock's text does not depend on stream_options).
    usage: () => undefined,
    askMockDirectly: true,
    finish: 'stop',
    streamed: true,
  },
];

/** USD per million tokens, as configured below; the upstream's own table overrides the Claude price. */
const prices: Record<
  string,
  { input: number; output: number; cached: number; creation: number } | undefined
> = {
  'gpt-4o-mini': { input: 0.15, output: 0.6, cached: 0.075, creation: 0.15 },
  'text-embedding-3-small': { input: 0.02, output: 0, cached: 0.02, creation: 0.02 },
  'claude-3-5-haiku-latest': { input: 0.8, output: 4, cached: 0.08, creation: 1 },
};

function expectedCost(model: string, usage: Usage): number {
  const price = prices[model];
  if (!price) return 0;
  const uncached = usage.input - usage.cached - usage.cacheCreation;
  return (
    (uncached * price.input +
      usage.cached * price.cached +
      usage.cacheCreation * price.creation +
      usage.output * price.output) /
    1e6
  );
}

t.test('tokens, cost, TTFT and finish reasons equal what the mock reported', async (t) => {
  const mock = await startMockBackend(t, { tokens: 9 });
  const { url, adminUrl, logs } = await startSluice(t, {
    upstreams: {
      backend: {
        url: mock.url,
        prices: [
          { model: 'claude-3-5-haiku*', input: 0.8, output: 4, cached_input: 0.08, cache_creation_input: 1 },
        ],
      },
    },
    routes: llmRoutes(),
    llm: {
      model_labels: ['gpt-*', 'claude-*', 'text-embedding-*'],
      prices: [
        { model: 'gpt-4o-mini*', input: 0.15, output: 0.6, cached_input: 0.075 },
        { model: 'text-embedding-3-*', input: 0.02, output: 0 },
        { model: 'claude-*', input: 3, output: 15 },
      ],
    },
    telemetry: { access_log: true },
  });

  const sums: Usage = { input: 0, output: 0, cached: 0, cacheCreation: 0, reasoning: 0 };
  let cost = 0;
  let withUsage = 0;
  for (const c of cases) {
    const res = await request(`${url}${c.path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...c.headers },
      body: JSON.stringify(c.body),
    });
    const raw = await res.body.text();
    t.equal(res.statusCode, 200, `${c.name}: 200`);
    let usage = c.usage(raw);
    if (c.askMockDirectly) {
      t.notMatch(raw, /"usage"/, `${c.name}: the client sees no usage`);
      const direct = await request(`${mock.url}${c.path.replace('/ensure', '')}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...c.headers },
        body: JSON.stringify({ ...c.body, stream_options: { include_usage: true } }),
      });
      usage = openaiUsage(dataEvents(await direct.body.text()).at(-1)?.usage);
    }
    if (!usage) continue;
    withUsage++;
    for (const key of Object.keys(sums) as (keyof Usage)[]) sums[key] += usage[key];
    cost += expectedCost(String(c.body['model']), usage);
  }

  const samples = await scrape(adminUrl);
  const tokens = (type: string) => total(samples, 'sluice_llm_tokens_total', { gen_ai_token_type: type });
  t.equal(tokens('input'), sums.input, 'input tokens (cached included)');
  t.equal(tokens('output'), sums.output, 'output tokens (reasoning included)');
  t.equal(tokens('cached_input'), sums.cached, 'cached input tokens');
  t.equal(tokens('cache_creation_input'), sums.cacheCreation, 'cache creation input tokens');
  t.equal(tokens('reasoning'), sums.reasoning, 'reasoning tokens');
  const usageSum = (type: string) =>
    total(samples, 'gen_ai_client_token_usage_sum', { gen_ai_token_type: type });
  t.equal(usageSum('input'), sums.input, 'gen_ai_client_token_usage input sum');
  t.equal(usageSum('output'), sums.output, 'gen_ai_client_token_usage output sum');
  t.equal(
    total(samples, 'gen_ai_client_token_usage_count', { gen_ai_token_type: 'input' }),
    withUsage,
    'one input observation per response with usage',
  );
  const counted = total(samples, 'sluice_llm_cost_usd_total');
  t.ok(Math.abs(counted - cost) < 1e-12, `cost ${counted} equals the price table's arithmetic ${cost}`);
  t.equal(
    total(samples, 'sluice_llm_unpriced_requests_total', { gen_ai_request_model: 'gpt-3.5-turbo-instruct' }),
    1,
    'the model without a price is counted as unpriced',
  );
  t.equal(
    total(samples, 'gen_ai_client_operation_duration_seconds_count', { error_type: '' }),
    cases.length,
    'one operation duration per request',
  );
  const streamed = cases.filter((c) => c.streamed).length;
  t.equal(
    total(samples, 'gen_ai_server_time_to_first_token_seconds_count'),
    streamed,
    'TTFT for every stream',
  );
  t.equal(
    total(samples, 'gen_ai_server_time_per_output_token_seconds_count'),
    streamed - 1,
    'time per output token for every stream with usage',
  );
  for (const reason of ['stop', 'end_turn', 'completed']) {
    t.equal(
      total(samples, 'sluice_llm_finish_reasons_total', { reason }),
      cases.filter((c) => c.finish === reason).length,
      `finish reason ${reason}`,
    );
  }
  t.equal(
    total(samples, 'sluice_llm_response_problems_total', { problem: 'no_usage' }),
    1,
    'the stream without usage is visible as no_usage',
  );
  t.equal(
    total(samples, 'sluice_llm_tokens_total', { route: 'ensure', gen_ai_token_type: 'output' }),
    9 + 2,
    'ensure_stream_usage gave the route its token counts (9 words and 2 reasoning tokens)',
  );

  const lines = logs.filter((line) => line['msg'] === 'request');
  t.equal(lines.length, cases.length, 'one access-log line per request');
  const anthropicStream = lines.find(
    (line) => line['route'] === 'anthropic' && typeof line['ttft_ms'] === 'number',
  );
  t.ok(anthropicStream, 'the Anthropic stream has a TTFT in its log line');
  t.equal(anthropicStream?.['model'], 'claude-3-5-haiku-latest');
  t.ok(Number(anthropicStream?.['input_tokens']) > 0, 'input tokens in the log line');
  t.equal(anthropicStream?.['output_tokens'], 9, 'output tokens in the log line');
  t.ok(Number(anthropicStream?.['cost_usd']) > 0, 'cost in the log line');
  t.notOk(JSON.stringify(logs).includes('rivers'), 'no prompt text in any log line');
});

t.test('a live scrape after LLM traffic is clean for promtool', { skip: promtoolMissing }, async (t) => {
  const mock = await startMockBackend(t, { tokens: 3 });
  const { url, adminUrl } = await startSluice(t, {
    upstreams: { backend: { url: mock.url } },
    routes: [{ name: 'openai', upstream: 'backend', protocol: 'openai' }],
    llm: { prices: [{ model: 'gpt-*', input: 1, output: 2 }] },
  });
  for (const body of [chat, { ...chat, stream: true, stream_options: { include_usage: true } }]) {
    await (
      await request(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
    ).body.text();
  }
  const exposition = await (await request(`${adminUrl}/metrics`)).body.text();
  t.match(exposition, /gen_ai_client_token_usage_bucket\{/, 'GenAI metrics are exported');
  const check = promtool(['check', 'metrics'], exposition);
  t.equal(check.status, 0, 'promtool exits 0');
  t.equal(check.output, '', 'promtool reports no lint problems');
});
