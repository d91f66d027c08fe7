import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import t from 'tap';
import type { ContentCoding } from '../../src/compression/negotiate.ts';
import { type Compress, compressBuffer, VariantCache } from '../../src/compression/variants.ts';

const body = Buffer.from(JSON.stringify({ text: 'cached answer '.repeat(300) }));

const decompress: Record<ContentCoding, (input: Buffer) => Buffer> = {
  gzip: (input) => zlib.gunzipSync(input),
  br: (input) => zlib.brotliDecompressSync(input),
  zstd: (input) => zlib.zstdDecompressSync(input),
};

t.test('compressBuffer round-trips every coding and validates the level', async (t) => {
  for (const coding of ['gzip', 'br', 'zstd'] as const) {
    const encoded = compressBuffer(body, coding, coding === 'br' ? 11 : 9);
    t.ok(encoded.length < body.length / 10, coding);
    t.same(decompress[coding](encoded), body, coding);
  }
  t.same(zlib.zstdDecompressSync(compressBuffer(body, 'zstd', 22)), body, 'zstd 22 (window capped)');
  t.same(zlib.gunzipSync(compressBuffer(Buffer.alloc(0), 'gzip', 6)), Buffer.alloc(0), 'empty body');
  t.throws(() => compressBuffer(body, 'br', 12), /br level/);
});

function counting(): { compress: Compress; calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    compress: (input, coding, level) => {
      calls.push(`${coding}@${level}`);
      return compressBuffer(input, coding, level);
    },
  };
}

t.test('a variant is compressed once per (key, coding), then served kept', async (t) => {
  const { compress, calls } = counting();
  const cache = new VariantCache({ maxBytes: 1024 * 1024, compress });
  const first = cache.variant('entry-1', body, 'gzip', 6);
  const second = cache.variant('entry-1', body, 'gzip', 6);
  t.equal(second, first, 'the same Buffer');
  t.same(calls, ['gzip@6']);
  cache.variant('entry-1', body, 'br', 4);
  cache.variant('entry-1', body, 'br', 4);
  cache.variant('entry-2', body, 'gzip', 6);
  cache.variant('entry-1', body, 'gzip', 9);
  t.same(calls, ['gzip@6', 'br@4', 'gzip@6', 'gzip@9'], 'per coding, per entry, per level');
  t.equal(cache.hits, 2);
  t.equal(cache.misses, 4);
  t.same(decompress.br(cache.variant('entry-1', body, 'br', 4)), body);
});

t.test('bounded by bytes: old variants are evicted, oversized ones served but not kept', async (t) => {
  const { compress, calls } = counting();
  const cache = new VariantCache({ maxBytes: 4096, compress });
  // Random bytes do not compress: each variant is ~300 bytes, 50 of them far over the bound.
  const bodies = Array.from({ length: 50 }, () => randomBytes(300));
  for (const [i, item] of bodies.entries()) {
    cache.variant(`entry-${i}`, item, 'gzip', 6);
    t.ok(cache.bytes <= 4096, `after ${i + 1}: ${cache.bytes} bytes`);
  }
  t.ok(cache.size < 50, 'some were evicted');
  const before = calls.length;
  cache.variant('entry-0', bodies[0]!, 'gzip', 6);
  t.equal(calls.length, before + 1, 'an evicted variant is compressed again');

  const small = new VariantCache({ maxBytes: 1000, maxEntryBytes: 100, compress });
  const random = Buffer.from(Array.from({ length: 2000 }, (_, i) => (i * 7919) % 251));
  const big = small.variant('big', random, 'gzip', 1);
  t.same(zlib.gunzipSync(big), random, 'served');
  t.equal(small.size, 0, 'not kept');
  t.throws(() => new VariantCache({ maxBytes: 0 }), /maxBytes/);
});
