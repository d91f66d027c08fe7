import { randomBytes } from 'node:crypto';
import { type Duplex, PassThrough, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import t, { type Test } from 'tap';
import { createEncoder, SseBoundaryTracker } from '../../src/compression/encoder.ts';
import type { ContentCoding } from '../../src/compression/negotiate.ts';

const codings: ContentCoding[] = ['gzip', 'br', 'zstd'];

function decompressor(coding: ContentCoding): Duplex {
  if (coding === 'gzip') return zlib.createGunzip();
  if (coding === 'br') return zlib.createBrotliDecompress();
  return zlib.createZstdDecompress();
}

function decompressSync(coding: ContentCoding, body: Buffer): Buffer {
  if (coding === 'gzip') return zlib.gunzipSync(body);
  if (coding === 'br') return zlib.brotliDecompressSync(body);
  return zlib.zstdDecompressSync(body);
}

async function encodeAll(encoder: Duplex, chunks: readonly (string | Buffer)[]): Promise<Buffer> {
  const out: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      out.push(chunk);
      callback();
    },
  });
  await pipeline(Readable.from(chunks.map((chunk) => Buffer.from(chunk))), encoder, sink);
  return Buffer.concat(out);
}

const text = JSON.stringify({
  choices: Array.from({ length: 200 }, (_, i) => ({ index: i, text: 'hello' })),
});

t.test('each coding round-trips, plain and SSE mode, at its level bounds', async (t) => {
  const levels: Record<ContentCoding, number[]> = { gzip: [1, 6, 9], br: [0, 4, 11], zstd: [1, 3, 20, 22] };
  for (const coding of codings) {
    for (const level of levels[coding]) {
      for (const sse of [false, true]) {
        const chunks = [text.slice(0, 1000), '\n\n', text.slice(1000)];
        const encoded = await encodeAll(createEncoder(coding, { level, sse }), chunks);
        t.ok(encoded.length < text.length / 4, `${coding}@${level} sse=${sse} compresses`);
        t.equal(decompressSync(coding, encoded).toString(), chunks.join(''), `${coding}@${level} sse=${sse}`);
      }
    }
  }
});

t.test('levels are validated per coding', async (t) => {
  t.throws(() => createEncoder('gzip', { level: 0 }), /gzip level must be an integer 1-9/);
  t.throws(() => createEncoder('gzip', { level: 10 }), RangeError);
  t.throws(() => createEncoder('br', { level: 12 }), /br level/);
  t.throws(() => createEncoder('zstd', { level: 23 }), /zstd level/);
  t.throws(() => createEncoder('zstd', { level: 2.5 }), /zstd level/);
  t.doesNotThrow(() => createEncoder('br', { level: 0 }).destroy());
});

/**
 * Writes events one at a time and, after each, waits until the decompressed output holds it whole
 * before writing the next: if the encoder held an event back, this never resolves (tap's timeout).
 */
async function deliversOneByOne(t: Test, coding: ContentCoding, writes: readonly string[][]) {
  const encoder = createEncoder(coding, { level: coding === 'br' ? 4 : 3, sse: true });
  const decoder = decompressor(coding);
  const done = pipeline(encoder, decoder);
  let decoded = '';
  let waiting: { length: number; resolve: () => void } | undefined;
  decoder.on('data', (chunk: Buffer) => {
    decoded += chunk.toString();
    if (waiting && decoded.length >= waiting.length) waiting.resolve();
  });
  let expected = '';
  for (const pieces of writes) {
    for (const piece of pieces) encoder.write(piece);
    expected += pieces.join('');
    // Everything up to the last complete event of what was written must be decodable now.
    const complete = lastEventEnd(expected);
    await new Promise<void>((resolve) => {
      if (decoded.length >= complete) resolve();
      else waiting = { length: complete, resolve };
    });
    t.equal(decoded, expected.slice(0, complete), `${coding}: ${JSON.stringify(pieces)}`);
  }
  encoder.end();
  await done;
  t.equal(decoded, expected, `${coding}: all of it at the end`);
}

function lastEventEnd(stream: string): number {
  return Math.max(
    ...['\n\n', '\r\r', '\r\n\r\n', '\n\r'].map((sep) => {
      const at = stream.lastIndexOf(sep);
      return at === -1 ? 0 : at + sep.length;
    }),
  );
}

