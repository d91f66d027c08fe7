/**
 * What a rate limit costs a request: the CPU the rate-limit stage adds with the in-process store
 * (the stage run against a request context, minus the same loop through an empty stage), and the
 * latency of a decision in Redis on loopback, one at a time and 50 at once.
 *
 *   node bench/rate-limit.ts [--iterations 200000] [--decisions 5000]   (the Redis part needs redis-server)
 */
import type { IncomingMessage } from 'node:http';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { Registry } from 'prom-client';
import { parseJsonObject } from '../src/llm/json.ts';
import type { Stage } from '../src/pipeline/compose.ts';
import type { ProxyContext } from '../src/pipeline/context.ts';
import { RedisRateStore } from '../src/ratelimit/rate-redis-store.ts';
import type { RatePolicy } from '../src/ratelimit/rate-types.ts';
import { TrafficControl } from '../src/server/traffic-control.ts';
import { rateLimitStage } from '../src/stages/rate-limit.ts';
import { registerMetrics } from '../src/telemetry/metrics.ts';
import { startBenchRedis } from './redis.ts';

const { values } = parseArgs({
  options: {
    iterations: { type: 'string', default: '200000' },
    decisions: { type: 'string', default: '5000' },
  },
});
const iterations = Number(values.iterations);
const decisions = Number(values.decisions);

const body = Buffer.from(
  JSON.stringify({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'Write a haiku about a proxy.' }],
  }),
);
const json = parseJsonObject(body);

/** A request context with what the stage reads; 1,000 API keys take turns. */
function context(i: number): ProxyContext {
  const req = {
    method: 'POST',
    headers: { authorization: `Bearer key-${i % 1000}` },
  } as unknown as IncomingMessage;
  return {
    req,
    requestId: 'bench',
    clientIp: '127.0.0.1',
    route: {
      name: 'chat',
      protocol: 'openai',
      upstreamName: 'llm',
      websocket: false,
      stripPrefix: undefined,
    },
    requestBody: body,
    requestBodyBytes: body.length,
    requestJson: () => json,
    response: { status: 200, headers: {}, body: null },
    onEnd: () => undefined,
  } as unknown as ProxyContext;
}

/** CPU µs per request through `stage`, whose `next` does nothing. */
async function cpuPerRequest(stage: Stage): Promise<number> {
  const next = async () => undefined;
  for (let i = 0; i < 20_000; i++) await stage.run(context(i), next);
  const contexts = Array.from({ length: 1000 }, (_, i) => context(i));
  const before = process.cpuUsage();
  for (let i = 0; i < iterations; i++) await stage.run(contexts[i % 1000]!, next);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / iterations;
}

async function localStage(): Promise<void> {
  const metrics = registerMetrics(new Registry());
  const log = pino({ level: 'silent' });
  const traffic = new TrafficControl(metrics, log);
  const policies = (algorithm: 'sliding_window' | 'token_bucket', unit: 'requests' | 'tokens') => [
    {
      name: 'p',
      key: ['credential'],
      unit,
      algorithm,
      limit: 1e12,
      window_seconds: 60,
      store: 'memory' as const,
      on_store_error: 'fail_open' as const,
      shadow: false,
    },
  ];
  const empty: Stage = { name: 'empty', run: (_ctx, next) => next() };
  const rows: string[] = [];
  for (let round = 1; round <= 3; round++) {
    const baseline = await cpuPerRequest(empty);
    for (const [algorithm, unit] of [
      ['sliding_window', 'requests'],
      ['token_bucket', 'requests'],
      ['sliding_window', 'tokens'],
    ] as const) {
      const stage = rateLimitStage(
        {
          route: 'chat',
          policies: policies(algorithm, unit),
          maxTokens: undefined,
          defaultOutputTokens: 1024,
        },
        traffic,
        metrics,
        log,
      );
      const cost = await cpuPerRequest(stage);
      rows.push(
        `| ${round} | ${algorithm} | ${unit} | ${cost.toFixed(2)} | ${baseline.toFixed(2)} | ${(cost - baseline).toFixed(2)} |`,
      );
    }
  }
  console.log(`\nRate-limit stage, memory store, ${iterations} requests per cell (1,000 keys):\n`);
  console.log('| round | algorithm | unit | stage CPU µs/req | empty stage µs/req | added µs/req |');
  console.log('| --: | --- | --- | --: | --: | --: |');
  for (const row of rows) console.log(row);
  await traffic.close();
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function redisDecisions(): Promise<void> {
  const redis = await startBenchRedis().catch(() => undefined);
  if (redis === undefined) {
    console.log('\nredis-server not found: Redis decisions not measured.');
    return;
  }
  const store = new RedisRateStore({
    url: redis.url,
    key_prefix: 'bench',
    command_timeout_ms: 1000,
    compress_above_bytes: 1024,
  });
  const deadline = Date.now() + 5000;
  while (!store.available() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  console.log(`\nRedis decisions on loopback (redis-server ${redis.url}), ${decisions} per row:\n`);
  console.log('| algorithm | concurrency | p50 ms | p99 ms | max ms |');
  console.log('| --- | --: | --: | --: | --: |');
  for (const algorithm of ['sliding_window', 'token_bucket'] as const) {
    const policy: RatePolicy = { id: `bench/${algorithm}`, algorithm, limit: 1e12, windowMs: 60_000 };
    for (const concurrency of [1, 50]) {
      const latencies: number[] = [];
      let next = 0;
      const worker = async () => {
        while (next < decisions) {
          const i = next++;
          const started = performance.now();
          await store.acquire(policy, `key-${i % 1000}`, 1);
          latencies.push(performance.now() - started);
        }
      };
      await Promise.all(Array.from({ length: concurrency }, worker));
      latencies.sort((a, b) => a - b);
      const [p50, p99, max] = [percentile(latencies, 50), percentile(latencies, 99), latencies.at(-1) ?? 0];
      console.log(
        `| ${algorithm} | ${concurrency} | ${p50.toFixed(3)} | ${p99.toFixed(3)} | ${max.toFixed(3)} |`,
      );
    }
  }
  await store.close();
  redis.process.kill('SIGKILL');
}

await localStage();
await redisDecisions();
