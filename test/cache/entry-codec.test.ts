import { randomBytes } from 'node:crypto';
import * as zlib from 'node:zlib';
import t from 'tap';
import type { CachedResponse } from '../../src/cache/entry.ts';
import { decodeEntry, encodeEntry } from '../../src/cache/entry-codec.ts';

const sse = Buffer.from(
  Array.from({ length: 200 }, (_, i) => `data: {"choices":[{"delta":{"content":"token ${i} café"}}]}\n\n`)
    .concat('data: [DONE]\n\n')
    .join(''),
);

const entry = (body: Buffer, overrides: Partial<CachedResponse> = {}): CachedResponse => ({
  status: 200,
  headers: { 'content-type': 'text/event-stream', 'openai-model': 'gpt-4o-mini' },
  body,
  stream: true,
  storedAt: 1_700_000_000_000,
  expiresAt: 1_700_000_060_000,
  ...overrides,
});

const COMPRESSION_BYTE = 2;

t.test('round trip without compression keeps every field and byte', async (t) => {
  const original = entry(sse);
  const bytes = encodeEntry(original, Number.POSITIVE_INFINITY);
  t.equal(bytes[COMPRESSION_BYTE], 0);
  t.ok(bytes.length > sse.length);
  t.same(decodeEntry(bytes), original);
});

t.test('round trip with compression above the threshold', async (t) => {
  const original = entry(sse);
  const bytes = encodeEntry(original, 1024);
  t.equal(bytes[COMPRESSION_BYTE], typeof zlib.zstdCompressSync === 'function' ? 1 : 2);
  t.ok(bytes.length < sse.length / 2, `compressed to ${bytes.length} of ${sse.length}`);
  const decoded = decodeEntry(bytes);
  t.same(decoded, original);
  t.ok(decoded?.body.equals(sse));
});

t.test('a body at or below the threshold is not compressed', async (t) => {
  t.equal(encodeEntry(entry(sse), sse.length)[COMPRESSION_BYTE], 0);
  t.not(encodeEntry(entry(sse), sse.length - 1)[COMPRESSION_BYTE], 0);
});

t.test('a body compression does not shrink is stored as is', async (t) => {
  const incompressible = randomBytes(16 * 1024);
  const original = entry(incompressible, { headers: { 'content-encoding': 'gzip' }, stream: false });
  const bytes = encodeEntry(original, 0);
  t.equal(bytes[COMPRESSION_BYTE], 0);
  t.same(decodeEntry(bytes), original);
});

t.test('an empty body and a JSON answer round-trip', async (t) => {
  const empty = entry(Buffer.alloc(0), { status: 204, headers: {}, stream: false });
  t.same(decodeEntry(encodeEntry(empty, 0)), empty);
  const json = entry(Buffer.from('{"id":"x"}'), {
    stream: false,
    headers: { 'content-type': 'application/json' },
  });
  t.same(decodeEntry(encodeEntry(json, 0)), json);
});

t.test('truncation anywhere is a miss, compressed or not', async (t) => {
  for (const threshold of [Number.POSITIVE_INFINITY, 0]) {
    const bytes = encodeEntry(entry(sse), threshold);
    for (const cut of [0, 1, 3, 6, 7, 20, bytes.length - 100, bytes.length - 1]) {
      t.equal(decodeEntry(bytes.subarray(0, cut)), undefined, `cut at ${cut} (threshold ${threshold})`);
    }
  }
});

t.test('extra bytes after the body are a miss', async (t) => {
  const bytes = encodeEntry(entry(sse), Number.POSITIVE_INFINITY);
  t.equal(decodeEntry(Buffer.concat([bytes, Buffer.from('x')])), undefined);
});

t.test('a flipped body byte is caught by the checksum', async (t) => {
  const bytes = encodeEntry(entry(sse), Number.POSITIVE_INFINITY);
  const flipped = Buffer.from(bytes);
  flipped[flipped.length - 50]! ^= 0x01;
  t.equal(decodeEntry(flipped), undefined);
});

