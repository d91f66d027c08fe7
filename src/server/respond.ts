/** Writes the response a pipeline built to the client: headers once, then the body with backpressure. */
import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { ChunkObserver, ProxyContext } from '../pipeline/context.ts';
import { type CompressionOutcome, compressBody } from './respond-compressed.ts';

/** Microseconds of precision, without toFixed(3) (which showed in hot-path profiles). */
function ms(milliseconds: number): string {
  return String(Math.round(milliseconds * 1000) / 1000);
}

/** Sluice's own time until now, excluding waits on the client body and on the upstream. */
export function overheadMs(ctx: ProxyContext, until: number): number {
  const t = ctx.timings;
  if (t.upstreamDispatch === 0) return until - t.start - t.clientBodyWaitMs;
  const before = t.upstreamDispatch - t.start - t.clientBodyWaitMs - t.upstreamRetryWaitMs;
  const after = t.upstreamHeaders === 0 ? 0 : until - t.upstreamHeaders;
  return before + after;
}

function serverTiming(ctx: ProxyContext, now: number): string {
  const t = ctx.timings;
  const sluice = `sluice;dur=${ms(overheadMs(ctx, now))}`;
  return t.upstreamHeaders === 0
    ? sluice
    : `${sluice}, upstream;dur=${ms(t.upstreamHeaders - t.upstreamDispatch)}`;
}

export interface ResponseCounters {
  bytesOut: number;
  /** The error of a response body that failed while the client was still reading it. */
  upstreamBodyError?: Error;
  /** What compression did, on routes with `compression`. */
  compression?: CompressionOutcome | undefined;
}

/**
 * Streams `body` into `res` with backpressure, counting bytes. Not stream.pipeline() (an
 * AbortController per call, aborted on every finish: a DOMException with a stack trace) nor pipe()
 * (about a dozen listeners per response): both showed in hot-path profiles. The client going away
 * is handled where the response's 'close' is: it destroys `body`, which aborts the upstream call.
 */
function streamBody(
  body: Readable,
  res: ServerResponse,
  counters: ResponseCounters,
  observer: ChunkObserver | undefined,
): void {
  const resume = () => body.resume();
  body.on('data', (chunk: Buffer) => {
    counters.bytesOut += chunk.length;
    const flowing = res.write(chunk);
    // After the write: reading the chunk must never delay it.
    observer?.observe(chunk);
    if (!flowing) {
      body.pause();
      res.once('drain', resume);
    }
  });
  body.once('end', () => {
    if (!res.destroyed) res.end();
  });
  body.once('error', (error: Error) => {
    if (res.destroyed) return;
    counters.upstreamBodyError = error;
    res.destroy(error);
  });
}

export function writeResponse(
  ctx: ProxyContext,
  serverTimingEnabled: boolean,
  counters: ResponseCounters,
): void {
  const { res, req } = ctx;
  const draft = ctx.response;
  if (!draft || res.headersSent || res.destroyed) {
    if (draft?.body instanceof Readable) draft.body.destroy();
    return;
  }
  const now = performance.now();
  const headers = draft.headers;
  headers['x-request-id'] = ctx.requestId;
  if (serverTimingEnabled) headers['server-timing'] = serverTiming(ctx, now);
  if (
    !req.complete &&
    !(draft.body instanceof Readable && ctx.requestBody === undefined && req.readableFlowing)
  ) {
    // The request body was not read (an early answer such as 413): closing beats reading it to the end.
    headers['connection'] = 'close';
    res.shouldKeepAlive = false;
  }
  // Checked here so routes without compression allocate nothing for it.
  const compressed = ctx.route.compression === undefined ? undefined : compressBody(ctx, draft);
  const body = compressed === undefined ? draft.body : compressed.body;
  counters.compression = compressed?.outcome;
  if (body !== null && !(body instanceof Readable) && headers['content-length'] === undefined)
    headers['content-length'] = Buffer.byteLength(body);
  ctx.timings.responseStart = now;
  res.writeHead(draft.status, headers);
  if (body instanceof Readable) {
    streamBody(body, res, counters, compressed?.observed ? undefined : draft.observer);
    return;
  }
  if (body !== null) counters.bytesOut += typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  res.end(body);
}
