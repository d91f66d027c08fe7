/**
 * What resilience costs and buys.
 *
 * 1. CPU per request of the healthy path's bookkeeping: balancer pick, health admission (breaker,
 *    outlier detection), the attempt's in-flight count and its result recorded — for a group of two
 *    targets with and without breaker + outlier detection, against an empty loop.
 * 2. End to end through Sluice to two mock targets: latency percentiles and the errors clients see
 *    with no faults, and with 1 % of upstream answers failing (503), with and without retries.
 *
 *   node bench/resilience.ts [--iterations 500000] [--requests 20000] [--connections 20]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { parseConfig } from '../src/config/load.ts';
import type { UpstreamConfig } from '../src/config/types.generated.ts';
import { startMockLlm } from '../src/mock-llm/server.ts';
import { UpstreamGroup } from '../src/upstream/group.ts';
import type { TargetRuntime } from '../src/upstream/target.ts';
import { startInProcessSluice } from './sluice-config.ts';

const { values } = parseArgs({
  options: {
    iterations: { type: 'string', default: '500000' },
    requests: { type: 'string', default: '20000' },
    connections: { type: 'string', default: '20' },
  },
});
const iterations = Number(values.iterations);
const requests = Number(values.requests);
const connections = Number(values.connections);

/** The upstream as the config loader fills it in (every default applied). */
function upstreamConfig(extra: string, strategy: string): UpstreamConfig {
  const text = [
    'upstreams:',
    '  bench:',
    '    url: http://127.0.0.1:1',
    `    balance: { strategy: ${strategy} }`,
    ...(extra ? [`    ${extra}`] : []),
    'routes:',
    '  - { name: r, upstream: bench }',
  ].join('\n');
  return parseConfig(text, 'bench.yaml', {}).config.upstreams['bench'] as UpstreamConfig;
}

function fakeTarget(name: string): TargetRuntime {
  return {
    upstream: 'bench',
    name,
    weight: 1,
    priority: 0,
    origin: 'http://127.0.0.1:1',
    basePath: '',
    addedHeaders: {},
    models: undefined,
    fingerprint: name,
  } as unknown as TargetRuntime;
}

const noEvents = {
  onTransition: () => undefined,
  onEjection: () => undefined,
  onHealthCheck: () => undefined,
};

/** CPU µs per request of pick → admit → start → record → end on `config`'s group. */
async function bookkeeping(extra: string, strategy: string): Promise<number> {
  const upstream = upstreamConfig(extra, strategy);
  const group = new UpstreamGroup('bench', upstream, noEvents);
  group.setTargets(upstream, [fakeTarget('a'), fakeTarget('b')], []);
  const one = () => {
    const admitted = group.admit(undefined, undefined)!;
    const handle = group.start(admitted.target);
    if (admitted.admission !== undefined)
      group.health?.get(admitted.target.name)?.record(admitted.admission, 200, 5);
    handle.end({ latencyMs: 5, ok: true });
  };
  // opossum settles a success a microtask later: yielding every 1,000 lets that work run, and count.
  const run = async (n: number) => {
    for (let i = 0; i < n; i++) {
      one();
      if (i % 1000 === 999) await new Promise((resolve) => setImmediate(resolve));
    }
  };
  await run(50_000);
  const before = process.cpuUsage();
  await run(iterations);
  const used = process.cpuUsage(before);
  group.dispose();
  return (used.user + used.system) / iterations;
}

async function emptyLoop(): Promise<number> {
  const before = process.cpuUsage();
  for (let i = 0; i < iterations; i++)
    if (i % 1000 === 999) await new Promise((resolve) => setImmediate(resolve));
  const used = process.cpuUsage(before);
  return (used.user + used.system) / iterations;
}

interface LoadResult {
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  readonly clientErrors: number;
  readonly upstreamRequests: number;
}

const scratch = mkdtempSync(join(tmpdir(), 'sluice-bench-'));
const chatBody = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });

async function load(errorRate: number, retry: boolean): Promise<LoadResult> {
  const mocks = await Promise.all(
    [0, 1].map(() => startMockLlm({ errorRate, errorStatuses: [503], seed: 7 })),
  );
  const sluice = await startInProcessSluice(scratch, {
    upstreams: {
      pair: {
        targets: mocks.map((mock, index) => ({ name: `t${index}`, url: mock.url })),
        breaker: {},
        outlier_detection: {},
      },
    },
    routes: [
      {
        name: 'chat',
        upstream: 'pair',
        protocol: 'openai',
        ...(retry ? { retry: { base_delay_ms: 10, max_delay_ms: 100 } } : {}),
      },
    ],
  });
  const client = new Pool(sluice.proxyUrl, { connections });
  const latencies = new Float64Array(requests);
  let next = 0;
  let clientErrors = 0;
  const worker = async () => {
    for (;;) {
      const index = next++;
      if (index >= requests) return;
      const start = performance.now();
      const response = await client.request({
        method: 'POST',
        path: '/v1/chat/completions',
        headers: { 'content-type': 'application/json' },
        body: chatBody,
      });
      await response.body.text();
      latencies[index] = performance.now() - start;
      if (response.statusCode !== 200) clientErrors++;
    }
  };
  await Promise.all(Array.from({ length: connections }, worker));
  await client.close();
  await sluice.shutdown();
  const upstreamRequests = mocks.reduce((sum, mock) => sum + mock.stats.started, 0);
  await Promise.all(mocks.map((mock) => mock.close()));
  latencies.sort();
  const at = (q: number) => latencies[Math.min(requests - 1, Math.floor(q * requests))]!;
  return { p50: at(0.5), p99: at(0.99), p999: at(0.999), clientErrors, upstreamRequests };
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

const empty = await emptyLoop();
console.log(`CPU µs per request (${iterations} iterations, empty loop ${round(empty, 3)} µs subtracted):`);
for (const strategy of ['weighted-round-robin', 'least-loaded']) {
  const bare = (await bookkeeping('', strategy)) - empty;
  const guarded = (await bookkeeping('breaker: {}\n    outlier_detection: {}', strategy)) - empty;
  console.log(
    `  ${strategy}: balancer only ${round(bare)}, with breaker + outlier detection ${round(guarded)}`,
  );
}

// Discarded: the first run through Sluice also pays for JIT warm-up.
await load(0, true);
console.log(`\nEnd to end, ${requests} requests over ${connections} connections to two mock targets:`);
for (const [name, errorRate, retry] of [
  ['no faults, no retry', 0, false],
  ['no faults, retry', 0, true],
  ['1 % 503, no retry', 0.01, false],
  ['1 % 503, retry', 0.01, true],
] as const) {
  const result = await load(errorRate, retry);
  console.log(
    `  ${name.padEnd(20)} p50 ${round(result.p50)} ms, p99 ${round(result.p99)} ms, p99.9 ${round(result.p999)} ms, client errors ${result.clientErrors}, upstream requests ${result.upstreamRequests}`,
  );
}
rmSync(scratch, { recursive: true, force: true });
