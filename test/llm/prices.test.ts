import t from 'tap';
import { loadConfig } from '../../src/config/load.ts';
import { costUsd, PriceBook } from '../../src/llm/prices.ts';

const book = new PriceBook(
  [
    { model: 'gpt-4o-mini*', input: 0.15, output: 0.6, cached_input: 0.075 },
    { model: 'gpt-4o*', input: 2.5, output: 10 },
    { model: 'claude-*', input: 3, output: 15, cached_input: 0.3, cache_creation_input: 3.75 },
  ],
  { azure: [{ model: 'gpt-4o*', input: 2.75, output: 11 }], local: [{ model: '*', input: 0, output: 0 }] },
);

t.test('the first matching glob wins; an upstream table comes before the global one', async (t) => {
  t.same(book.priceFor('openai', 'gpt-4o-mini-2024-07-18'), {
    input: 0.15,
    output: 0.6,
    cachedInput: 0.075,
    cacheCreationInput: 0.15,
  });
  t.equal(book.priceFor('openai', 'gpt-4o-2024-08-06')?.input, 2.5);
  t.equal(book.priceFor('azure', 'gpt-4o-2024-08-06')?.input, 2.75, 'the upstream override');
  t.equal(book.priceFor('azure', 'claude-sonnet-4')?.input, 3, 'the global table still applies');
  t.equal(book.priceFor('local', 'anything/at:all')?.output, 0, 'a self-hosted model costs nothing');
  t.equal(book.priceFor('openai', 'mistral-large'), undefined, 'unpriced');
  t.equal(book.priceFor('openai', 'GPT-4o'), undefined, 'globs are case-sensitive');
});

t.test('cost: uncached input, cache reads, cache writes and output each at their own price', async (t) => {
  const claude = book.priceFor('x', 'claude-3-5-haiku')!;
  // 1000 input in total: 600 uncached, 300 read from the cache, 100 written to it.
  const usage = { input: 1000, output: 200, cachedInput: 300, cacheCreationInput: 100 };
  t.equal(costUsd(usage, claude), (600 * 3 + 300 * 0.3 + 100 * 3.75 + 200 * 15) / 1e6);
  const mini = book.priceFor('x', 'gpt-4o-mini')!;
  t.equal(
    costUsd({ input: 2006, output: 300, cachedInput: 1920, reasoning: 256 }, mini),
    (86 * 0.15 + 1920 * 0.075 + 300 * 0.6) / 1e6,
    'reasoning tokens are part of output, not billed twice',
  );
  t.equal(costUsd({ output: 10 }, mini), (10 * 0.6) / 1e6, 'missing counts are zero');
  t.equal(
    costUsd({ input: 5, cachedInput: 9 }, mini),
    (9 * 0.075) / 1e6,
    'cached beyond input never goes negative',
  );
});

t.test('the lookup memo stays bounded under endless model names', async (t) => {
  for (let i = 0; i < 20_000; i++) book.priceFor('openai', `model-${i}`);
  const memo = (book as unknown as { memo: Map<string, unknown> }).memo;
  t.ok(memo.size <= 4096, `memo holds ${memo.size}`);
  t.equal(book.priceFor('openai', 'gpt-4o-mini')?.input, 0.15, 'still answers after clearing');
});

t.test('no price in the example config is shadowed by an earlier, broader glob', async (t) => {
  const { config } = await loadConfig('config/sluice.example.yaml', {});
  const prices = config.llm.prices;
  const examples = new PriceBook(prices, {});
  for (const entry of prices) {
    // A name the entry's glob matches: each `*` and `?` filled with a letter.
    const name = entry.model.replace(/[*?]/g, 'x');
    const price = examples.priceFor('u', name);
    t.same(
      [price?.input, price?.output, price?.cachedInput],
      [entry.input, entry.output, entry.cached_input ?? entry.input],
      `${name} gets the ${entry.model} price`,
    );
  }
});
