import t from 'tap';
import { anthropicUsage, mergeUsage, openaiUsage, withCacheInInput } from '../../src/llm/usage.ts';

t.test('OpenAI chat usage with cached and reasoning details', async (t) => {
  t.same(
    openaiUsage({
      prompt_tokens: 2006,
      completion_tokens: 300,
      total_tokens: 2306,
      prompt_tokens_details: { cached_tokens: 1920, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 256, audio_tokens: 0 },
    }),
    { input: 2006, output: 300, cachedInput: 1920, reasoning: 256 },
  );
});

t.test('OpenAI Responses API usage', async (t) => {
  t.same(
    openaiUsage({
      input_tokens: 36,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: 87,
      output_tokens_details: { reasoning_tokens: 64 },
      total_tokens: 123,
    }),
    { input: 36, output: 87, cachedInput: 0, reasoning: 64 },
  );
});

t.test('Anthropic usage with prompt-cache reads and writes; message_start then message_delta', async (t) => {
  const start = anthropicUsage({
    input_tokens: 21,
    cache_creation_input_tokens: 188,
    cache_read_input_tokens: 1024,
    output_tokens: 1,
  });
  t.same(start, { input: 21, output: 1, cachedInput: 1024, cacheCreationInput: 188 });
  t.same(mergeUsage(start, anthropicUsage({ output_tokens: 503 })), {
    input: 21,
    output: 503,
    cachedInput: 1024,
    cacheCreationInput: 188,
  });
});

t.test('what the provider did not say stays unsaid', async (t) => {
  t.equal(openaiUsage(null), undefined);
  t.equal(openaiUsage({}), undefined);
  t.same(openaiUsage({ prompt_tokens: 5 }), { input: 5 });
  t.same(openaiUsage({ prompt_tokens: -1, completion_tokens: 1.5 }), undefined, 'not counts');
  t.equal(anthropicUsage('x'), undefined);
  t.equal(mergeUsage(undefined, undefined), undefined);
});

t.test('Anthropic input becomes the total: uncached + cache reads + cache writes', async (t) => {
  t.same(withCacheInInput({ input: 21, output: 5, cachedInput: 1024, cacheCreationInput: 188 }), {
    input: 1233,
    output: 5,
    cachedInput: 1024,
    cacheCreationInput: 188,
  });
  t.same(withCacheInInput({ input: 7 }), { input: 7 });
  t.same(
    withCacheInInput({ output: 3, cachedInput: 2 }),
    { output: 3, cachedInput: 2 },
    'no input, no total',
  );
  t.equal(withCacheInInput(undefined), undefined);
});
