/**
 * Token estimates for the request shapes Sluice proxies (OpenAI chat, Responses, completions,
 * embeddings; Anthropic messages), the output cap fields, the raw-bytes fallback, and the
 * heuristic's error against real tokenizations recorded once with gpt-tokenizer (o200k_base and
 * cl100k_base), which Sluice does not depend on.
 */
import t from 'tap';
import {
  BYTES_PER_TOKEN,
  estimateRequestTokens,
  MEDIA_PART_TOKENS,
  MESSAGE_OVERHEAD_TOKENS,
  requestedOutputTokens,
} from '../../src/ratelimit/token-estimate.ts';

const tokens = (text: string) => Math.ceil(Buffer.byteLength(text) / BYTES_PER_TOKEN);
const none = { outputTokens: 0 };

t.test('OpenAI chat: text, parts, images, tool calls, and n choices', async (t) => {
  const question = 'What is the capital of France, and why did it become the capital?';
  const simple = estimateRequestTokens({ messages: [{ role: 'user', content: question }] }, 0, none);
  t.same(simple, { input: tokens(question) + MESSAGE_OVERHEAD_TOKENS, output: 0, total: 21 });

  const body = {
    model: 'gpt-4o',
    messages: [
      { role: 'system', content: 'Be brief.' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Describe this picture.' },
          {
            type: 'image_url',
            image_url: { url: `data:image/png;base64,${'A'.repeat(400_000)}`, detail: 'high' },
          },
        ],
      },
      {
        role: 'assistant',
        tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }],
      },
      { role: 'tool', tool_call_id: 'call_1', content: 'done' },
    ],
    max_completion_tokens: 100,
    max_tokens: 5,
    n: 3,
  };
  const text = 'Be brief.' + 'Describe this picture.' + 'f' + '{"a":1}' + 'done';
  const estimate = estimateRequestTokens(body, 400_500, none);
  t.equal(
    estimate.input,
    tokens(text) + MEDIA_PART_TOKENS + 4 * MESSAGE_OVERHEAD_TOKENS,
    'an image is one flat part, not its bytes',
  );
  t.equal(estimate.output, 300, 'max_completion_tokens wins over max_tokens, times n');
});

t.test('OpenAI Responses: instructions, input string or items, max_output_tokens', async (t) => {
  const asString = estimateRequestTokens(
    { instructions: 'Be terse.', input: 'Hello there', max_output_tokens: 64 },
    0,
    none,
  );
  t.same(asString, {
    input: tokens('Be terse.Hello there') + MESSAGE_OVERHEAD_TOKENS,
    output: 64,
    total: 73,
  });
  const items = estimateRequestTokens(
    {
      input: [
        { role: 'user', content: [{ type: 'input_text', text: 'Weather in Paris?' }] },
        { type: 'function_call', call_id: 'c1', name: 'weather', arguments: '{"city":"Paris"}' },
        { type: 'function_call_output', call_id: 'c1', output: '18°C, clear' },
      ],
    },
    0,
    { outputTokens: 256 },
  );
  const text = 'Weather in Paris?' + 'weather' + '{"city":"Paris"}' + '18°C, clear';
  t.same(items, {
    input: tokens(text) + 3 * MESSAGE_OVERHEAD_TOKENS,
    output: 256,
    total: tokens(text) + 12 + 256,
  });
});

