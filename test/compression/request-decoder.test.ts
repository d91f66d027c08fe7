import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import t from 'tap';
import {
  decodeRequestBody,
  decodingOrder,
  type RequestCoding,
  RequestDecodeError,
  requestCodings,
} from '../../src/compression/request-decoder.ts';

const body = Buffer.from(
  JSON.stringify({ model: 'gpt', messages: [{ role: 'user', content: 'hi '.repeat(500) }] }),
);
const all = { limit: 1024 * 1024, allowed: requestCodings };

const encoders: Record<RequestCoding, (input: Buffer) => Buffer> = {
  gzip: (input) => zlib.gzipSync(input),
  deflate: (input) => zlib.deflateSync(input),
  br: (input) => zlib.brotliCompressSync(input),
  zstd: (input) => zlib.zstdCompressSync(input),
};

async function decodeError(promise: Promise<unknown>): Promise<RequestDecodeError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof RequestDecodeError) return error;
    throw error;
  }
  throw new Error('expected a RequestDecodeError');
}

t.test('each coding decodes, from a Buffer and from a stream', async (t) => {
  for (const coding of requestCodings) {
    const encoded = encoders[coding](body);
    t.same(await decodeRequestBody(encoded, coding, all), body, coding);
    const chunks = Array.from({ length: Math.ceil(encoded.length / 7) }, (_, i) =>
      encoded.subarray(i * 7, i * 7 + 7),
    );
    t.same(await decodeRequestBody(Readable.from(chunks), coding, all), body, `${coding} streamed`);
  }
  t.same(await decodeRequestBody(encoders.gzip(body), ' X-GZip ', all), body, 'x-gzip, any case');
});

t.test('no coding, identity: the body as it is', async (t) => {
  t.equal(await decodeRequestBody(body, undefined, all), body);
  t.equal(await decodeRequestBody(body, 'identity', all), body);
  t.equal(await decodeRequestBody(body, '', all), body);
  t.same(await decodeRequestBody(Readable.from([body]), undefined, all), body);
  const over = await decodeError(decodeRequestBody(Readable.from([body]), undefined, { ...all, limit: 10 }));
  t.equal(over.status, 413);
});

t.test('stacked codings are undone last first', async (t) => {
  t.same(decodingOrder('gzip, br', requestCodings), ['br', 'gzip']);
  t.same(decodingOrder(['gzip', 'identity, zstd'], requestCodings), ['zstd', 'gzip']);
  const stacked = encoders.br(encoders.gzip(body));
  t.same(await decodeRequestBody(stacked, 'gzip, br', all), body);
  const three = encoders.zstd(encoders.deflate(encoders.gzip(body)));
  t.same(await decodeRequestBody(three, 'gzip,deflate,zstd', all), body);
  const wrongOrder = await decodeError(decodeRequestBody(stacked, 'br, gzip', all));
  t.equal(wrongOrder.kind, 'malformed');
});

t.test('unknown, not allowed or too deeply stacked codings: 415 with Accept-Encoding', async (t) => {
  for (const [header, allowed] of [
    ['lzma', requestCodings],
    ['compress', requestCodings],
    ['gzip, lzma', requestCodings],
    ['br', ['gzip', 'zstd']],
    ['gzip', []],
    ['gzip, gzip, gzip, gzip', requestCodings],
  ] as const) {
    const error = await decodeError(decodeRequestBody(body, header, { limit: 1e6, allowed }));
    t.equal(error.kind, 'unsupported_encoding', header);
    t.equal(error.status, 415);
    t.equal(error.acceptEncoding, allowed.join(', '));
  }
});

