/**
 * What response compression costs and saves, through a real Sluice to the mock LLM: a large models
 * list (~167 KB) and a ~1 KB chat completion, each uncompressed and in every coding, with the
 * process CPU per request (client, Sluice and mock share the process, so the differences between
 * rows are what compression adds) and the bytes on the wire. Then, for a cached body, compressing
 * it on every hit against compressing it once per coding (src/compression/variants.ts).
 *
 *   node bench/compression.ts [--requests 2000] [--connections 10]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { defaultLevels } from '../src/compression/encoder.ts';
import type { ContentCoding } from '../src/compression/negotiate.ts';
import { compressBuffer, VariantCache } from '../src/compression/variants.ts';
import { startMockLlm } from '../src/mock-llm/server.ts';
import { startInProcessSluice } from './sluice-config.ts';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '2000' },
    connections: { type: 'string', default: '10' },
  },
});
const requests = Number(values.requests);
const connections = Number(values.connections);

const mock = await startMockLlm({ models: 1960, tokens: 150 });
const scratch = mkdtempSync(join(tmpdir(), 'sluice-bench-'));
const sluice = await startInProcessSluice(scratch, {
  upstreams: { llm: { url: mock.url } },
  routes: [{ name: 'compressed', upstream: 'llm', protocol: 'openai', compression: {} }],
});
const client = new Pool(sluice.proxyUrl, { connections });

const chatBody = JSON.stringify({
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content: 'Write a short story.' }],
});

interface Row {
  readonly bytes: number;
  readonly cpuUs: number;
  readonly rps: number;
}

async function run(path: string, acceptEncoding: string | undefined): Promise<Row> {
  let next = 0;
  let bytes = 0;
  const one = async () => {
    const response = await client.request({
      method: path === '/v1/models' ? 'GET' : 'POST',
      path,
      headers: {
        'content-type': 'application/json',
        ...(acceptEncoding ? { 'accept-encoding': acceptEncoding } : {}),
      },
      ...(path === '/v1/models' ? {} : { body: chatBody }),
    });
    const body = Buffer.from(await response.body.arrayBuffer());
    bytes = body.length;
  };
  for (let i = 0; i < 200; i++) await one();
  const started = performance.now();
  const before = process.cpuUsage();
  const worker = async () => {
    while (next++ < requests) await one();
  };
  await Promise.all(Array.from({ length: connections }, worker));
  const used = process.cpuUsage(before);
  const seconds = (performance.now() - started) / 1000;
  return { bytes, cpuUs: (used.user + used.system) / requests, rps: requests / seconds };
}

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

console.log(`Through Sluice, ${requests} requests over ${connections} connections, default levels:\n`);
console.log('| body | coding | bytes | ratio | CPU µs/req (whole process) | added µs/req | req/s |');
console.log('| --- | --- | --: | --: | --: | --: | --: |');
for (const [name, path] of [
  ['models list', '/v1/models'],
  ['chat completion', '/v1/chat/completions'],
] as const) {
  const plain = await run(path, undefined);
  console.log(
    `| ${name} | identity | ${plain.bytes} | 1.00 | ${round(plain.cpuUs)} | – | ${round(plain.rps, 0)} |`,
  );
  for (const coding of ['gzip', 'br', 'zstd'] as const) {
    const row = await run(path, coding);
    console.log(
      `| ${name} | ${coding} | ${row.bytes} | ${round(row.bytes / plain.bytes, 3)} | ${round(row.cpuUs)} | ${round(row.cpuUs - plain.cpuUs)} | ${round(row.rps, 0)} |`,
    );
  }
}
await client.close();
await sluice.shutdown();
rmSync(scratch, { recursive: true, force: true });

// A cached body served to clients that accept a coding: compressed on every hit, or once.
const models = Buffer.from(await (await fetch(`${mock.url}/v1/models`)).arrayBuffer());
await mock.close();
const hits = 500;
console.log(`\nA cached ${models.length}-byte body, ${hits} hits per row:\n`);
console.log('| coding | compress per hit µs | cached variant µs/hit |');
console.log('| --- | --: | --: |');
for (const coding of ['gzip', 'br', 'zstd'] as ContentCoding[]) {
  const level = defaultLevels[coding];
  let before = process.cpuUsage();
  for (let i = 0; i < hits; i++) compressBuffer(models, coding, level);
  let used = process.cpuUsage(before);
  const perHit = (used.user + used.system) / hits;
  const cache = new VariantCache({ maxBytes: 16 * 1024 * 1024 });
  before = process.cpuUsage();
  for (let i = 0; i < hits; i++) cache.variant('models', models, coding, level);
  used = process.cpuUsage(before);
  console.log(`| ${coding} | ${round(perHit)} | ${round((used.user + used.system) / hits, 2)} |`);
}
