/**
 * Request body limits. A declared Content-Length over the limit is refused at once; a chunked body
 * is counted as it arrives and cut at the limit, never buffered past it. LLM protocol routes read
 * the body whole (bounded) because later stages need all of it (model, cache key, token estimate);
 * passthrough routes stream it to the upstream through a counting limiter.
 */
import type { IncomingMessage } from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';
import { decodeRequestBody, type RequestCoding, RequestDecodeError } from '../compression/request-decoder.ts';
import type { Stage } from '../pipeline/compose.ts';
import type { ProxyContext } from '../pipeline/context.ts';
import { SluiceError } from '../pipeline/errors.ts';

function declaredLength(req: IncomingMessage): number | undefined {
  const header = req.headers['content-length'];
  return header === undefined ? undefined : Number(header);
}

function tooLarge(limit: number): SluiceError {
  return new SluiceError('request_body_too_large', { detail: `The limit is ${limit} bytes.` });
}

function readWhole(ctx: ProxyContext, limit: number): Promise<Buffer> {
  const { req } = ctx;
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.pause();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(new SluiceError('client_body_error', { cause: error }));
    };
    // A client that leaves mid-body closes the request without 'end' (an EventTarget listener on
    // ctx.signal would do the same at several times the cost, on every request).
    const onClose = () => {
      cleanup();
      reject(new SluiceError('client_closed_request'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/** Passes a streamed body through while counting; errors with 413 once it passes the limit. */
export class BodyLimiter extends Transform {
  bytes = 0;
  private readonly limit: number;

  constructor(limit: number) {
    super();
    this.limit = limit;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limit) callback(tooLarge(this.limit));
    else callback(null, chunk);
  }
}

/**
 * A compressed body (on a route that accepts its coding) is decoded before anything reads or
 * forwards it, with the body limit applied to the decoded size; the upstream gets it plain.
 */
async function decodeBody(
  ctx: ProxyContext,
  body: Buffer,
  allowed: readonly RequestCoding[],
  limit: number,
): Promise<void> {
  const encoding = ctx.req.headers['content-encoding'];
  if (encoding === undefined || encoding.trim().toLowerCase() === 'identity') return;
  try {
    ctx.requestBody = await decodeRequestBody(body, encoding, { limit, allowed });
  } catch (error) {
    if (!(error instanceof RequestDecodeError)) throw error;
    if (error.kind === 'too_large') throw tooLarge(limit);
    if (error.kind === 'unsupported_encoding') {
      throw new SluiceError('unsupported_content_encoding', {
        detail: error.message,
        headers: { 'accept-encoding': error.acceptEncoding ?? allowed.join(', ') },
      });
    }
    throw new SluiceError('bad_request', { detail: `The body does not decode: ${error.message}` });
  }
  ctx.requestBodyBytes = ctx.requestBody.length;
  // Forwarded decoded: the upstream must not try to decode it again. Content-Length is set from
  // the buffered body when the request is sent.
  delete ctx.req.headers['content-encoding'];
}

export function requestBodyStage(limit: number, readWholeBody: boolean): Stage {
  return {
    name: 'request-body',
    async run(ctx, next) {
      const length = declaredLength(ctx.req);
      if (length !== undefined && length > limit) throw tooLarge(limit);
      const hasBody = length !== undefined ? length > 0 : ctx.req.headers['transfer-encoding'] !== undefined;
      if (hasBody && readWholeBody) {
        const waitStart = performance.now();
        ctx.requestBody = await readWhole(ctx, limit);
        ctx.timings.clientBodyWaitMs += performance.now() - waitStart;
        ctx.requestBodyBytes = ctx.requestBody.length;
        const allowed = ctx.route.compression?.requestEncodings;
        if (allowed !== undefined && allowed.length > 0)
          await decodeBody(ctx, ctx.requestBody, allowed, limit);
      }
      await next();
    },
  };
}
