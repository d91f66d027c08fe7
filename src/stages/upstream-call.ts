/**
 * The last stage: sends the request to the route's upstream and sets the streaming response.
 * Headers: end-to-end ones from the client, X-Forwarded-*, x-request-id, then the upstream's own
 * (api key) on top.
 */
import type { Stage } from '../pipeline/compose.ts';
import type { ProxyContext } from '../pipeline/context.ts';
import { SluiceError } from '../pipeline/errors.ts';
import { forwardedHeaders } from '../server/forwarded.ts';
import { sendUpstream } from '../upstream/forward.ts';
import { copyEndToEnd, responseHeaders } from '../upstream/headers.ts';
import { forwardedPath } from '../upstream/path.ts';
import { endClientSpan, startClientSpan } from '../upstream/tracing.ts';
import type { UpstreamRuntime } from '../upstream/upstream.ts';
import { BodyLimiter } from './request-body.ts';

/** Client headers Sluice replaces rather than forwards. */
const replacedHeaders = new Set([
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-request-id',
  'forwarded',
]);

function upstreamPath(ctx: ProxyContext, upstream: UpstreamRuntime): string {
  return `${upstream.basePath}${forwardedPath(ctx.path, ctx.route.stripPrefix)}${ctx.search}`;
}

function requestBody(ctx: ProxyContext, headers: Record<string, string | string[]>, limit: number) {
  if (ctx.requestBody !== undefined) {
    headers['content-length'] = String(ctx.requestBody.length);
    return ctx.requestBody;
  }
  const { req } = ctx;
  const length = req.headers['content-length'];
  const streamed = length !== undefined ? length !== '0' : req.headers['transfer-encoding'] !== undefined;
  if (!streamed) return null;
  const limiter = new BodyLimiter(limit);
  // Not stream.pipeline: on a 413 the client socket must stay open for the answer.
  req.pipe(limiter);
  limiter.once('error', () => req.unpipe(limiter));
  limiter.once('end', () => {
    ctx.requestBodyBytes = limiter.bytes;
  });
  return limiter;
}

export function upstreamCallStage(upstream: UpstreamRuntime, bodyLimit: number, trustedHops: number): Stage {
  return {
    name: 'upstream',
    async run(ctx) {
      const { req } = ctx;
      const method = req.method ?? 'GET';
      const path = upstreamPath(ctx, upstream);
      const headers: Record<string, string | string[]> = {};
      copyEndToEnd(req.headers, headers, replacedHeaders);
      Object.assign(headers, forwardedHeaders(req, trustedHops), upstream.addedHeaders);
      headers['x-request-id'] = ctx.requestId;
      const span = startClientSpan(ctx, upstream, method, path, headers);
      ctx.upstreamName = upstream.name;
      let response: Awaited<ReturnType<typeof sendUpstream>>;
      try {
        response = await sendUpstream(
          upstream,
          { method, path, headers, body: requestBody(ctx, headers, bodyLimit) },
          ctx.timings,
          ctx.upstreamSignal,
        );
      } catch (error) {
        endClientSpan(span, undefined, error instanceof SluiceError ? error.code : 'aborted');
        throw error;
      }
      if (span) {
        response.body.once('close', () =>
          endClientSpan(span, response.status, response.body.errored ? 'body_error' : undefined),
        );
      }
      ctx.response = {
        status: response.status,
        headers: responseHeaders(response.headers),
        body: response.body,
      };
    },
  };
}
