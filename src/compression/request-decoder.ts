/**
 * Request bodies sent with a Content-Encoding, decoded where a route allows it. The body limit
 * applies to what comes out, counted as it streams: a zip bomb (a few KiB that inflate to
 * gigabytes) is cut within one zlib chunk past the limit, never inflated in full.
 *
 * zlib's `maxOutputLength` is not used: it only bounds the one-shot helpers (zlib.gunzip(buf)),
 * which do stop early too but cannot stack codings, take a stream, or say how far they got. The
 * counting here covers all three with one code path.
 */
import { Readable, Transform, type TransformCallback, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';

/** Codings Sluice can decode on requests. */
export type RequestCoding = 'gzip' | 'deflate' | 'br' | 'zstd';
export const requestCodings: readonly RequestCoding[] = ['gzip', 'deflate', 'br', 'zstd'];

/** Stacking beyond this is refused: no client needs it, and each layer costs CPU. */
const MAX_LAYERS = 3;

/** How the caller answers: too_large → 413, unsupported_encoding → 415, malformed → 400. */
export type DecodeErrorKind = 'too_large' | 'unsupported_encoding' | 'malformed';

const statusOf: Readonly<Record<DecodeErrorKind, 413 | 415 | 400>> = {
  too_large: 413,
  unsupported_encoding: 415,
  malformed: 400,
};

export class RequestDecodeError extends Error {
  readonly kind: DecodeErrorKind;
  readonly status: 413 | 415 | 400;
  /**
   * For a 415: the codings this route accepts, as the response's Accept-Encoding header (RFC 9110
   * §12.5.3 asks for it, so a client can retry with one of them).
   */
  readonly acceptEncoding: string | undefined;
  /** Decoded bytes produced before the error (all layers); shows how early a bomb was cut. */
  readonly decodedBytes: number;

  constructor(
    kind: DecodeErrorKind,
    message: string,
    options: { cause?: unknown; acceptEncoding?: string; decodedBytes?: number } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'RequestDecodeError';
    this.kind = kind;
    this.status = statusOf[kind];
    this.acceptEncoding = options.acceptEncoding;
    this.decodedBytes = options.decodedBytes ?? 0;
  }
}

export interface DecodeOptions {
  /** Bytes allowed out of every layer (the route's body limit). */
  readonly limit: number;
  /** Codings this route accepts. */
  readonly allowed: readonly RequestCoding[];
}

/** RFC 9110 §8.4.1.3: x-gzip is gzip. */
const aliases: Readonly<Record<string, RequestCoding>> = { 'x-gzip': 'gzip' };

/**
 * The codings to undo, in the order to undo them: Content-Encoding lists them in the order they
 * were applied (RFC 9110 §8.4), so the last is removed first. `identity` changes nothing.
 */
export function decodingOrder(
  contentEncoding: string | readonly string[] | undefined,
  allowed: readonly RequestCoding[],
): RequestCoding[] {
  if (contentEncoding === undefined) return [];
  const joined = typeof contentEncoding === 'string' ? contentEncoding : contentEncoding.join(',');
  const order: RequestCoding[] = [];
  for (const raw of joined.split(',')) {
    const name = raw.trim().toLowerCase();
    if (name === '' || name === 'identity') continue;
    const coding = aliases[name] ?? (requestCodings as readonly string[]).find((known) => known === name);
    if (coding === undefined || !allowed.includes(coding as RequestCoding)) {
      throw new RequestDecodeError('unsupported_encoding', `Content-Encoding ${name} is not accepted here.`, {
        acceptEncoding: allowed.join(', '),
      });
    }
    order.unshift(coding as RequestCoding);
  }
  if (order.length > MAX_LAYERS) {
    throw new RequestDecodeError('unsupported_encoding', `More than ${MAX_LAYERS} content codings.`, {
      acceptEncoding: allowed.join(', '),
    });
  }
  return order;
}

function createDecompressor(coding: RequestCoding): Transform {
  switch (coding) {
    case 'gzip':
      return zlib.createGunzip();
    // HTTP's deflate is the zlib format (RFC 9110 §8.4.1.2); raw deflate fails as malformed.
    case 'deflate':
      return zlib.createInflate();
    case 'br':
      return zlib.createBrotliDecompress();
    case 'zstd':
      // A frame may ask for a window up to 2 GiB, allocated before any output: a memory bomb that
      // no output count can catch. RFC 9659 §3 lets HTTP decoders refuse windows over 8 MiB.
      return zlib.createZstdDecompress({ params: { [zlib.constants.ZSTD_d_windowLogMax]: 23 } });
  }
}

/** Counts one layer's output and fails once it passes the limit. */
class OutputLimit extends Transform {
  private bytes = 0;
  private readonly limit: number;
  private readonly total: { bytes: number };

  constructor(limit: number, total: { bytes: number }) {
    super();
    this.limit = limit;
    this.total = total;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    this.total.bytes += chunk.length;
    if (this.bytes > this.limit) {
      callback(
        new RequestDecodeError('too_large', `The decoded body is larger than ${this.limit} bytes.`, {
          decodedBytes: this.total.bytes,
        }),
      );
    } else callback(null, chunk);
  }
}

/**
 * The Transforms that decode a body with `order` (from decodingOrder), each decompressor followed
 * by its limit, for a streamed body: `pipeline(req, ...decodingTransforms(order, limit), dest)`.
 * Errors are zlib's own for corrupt input (mapped by toDecodeError) and RequestDecodeError.
 */
export function decodingTransforms(
  order: readonly RequestCoding[],
  limit: number,
  total: { bytes: number } = { bytes: 0 },
): Transform[] {
  return order.flatMap((coding) => [createDecompressor(coding), new OutputLimit(limit, total)]);
}

/** Any error of a decoding pipeline as a RequestDecodeError: zlib's errors mean malformed input. */
export function toDecodeError(error: unknown, decodedBytes: number): RequestDecodeError {
  if (error instanceof RequestDecodeError) return error;
  return new RequestDecodeError('malformed', 'The request body could not be decoded.', {
    cause: error,
    decodedBytes,
  });
}

/**
 * The body decoded, whole. `body` is the request body as received (read whole with the limit on
 * its encoded size, or a stream); the limit applies again to every decoded layer.
 */
export async function decodeRequestBody(
  body: Buffer | Readable,
  contentEncoding: string | readonly string[] | undefined,
  options: DecodeOptions,
): Promise<Buffer> {
  const order = decodingOrder(contentEncoding, options.allowed);
  if (order.length === 0) return Buffer.isBuffer(body) ? body : collect(body, options.limit);
  const total = { bytes: 0 };
  const chunks: Buffer[] = [];
  let size = 0;
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      size += chunk.length;
      callback();
    },
  });
  const source = Buffer.isBuffer(body) ? Readable.from([body]) : body;
  try {
    await pipeline([source, ...decodingTransforms(order, options.limit, total), sink]);
  } catch (error) {
    throw toDecodeError(error, total.bytes);
  }
  return Buffer.concat(chunks, size);
}

/** An unencoded stream read whole, under the same limit. */
async function collect(body: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      body.destroy();
      throw new RequestDecodeError('too_large', `The body is larger than ${limit} bytes.`, {
        decodedBytes: size,
      });
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, size);
}
