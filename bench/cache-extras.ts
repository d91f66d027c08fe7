import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { startMockLlm } from '../src/mock-llm/server.ts';
import { startBenchRedis } from './redis.ts';
import { startInProcessSluice } from './sluice-config.ts';

const { values } = parseArgs({ options: { requests: { type: 'string', default: '2000' } } });
const requests = Number(values.requests);

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

function chat(content: string) {
  return JSON.stringify({ model: 'gpt-4o-mini', temperature: 0, messages: [{ role: 'user', content }] });
}

async function post(pool: Pool, body: string, headers: Record<string, string> = {}): Promise<number> {
  const started = performance.now();
  const response = await pool.request({
    method: 'POST',
    path: '/v1/chat/completions',
    headers: { 'content-type': 'application/json', authorization: 'Bearer bench', ...headers },
    body,
  });
  await response.body.dump();
  if (response.statusCode !== 200) throw new Error(`status ${response.statusCode}`);
  return performance.now() - started;
}

async function singleFlight(dir: string): Promise<void> {
  const mock = await startMockLlm({});
  const route = { name: 'chat', upstream: 'llm', protocol: 'openai', cache: { ttl_seconds: 600 } };
  const sluice = await startInProcessSluice(dir, { upstreams: { llm: { url: mock.url } }, routes: [route] });
  const pool = new Pool(sluice.proxyUrl, { connections: 512 });
  const direct = new Pool(mock.url, { connections: 512 });
  console.log(
    '| burst of identical requests (upstream answers after 200 ms) | upstream calls direct | through Sluice | p50 / p99 ms through Sluice |',
  );
  console.log('|---|--:|--:|--:|');
  for (const burst of [10, 100, 500]) {
    const body = chat(`burst of ${burst}`);
    const slow = { 'x-mock-latency-ms': '200' };
    const beforeDirect = mock.stats.started;
    await Promise.all(Array.from({ length: burst }, () => post(direct, body, slow)));
    const directCalls = mock.stats.started - beforeDirect;
    const before = mock.stats.started;
    const times = (await Promise.all(Array.from({ length: burst }, () => post(pool, body, slow)))).sort(
      (a, b) => a - b,
    );
    const calls = mock.stats.started - before;
    console.log(
      `| ${burst} | ${directCalls} | ${calls} | ${percentile(times, 50).toFixed(0)} / ${percentile(times, 99).toFixed(0)} |`,
    );
  }
  await pool.close();
  await direct.close();
  await sluice.shutdown();
  await mock.close();
}

async function l2Latency(dir: string): Promise<void> {
  const mock = await startMockLlm({});
  const redis = await startBenchRedis();
  try {
    const route = { name: 'chat', upstream: 'llm', protocol: 'openai', cache: { ttl_seconds: 600 } };
    const upstreams = { llm: { url: mock.url } };
    const writer = await startInProcessSluice(dir, {
      upstreams,
      routes: [route],
      cache: { redis: { url: redis.url } },
    });
    // l1_max_bytes 0: every lookup goes to Redis, so each answer below is an L2 hit.
    const reader = await startInProcessSluice(dir, {
      upstreams,
      routes: [route],
      cache: { l1_max_bytes: 0, redis: { url: redis.url } },
    });
    const distinct = 50;
    const writerPool = new Pool(writer.proxyUrl, { connections: 8 });
    for (let i = 0; i < distinct; i++) await post(writerPool, chat(`l2 entry ${i}`));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const pool = new Pool(reader.proxyUrl, { connections: 8 });
    const before = mock.stats.started;
    const l2: number[] = [];
    for (let i = 0; i < requests; i++) l2.push(await post(pool, chat(`l2 entry ${i % distinct}`)));
    const misses = mock.stats.started - before;
    const l1: number[] = [];
    for (let i = 0; i < requests; i++) l1.push(await post(writerPool, chat(`l2 entry ${i % distinct}`)));
    l2.sort((a, b) => a - b);
    l1.sort((a, b) => a - b);
    console.log(`\n| ${requests} sequential hits, one connection at a time | p50 ms | p99 ms |`);
    console.log('|---|--:|--:|');
    console.log(
      `| L2 (Redis on loopback; ${misses} went upstream) | ${percentile(l2, 50).toFixed(2)} | ${percentile(l2, 99).toFixed(2)} |`,
    );
    console.log(
      `| L1 (same process) | ${percentile(l1, 50).toFixed(2)} | ${percentile(l1, 99).toFixed(2)} |`,
    );
    await pool.close();
    await writerPool.close();
    await reader.shutdown();
    await writer.shutdown();
  } finally {
    redis.process.kill('SIGKILL');
    await mock.close();
  }
}

const dir = await mkdtemp(path.join(tmpdir(), 'sluice-cache-bench-'));
try {
  await singleFlight(dir);
  await l2Latency(dir);
} finally {
  await rm(dir, { recursive: true, force: true });
}
