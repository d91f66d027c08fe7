/**
 * Response compression at write time, on routes with `compression`: after every stage, so the cache
 * stores and the LLM accounting reads the body as the upstream sent it, and only the bytes to the
 * client are encoded. A buffered body is compressed at once; a stream goes through a zlib encoder
 * that flushes after every SSE event, so events still reach the client one by one.
 */
import type { OutgoingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import { createEncoder } from '../compression/encoder.ts';
import type { ContentCoding } from '../compression/negotiate.ts';
import { applyDecision, shouldCompress } from '../compression/policy.ts';
import { compressBuffer } from '../compression/variants.ts';
import type { ProxyContext, ResponseDraft } from '../pipeline/context.ts';

export interface CompressionOutcome {
  /** The coding used, or why the body went as it was (the metric's `result`). */
  readonly result: string;
  readonly encoding: ContentCoding | undefined;
  /** Uncompressed bytes that went into the encoder. */
  bytesIn: number;
}

export interface CompressedBody {
  readonly body: ResponseDraft['body'];
  readonly outcome: CompressionOutcome | undefined;
  /** The body's readers were handed to the encoder's feed; the writer must not call them again. */
  readonly observed: boolean;
}

function declaredLength(headers: OutgoingHttpHeaders, body: ResponseDraft['body']): number | undefined {
  if (body !== null && !(body instanceof Readable)) return Buffer.byteLength(body);
  const length = headers['content-length'];
  return length === undefined ? undefined : Number(length);
}

/**
 * Decides for this response and adjusts its headers (Content-Encoding, Vary, ETag); returns the body
 * to write: compressed bytes, an encoder the upstream stream is to be written into, or the body as
 * it was.
 */
export function compressBody(ctx: ProxyContext, draft: ResponseDraft): CompressedBody {
  const settings = ctx.route.compression;
  const { body, headers } = draft;
  if (settings === undefined) return { body, outcome: undefined, observed: false };
  const decision = shouldCompress({
    status: draft.status,
    method: ctx.req.method ?? 'GET',
    requestHeaders: ctx.req.headers,
    responseHeaders: headers,
    contentLength: declaredLength(headers, body),
    settings,
  });
  applyDecision(headers, decision);
  if (!decision.compress) {
    return { body, outcome: { result: decision.reason, encoding: undefined, bytesIn: 0 }, observed: false };
  }
  const { encoding } = decision;
  const level = settings.levels[encoding];
  const outcome: CompressionOutcome = { result: encoding, encoding, bytesIn: 0 };
  if (body === null) return { body, outcome, observed: false };
  if (!(body instanceof Readable)) {
    const plain = typeof body === 'string' ? Buffer.from(body) : body;
    outcome.bytesIn = plain.length;
    const compressed = compressBuffer(plain, encoding, level);
    headers['content-length'] = compressed.length;
    return { body: compressed, outcome, observed: false };
  }
  const encoder = createEncoder(encoding, { level, sse: decision.sse });
  // The upstream stream feeds the encoder; the client reads the encoder. Destroying the returned
  // stream (the client left) must stop the upstream transfer too.
  const { observer } = draft;
  body.on('data', (chunk: Buffer) => {
    outcome.bytesIn += chunk.length;
    const flowing = encoder.write(chunk);
    // Readers of the body (LLM accounting) see it as the upstream sent it, after the write.
    observer?.observe(chunk);
    if (!flowing) {
      body.pause();
      encoder.once('drain', () => body.resume());
    }
  });
  body.once('end', () => encoder.end());
  body.once('error', (error) => encoder.destroy(error));
  // Either side going away ends the other: the client left (the upstream body is destroyed), or
  // the encoder failed.
  body.once('close', () => {
    if (!body.readableEnded && !encoder.destroyed) encoder.destroy();
  });
  encoder.once('close', () => {
    if (!body.readableEnded) body.destroy();
  });
  return { body: encoder, outcome, observed: true };
}