t.test('Anthropic messages: system blocks, tool use and results, base64 images, tools', async (t) => {
  const tools = [
    { name: 'get_weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } },
  ];
  const body = {
    model: 'claude-sonnet-4-5',
    max_tokens: 1024,
    system: [{ type: 'text', text: 'You are a weather bot.', cache_control: { type: 'ephemeral' } }],
    tools,
    messages: [
      {
        role: 'user',
        content: [
          {
            type: 'image',
            source: { type: 'base64', media_type: 'image/png', data: 'iVBOR'.repeat(10_000) },
          },
          { type: 'text', text: 'And the weather?' },
        ],
      },
      {
        role: 'assistant',
        content: [{ type: 'tool_use', id: 'tu1', name: 'get_weather', input: { city: 'Oslo', days: 2 } }],
      },
      {
        role: 'user',
        content: [{ type: 'tool_result', tool_use_id: 'tu1', content: [{ type: 'text', text: '-3°C' }] }],
      },
    ],
  };
  // Tool definitions are read as JSON by the model: their keys count too.
  const toolText =
    'name' + 'get_weather' + 'input_schema' + 'type' + 'object' + 'properties' + 'city' + 'type' + 'string';
  const text = 'You are a weather bot.' + toolText + 'And the weather?' + 'get_weather' + 'Oslo' + '-3°C';
  const bytes = Buffer.byteLength(text) + BYTES_PER_TOKEN + MEDIA_PART_TOKENS * BYTES_PER_TOKEN;
  const estimate = estimateRequestTokens(body, 0, { outputTokens: 9 });
  t.equal(
    estimate.input,
    Math.ceil(bytes / BYTES_PER_TOKEN) + 4 * MESSAGE_OVERHEAD_TOKENS,
    'days: 2 is one token',
  );
  t.equal(estimate.output, 1024);
});

t.test('completions and embeddings: prompt strings, token id arrays', async (t) => {
  t.equal(estimateRequestTokens({ prompt: ['abcd', 'efgh'] }, 0, none).input, 2);
  t.equal(
    estimateRequestTokens(
      {
        input: [
          [1, 2, 3],
          [4, 5],
        ],
      },
      0,
      none,
    ).input,
    5,
    'one token per token id',
  );
  t.equal(estimateRequestTokens({ input: 'embed me please' }, 0, none).input, tokens('embed me please'));
});

t.test('no JSON or no prompt fields: the raw body size decides', async (t) => {
  t.same(estimateRequestTokens(undefined, 1001, { outputTokens: 50 }), {
    input: 251,
    output: 50,
    total: 301,
  });
  t.equal(estimateRequestTokens({ model: 'x', stream: true }, 40, none).input, 10);
  t.equal(estimateRequestTokens(undefined, -5, none).input, 0);
});

t.test('output caps: the first positive integer field, else the default', async (t) => {
  t.equal(requestedOutputTokens({ max_tokens: 10 }), 10);
  t.equal(requestedOutputTokens({ max_output_tokens: 7, max_tokens: 10 }), 7);
  t.equal(requestedOutputTokens({ max_completion_tokens: 0, max_tokens: 10 }), 10);
  for (const bad of [-1, 1.5, '100', null, Number.POSITIVE_INFINITY]) {
    t.equal(requestedOutputTokens({ max_tokens: bad }), undefined, String(bad));
  }
  t.equal(estimateRequestTokens({ messages: [], max_tokens: 'x' }, 0, { outputTokens: 12.2 }).output, 13);
  t.equal(
    estimateRequestTokens({ messages: [], n: 0, max_tokens: 8 }, 0, none).output,
    8,
    'n below 2 is one choice',
  );
});

t.test('a pathologically nested body is walked without recursion', async (t) => {
  let deep: unknown = 'leaf';
  for (let i = 0; i < 200_000; i++) deep = [deep];
  t.equal(estimateRequestTokens({ input: deep }, 0, none).input, 1);
});

/**
 * Real token counts of four texts, recorded once with gpt-tokenizer 4.0.0 (o200k_base: GPT-4o and
 * later; cl100k_base: GPT-4, GPT-3.5). The heuristic's error on them stays inside the band that
 * docs/traffic-control.md states, from ~50 % under (base64 and hashes in JSON) to ~35 % over
 * (short English prose).
 */
const RECORDED: readonly {
  readonly name: string;
  readonly text: string;
  readonly o200k: number;
  readonly cl100k: number;
}[] = [
  {
    name: 'English prose',
    text: 'The licenses for most software and other practical works are designed to take away your freedom to share and change the works. By contrast, the GNU General Public License is intended to guarantee your freedom to share and change all versions of a program--to make sure it remains free software for all its users.',
    o200k: 59,
    cl100k: 59,
  },
  {
    name: 'TypeScript',
    text: 'export function reconnectDelayMs(attempt: number): number {\n  const exponential = 50 * 2 ** Math.min(Math.max(attempt - 1, 0), 16);\n  return Math.min(exponential, 2000) + Math.floor(Math.random() * 100);\n}\n',
    o200k: 60,
    cl100k: 60,
  },
  {
    name: 'JSON with a base64 hash',
    text: '{"node_modules/ioredis":{"version":"6.0.0","resolved":"https://registry.npmjs.org/ioredis/-/ioredis-6.0.0.tgz","integrity":"sha512-9pGm0gq1yN2V1hQ3N6u5ZP2dLx8fD3kBv0ZC2uY6wBm3rK1tVQ0p7l8W4wH2Y8Ab0cQ==","license":"MIT"}}',
    o200k: 118,
    cl100k: 118,
  },
  {
    name: 'Chinese prose',
    text: '一个用于 Web 项目的高性能工具链，旨在为开发者提供维护这些项目的开发工具。Biome 是一个快速的格式化工具，与 Prettier 有百分之九十七的兼容性，能够节省持续集成和开发者的时间。',
    o200k: 58,
    cl100k: 87,
  },
];

t.test('the heuristic against recorded real tokenizations', async (t) => {
  for (const { name, text, o200k, cl100k } of RECORDED) {
    const estimate = estimateRequestTokens({ prompt: text }, 0, none).input;
    for (const [encoding, real] of [
      ['o200k_base', o200k],
      ['cl100k_base', cl100k],
    ] as const) {
      const error = estimate / real - 1;
      t.ok(
        error > -0.55 && error < 0.35,
        `${name}, ${encoding}: ${estimate} for ${real} (${(error * 100).toFixed(0)} %)`,
      );
    }
  }
});