t.test('another version, unknown flags or magic are a miss', async (t) => {
  const bytes = encodeEntry(entry(sse), 0);
  for (const [offset, value] of [
    [0, 0x7b],
    [1, 2],
    [2, 0b100],
    [2, 3],
  ] as const) {
    const changed = Buffer.from(bytes);
    changed[offset] = value;
    t.equal(decodeEntry(changed), undefined, `byte ${offset} = ${value}`);
  }
});

t.test('garbage never throws and never decodes', async (t) => {
  const samples = [
    Buffer.alloc(0),
    Buffer.from('{"status":200}'),
    Buffer.from('OK'),
    Buffer.from([0xc5, 1, 0, 0xff, 0xff, 0xff, 0xff]),
    Buffer.from([0xc5, 1, 0, 0, 0, 0, 2, 0x7b, 0x7d]),
    Buffer.from([0xc5, 1, 1, 0, 0, 0, 0]),
  ];
  let seed = 7;
  for (let i = 0; i < 200; i++) {
    const random = Buffer.alloc(1 + (i % 64));
    for (let j = 0; j < random.length; j++) {
      seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff;
      random[j] = seed & 0xff;
    }
    if (i % 2 === 0) random[0] = 0xc5;
    if (i % 4 === 0) random[1] = 1;
    samples.push(random);
  }
  for (const sample of samples) t.equal(decodeEntry(sample), undefined);
});

/** A well-formed prefix around a hand-written header block. */
function withHeader(header: unknown, body = Buffer.alloc(0), compression = 0): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.from([0xc5, 1, compression, 0, 0, 0, 0]);
  prefix.writeUInt32BE(json.length, 3);
  return Buffer.concat([prefix, json, body]);
}

t.test('a header block with a missing or mistyped field is a miss', async (t) => {
  const good = {
    status: 200,
    headers: {},
    stream: false,
    storedAt: 1,
    expiresAt: 2,
    bodyLength: 2,
    bodyCrc32: zlib.crc32(Buffer.from('{}')),
  };
  t.ok(decodeEntry(withHeader(good, Buffer.from('{}'))), 'the control decodes');
  for (const [field, value] of [
    ['status', 99],
    ['status', 600],
    ['status', '200'],
    ['headers', []],
    ['headers', { a: 1 }],
    ['headers', null],
    ['stream', 'true'],
    ['storedAt', null],
    ['expiresAt', 'soon'],
    ['bodyLength', -1],
    ['bodyLength', 1.5],
    ['bodyCrc32', 2 ** 32],
  ] as const) {
    t.equal(decodeEntry(withHeader({ ...good, [field]: value }, Buffer.from('{}'))), undefined, `${field}`);
  }
  const { bodyCrc32: _, ...withoutChecksum } = good;
  t.equal(decodeEntry(withHeader(withoutChecksum, Buffer.from('{}'))), undefined, 'no checksum');
  t.equal(decodeEntry(withHeader([good], Buffer.from('{}'))), undefined, 'not an object');
});

t.test('a compressed body that inflates past its declared length is a miss', async (t) => {
  const big = Buffer.alloc(1 << 20, 'a');
  const compressed = zlib.brotliCompressSync(big);
  const header = { status: 200, headers: {}, stream: false, storedAt: 1, expiresAt: 2 };
  t.equal(decodeEntry(withHeader({ ...header, bodyLength: 10, bodyCrc32: 0 }, compressed, 2)), undefined);
  const declared = { ...header, bodyLength: big.length, bodyCrc32: zlib.crc32(big) };
  t.equal(decodeEntry(withHeader(declared, compressed, 2))?.body.length, big.length, 'brotli is read');
  t.equal(decodeEntry(withHeader({ ...declared, bodyLength: 0 }, compressed, 2)), undefined);
});
