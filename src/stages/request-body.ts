/**
 * Request body limits. A declared Content-Length over the limit is refused at once; a chunked body
 * is counted as it arrives and cut at the limit, never buffered past it. LLM protocol routes read
 * the body whole (bounded) because later stages need all of it (model, cache key, token estimate);
 * passthrough routes stream it to the upstream through a counting limiter.
 */
import type { IncomingMessage } from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';
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
      }
      await next();
    },
  };
}