t.test('corrupt or truncated input: malformed (400)', async (t) => {
  const gzip = encoders.gzip(body);
  for (const [label, input, coding] of [
    ['garbage', Buffer.from('not gzip at all'), 'gzip'],
    ['truncated', gzip.subarray(0, gzip.length - 10), 'gzip'],
    ['raw deflate', zlib.deflateRawSync(body), 'deflate'],
    ['br garbage', Buffer.from('definitely not brotli'), 'br'],
    ['zstd garbage', Buffer.from('definitely not zstd'), 'zstd'],
  ] as const) {
    const error = await decodeError(decodeRequestBody(input, coding, all));
    t.equal(error.kind, 'malformed', label);
    t.equal(error.status, 400);
    t.ok(error.cause, `${label}: zlib's error is the cause`);
  }
});

t.test('a body exactly at the limit passes; one byte over fails', async (t) => {
  const exact = Buffer.alloc(50_000, 'a');
  t.equal((await decodeRequestBody(encoders.gzip(exact), 'gzip', { ...all, limit: 50_000 })).length, 50_000);
  const over = await decodeError(decodeRequestBody(encoders.gzip(exact), 'gzip', { ...all, limit: 49_999 }));
  t.equal(over.kind, 'too_large');
});

const MiB = 1024 * 1024;
const zeros = Buffer.alloc(10 * MiB);

t.test('zip bombs fail fast with 413 and are never inflated whole', async (t) => {
  const bombs: [string, Buffer][] = [
    ['gzip', encoders.gzip(zeros)],
    ['deflate', encoders.deflate(zeros)],
    ['br', encoders.br(zeros)],
    ['zstd', encoders.zstd(zeros)],
    ['gzip, gzip', encoders.gzip(encoders.gzip(zeros))],
  ];
  for (const [coding, bomb] of bombs) {
    t.ok(bomb.length < 64 * 1024, `${coding}: ${bomb.length} bytes inflate to 10 MiB`);
    const error = await decodeError(decodeRequestBody(bomb, coding, { limit: MiB, allowed: requestCodings }));
    t.equal(error.kind, 'too_large', coding);
    t.equal(error.status, 413);
    // Bytes that came out before the cut: about one zlib chunk (16 KiB) per layer past the limit.
    t.ok(
      error.decodedBytes > MiB && error.decodedBytes < MiB + 256 * 1024,
      `${coding}: cut at ${error.decodedBytes}`,
    );
  }
});

t.test('a 1 MiB bomb that inflates to gigabytes, streamed in: only its first KiB are read', async (t) => {
  // Concatenated gzip members and zstd frames decode as one body: copies of 10 MiB of zeros up to
  // 1 MiB of input (100 gzip members, ~3000 zstd frames).
  for (const [coding, member] of [
    ['gzip', encoders.gzip(zeros)],
    ['zstd', encoders.zstd(zeros)],
  ] as const) {
    const bomb = Buffer.concat(Array.from({ length: Math.ceil(MiB / member.length) }, () => member));
    let pulled = 0;
    const source = Readable.from(
      (function* () {
        for (let at = 0; at < bomb.length; at += 1024) {
          pulled += Math.min(1024, bomb.length - at);
          yield bomb.subarray(at, at + 1024);
        }
      })(),
    );
    const error = await decodeError(
      decodeRequestBody(source, coding, { limit: MiB, allowed: requestCodings }),
    );
    t.equal(error.kind, 'too_large', coding);
    t.ok(error.decodedBytes < MiB + 256 * 1024, `${coding}: cut at ${error.decodedBytes}`);
    // Stream buffers (16 KiB here and there, 16 objects in Readable.from) hold a little more.
    t.ok(pulled < 128 * 1024, `${coding}: read ${pulled} of ${bomb.length} bytes`);
  }
});

t.test('zstd frames that ask for a window over 8 MiB are refused before allocating it', async (t) => {
  const frame = zlib.zstdCompressSync(Buffer.alloc(16 * MiB), {
    params: { [zlib.constants.ZSTD_c_windowLog]: 24 },
  });
  const error = await decodeError(decodeRequestBody(frame, 'zstd', { limit: 32 * MiB, allowed: ['zstd'] }));
  t.equal(error.kind, 'malformed');
  t.equal(error.decodedBytes, 0);
});
