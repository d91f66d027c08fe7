/**
 * The bytes a cached answer is kept as in Redis. Redis may hold values Sluice did not write, or
 * wrote in another version, or lost the end of; all of those must read as a miss, never as an
 * answer, so the format says what it is and carries enough to check itself:
 *
 *   offset 0  magic 0xC5 (not ASCII, so no JSON or text value written by something else matches)
 *          1  format version (1)
 *          2  flags: bits 0–1 body compression (0 none, 1 zstd, 2 brotli); other bits reserved, 0
 *          3  header block length, uint32 big-endian
 *          7  header block: UTF-8 JSON {status, headers, stream, storedAt, expiresAt, bodyLength, bodyCrc32}
 *          …  the body, compressed or not, to the end of the value
 *
 * `bodyLength` and `bodyCrc32` describe the body as served, so a truncated or altered value (or a
 * decompressor that stopped early) is caught before it could be replayed as a shorter answer.
 * A change to the layout or to the meaning of a field takes a new version; an old reader then
 * misses on new values (and the other way round) until the entries expire.
 */
import * as zlib from 'node:zlib';
import { jsonObject } from '../llm/json.ts';
import type { CachedResponse } from './entry.ts';

const MAGIC = 0xc5;
const VERSION = 1;
const PREFIX_BYTES = 7;
const COMPRESSION_MASK = 0b11;
const NONE = 0;
const ZSTD = 1;
const BROTLI = 2;
const utf8 = new TextDecoder('utf-8', { fatal: true });

type Codec = {
  readonly compress: (body: Buffer) => Buffer;
  readonly decompress: (bytes: Buffer, options: { maxOutputLength: number }) => Buffer;
};

// zstd arrived in Node 22.15; brotli (at a quality cheap enough for the request path) stands in
// on earlier 22.x. A value compressed with a codec this process lacks reads as a miss.
const hasZstd = typeof zlib.zstdCompressSync === 'function';
const codecs = new Map<number, Codec>([
  [
    BROTLI,
    {
      compress: (body) =>
        zlib.brotliCompressSync(body, {
          params: {
            [zlib.constants.BROTLI_PARAM_QUALITY]: 5,
            [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_TEXT,
            [zlib.constants.BROTLI_PARAM_SIZE_HINT]: body.length,
          },
        }),
      decompress: zlib.brotliDecompressSync,
    },
  ],
]);
if (hasZstd) {
  codecs.set(ZSTD, { compress: (body) => zlib.zstdCompressSync(body), decompress: zlib.zstdDecompressSync });
}
const preferredCompression = hasZstd ? ZSTD : BROTLI;

interface HeaderBlock {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly stream: boolean;
  readonly storedAt: number;
  readonly expiresAt: number;
  readonly bodyLength: number;
  readonly bodyCrc32: number;
}

/**
 * The entry as Redis keeps it. The body is compressed when it is longer than `compressAboveBytes`
 * and compressing makes it shorter (already-compressed upstream bodies do not shrink).
 */
export function encodeEntry(entry: CachedResponse, compressAboveBytes: number): Buffer {
  const { body } = entry;
  let compression = NONE;
  let stored = body;
  if (body.length > compressAboveBytes) {
    const compressed = codecs.get(preferredCompression)!.compress(body);
    if (compressed.length < body.length) {
      compression = preferredCompression;
      stored = compressed;
    }
  }
  const header: HeaderBlock = {
    status: entry.status,
    headers: { ...entry.headers },
    stream: entry.stream,
    storedAt: entry.storedAt,
    expiresAt: entry.expiresAt,
    bodyLength: body.length,
    bodyCrc32: zlib.crc32(body),
  };
  const headerBytes = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.allocUnsafe(PREFIX_BYTES);
  prefix[0] = MAGIC;
  prefix[1] = VERSION;
  prefix[2] = compression;
  prefix.writeUInt32BE(headerBytes.length, 3);
  return Buffer.concat([prefix, headerBytes, stored]);
}

/**
 * The entry Redis kept, or undefined for anything that is not a whole version-1 entry: another
 * format or version, truncation, garbage, a codec this process lacks. Never throws — a bad value
 * is a miss. An uncompressed body is a view into `bytes`, not a copy.
 */
export function decodeEntry(bytes: Buffer): CachedResponse | undefined {
  try {
    return decode(bytes);
  } catch {
    // JSON, UTF-8 and decompression errors: all mean the value is not one of ours.
    return undefined;
  }
}

function decode(bytes: Buffer): CachedResponse | undefined {
  if (bytes.length < PREFIX_BYTES || bytes[0] !== MAGIC || bytes[1] !== VERSION) return undefined;
  const flags = bytes[2]!;
  if ((flags & ~COMPRESSION_MASK) !== 0) return undefined;
  const headerEnd = PREFIX_BYTES + bytes.readUInt32BE(3);
  if (headerEnd > bytes.length) return undefined;
  const header = headerBlock(JSON.parse(utf8.decode(bytes.subarray(PREFIX_BYTES, headerEnd))));
  if (header === undefined) return undefined;

  const stored = bytes.subarray(headerEnd);
  const compression = flags & COMPRESSION_MASK;
  let body: Buffer;
  if (compression === NONE) {
    body = stored;
  } else {
    const codec = codecs.get(compression);
    // Nothing compresses to an empty body, and maxOutputLength must be at least 1.
    if (codec === undefined || header.bodyLength === 0) return undefined;
    // The declared length caps the output, so a corrupt value cannot inflate without bound.
    body = codec.decompress(stored, { maxOutputLength: header.bodyLength });
  }
  if (body.length !== header.bodyLength || zlib.crc32(body) !== header.bodyCrc32) return undefined;

  return {
    status: header.status,
    headers: header.headers,
    body,
    stream: header.stream,
    storedAt: header.storedAt,
    expiresAt: header.expiresAt,
  };
}

const isUint = (value: unknown, max: number): value is number =>
  Number.isSafeInteger(value) && (value as number) >= 0 && (value as number) <= max;

/** The header block, if every field is there with its type. */
function headerBlock(value: unknown): HeaderBlock | undefined {
  const fields = jsonObject(value);
  if (fields === undefined) return undefined;
  const { status, bodyLength, bodyCrc32, stream, storedAt, expiresAt } = fields;
  const headers = jsonObject(fields['headers']);
  if (!isUint(status, 599) || status < 100) return undefined;
  if (headers === undefined || !Object.values(headers).every((text) => typeof text === 'string')) {
    return undefined;
  }
  if (typeof stream !== 'boolean') return undefined;
  if (!Number.isFinite(storedAt) || !Number.isFinite(expiresAt)) return undefined;
  if (!isUint(bodyLength, Number.MAX_SAFE_INTEGER) || !isUint(bodyCrc32, 0xffff_ffff)) return undefined;
  return {
    status,
    headers: headers as Record<string, string>,
    stream,
    storedAt: storedAt as number,
    expiresAt: expiresAt as number,
    bodyLength,
    bodyCrc32,
  };
}
