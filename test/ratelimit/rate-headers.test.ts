import t from 'tap';
import { openAiDuration, rateLimitHeaders, retryAfterSeconds } from '../../src/ratelimit/rate-headers.ts';

const decision = (limit: number, remaining: number, resetMs: number) => ({
  allowed: true,
  limit,
  remaining,
  resetMs,
  retryAfterMs: 0,
});

t.test('reset durations are written as OpenAI (Go) writes them', async (t) => {
  const cases: [number, string][] = [
    [0, '0ms'],
    [19.2, '20ms'],
    [999, '999ms'],
    [1000, '1s'],
    [1500, '1.5s'],
    [60_000, '1m0s'],
    [90_500, '1m30.5s'],
    [360_000, '6m0s'],
    [3_723_456, '1h2m3.456s'],
  ];
  for (const [ms, text] of cases) t.equal(openAiDuration(ms), text, `${ms} ms`);
  t.equal(retryAfterSeconds(1), 1, 'Retry-After is never 0');
  t.equal(retryAfterSeconds(1001), 2, 'and rounds up');
});

t.test('IETF fields list every policy; the OpenAI headers take the tightest of each unit', async (t) => {
  const headers = rateLimitHeaders([
    { name: 'rpm', unit: 'requests', windowMs: 60_000, decision: decision(600, 599, 100) },
    { name: 'rpd', unit: 'requests', windowMs: 86_400_000, decision: decision(10_000, 12, 3_600_000) },
    { name: 'tpm', unit: 'tokens', windowMs: 60_000, decision: decision(200_000, 150_000.7, 20_500) },
  ]);
  t.same(headers, {
    'ratelimit-policy': '"rpm";q=600;w=60, "rpd";q=10000;w=86400, "tpm";q=200000;w=60;qu="tokens"',
    ratelimit: '"rpm";r=599;t=1, "rpd";r=12;t=3600, "tpm";r=150000;t=21',
    'x-ratelimit-limit-requests': '10000',
    'x-ratelimit-remaining-requests': '12',
    'x-ratelimit-reset-requests': '1h0m0s',
    'x-ratelimit-limit-tokens': '200000',
    'x-ratelimit-remaining-tokens': '150000',
    'x-ratelimit-reset-tokens': '20.5s',
  });
  t.same(rateLimitHeaders([]), {}, 'no policies, no headers');
});