const event = (i: number) => `event: delta\ndata: {"index":${i},"text":"token ${i}"}\n\n`;

t.test('SSE: every event is decodable before the next is written', { timeout: 20_000 }, async (t) => {
  for (const coding of codings) {
    await deliversOneByOne(
      t,
      coding,
      Array.from({ length: 20 }, (_, i) => [event(i)]),
    );
  }
});

t.test(
  'SSE: events split across chunks, several per chunk, other line ends',
  { timeout: 20_000 },
  async (t) => {
    for (const coding of codings) {
      await deliversOneByOne(t, coding, [
        ['data: a\n', '\n'],
        ['data: b', '\n', '\n'],
        ['data: c\r\n', '\r\n'],
        ['data: d\r', '\n\r\n'],
        ['data: e\r', '\r'],
        ['data: f\n\ndata: g\n\ndata: h-partial'],
        [' continues\n\n'],
        ['data: i\r\n\r\ndata: j\r\n\r\n'],
        [': comment\n\n'],
      ]);
    }
  },
);

/** Whether the stream prefix ends an event, checked on the whole prefix. */
function endsEvent(prefix: string): boolean {
  const run = /[\r\n]*$/.exec(prefix)![0];
  return run.length >= 3 || (run.length === 2 && run !== '\r\n');
}

t.test('boundary tracker agrees with a whole-stream check for every split', async (t) => {
  const streams = [
    'data: a\n\ndata: b\r\n\r\ndata: c\r\rdata: d\r\n\ndata: e\n\r\n',
    'x\r\ny\r\n\r\nz\n',
    '\n\n\n\r\n\r\r\n',
  ];
  for (const stream of streams) {
    const bytes = Buffer.from(stream);
    const expectedIn = (from: number, to: number) => {
      for (let end = to; end > from; end--) if (endsEvent(stream.slice(0, end))) return end - from;
      return -1;
    };
    // Byte by byte.
    const tracker = new SseBoundaryTracker();
    for (let i = 0; i < bytes.length; i++) {
      t.equal(
        tracker.lastBoundary(bytes.subarray(i, i + 1)),
        expectedIn(i, i + 1),
        `${JSON.stringify(stream)}@${i}`,
      );
    }
    // Every split into two and three chunks.
    for (let a = 0; a <= bytes.length; a++) {
      for (let b = a; b <= bytes.length; b++) {
        const split = new SseBoundaryTracker();
        const found = [
          split.lastBoundary(bytes.subarray(0, a)),
          split.lastBoundary(bytes.subarray(a, b)),
          split.lastBoundary(bytes.subarray(b)),
        ];
        t.same(found, [expectedIn(0, a), expectedIn(a, b), expectedIn(b, bytes.length)]);
      }
    }
  }
});

t.test('SSE mode keeps backpressure: writes stop being accepted while nobody reads', async (t) => {
  for (const coding of codings) {
    const encoder = createEncoder(coding, { level: 1, sse: true });
    const chunk = randomBytes(64 * 1024);
    let written = 0;
    while (encoder.write(chunk) && written < 1000) written++;
    t.ok(written < 100, `${coding}: write() said wait after ${written} chunks`);
    // Reading everything lets it finish, and nothing was lost.
    const out: Buffer[] = [];
    encoder.on('data', (data: Buffer) => out.push(data));
    encoder.end();
    await new Promise((resolve) => encoder.once('end', resolve));
    t.equal(decompressSync(coding, Buffer.concat(out)).length, (written + 1) * chunk.length);
  }
});

t.test('errors propagate through the SSE encoder', async (t) => {
  for (const coding of codings) {
    const source = new PassThrough();
    const encoder = createEncoder(coding, { level: 3, sse: true });
    const done = pipeline(source, encoder, new PassThrough().resume());
    source.write('data: a\n\n');
    source.destroy(new Error('upstream died'));
    await t.rejects(done, /upstream died/);
    t.ok(encoder.destroyed);
  }
  const encoder = createEncoder('gzip', { level: 3, sse: true });
  const failed = new Promise((resolve) => encoder.once('error', resolve));
  encoder.destroy(new Error('boom'));
  t.match(await failed, /boom/);
});
