/**
 * Decoding what the LLM observer reads: a compressed JSON answer (decompressed once, at its end,
 * with a cap on the output) and strings kept from a stream read as latin1.
 */
import * as zlib from 'node:zlib';

type Decoder = (data: Buffer, options: { maxOutputLength: number }) => Buffer;

const decoders: Readonly<Record<string, Decoder>> = {
  gzip: zlib.gunzipSync,
  'x-gzip': zlib.gunzipSync,
  deflate: zlib.inflateSync,
  br: zlib.brotliDecompressSync,
  // zstd arrived in Node 22.15; earlier 22.x lack it.
  ...(typeof zlib.zstdDecompressSync === 'function' ? { zstd: zlib.zstdDecompressSync as Decoder } : {}),
};

/** Whether a JSON body in this Content-Encoding can be read (decompressed once, at its end). */
export function canDecodeJson(contentEncoding: string): boolean {
  return contentEncoding in decoders;
}

/** The body decompressed (throws ERR_BUFFER_TOO_LARGE past `maxOutputLength`), or as is without an encoding. */
export function decodeBody(
  raw: Buffer,
  contentEncoding: string | undefined,
  maxOutputLength: number,
): Buffer {
  const decode = contentEncoding === undefined ? undefined : decoders[contentEncoding];
  return decode ? decode(raw, { maxOutputLength }) : raw;
}

/**
 * SSE is read as latin1 — one character per byte, so no decoder state across chunks and the
 * cheapest string to make, and the protocol's own syntax is ASCII — so the few strings kept from
 * it are re-read as the UTF-8 they were.
 */
export function utf8FromLatin1(value: string): string {
  for (let i = 0; i < value.length; i++) {
    if (value.charCodeAt(i) > 0x7f) return Buffer.from(value, 'latin1').toString('utf8');
  }
  return value;
}
