/**
 * The last stage: sends the request to the route's upstream — over its targets, retries, hedges
 * and failover chain (src/upstream/attempts.ts) — and sets the streaming response.
 * Headers: end-to-end ones from the client, X-Forwarded-*, x-request-id, then the target's own
 * (api key) on top.
 */
import type { RouteConfig } from '../config/types.generated.ts';
import type { Stage } from '../pipeline/compose.ts';
import type { ProxyContext } from '../pipeline/context.ts';
import { forwardedHeaders } from '../server/forwarded.ts';
import {
  type AttemptEvents,
  type CallOptions,
  callUpstream,
  type HedgePolicy,
} from '../upstream/attempts.ts';
import type { UpstreamGroup } from '../upstream/group.ts';
import { copyEndToEnd, responseHeaders } from '../upstream/headers.ts';
import type { HedgeDelay } from '../upstream/hedge.ts';
import { forwardedPath } from '../upstream/path.ts';
import { type RetryPolicy, resolveRetryPolicy } from '../upstream/retry-options.ts';
import { endClientSpan, startClientSpan } from '../upstream/tracing.ts';
import { BodyLimiter } from './request-body.ts';

/** Client headers Sluice replaces rather than forwards. */
const replacedHeaders = new Set([
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-request-id',
  'forwarded',
]);

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

/** Requests whose trace is not sampled open no client span: one shared function for all of them. */
const untraced: CallOptions['trace'] = () => undefined;

export interface UpstreamCallSettings {
  readonly route: Readonly<RouteConfig>;
  /** The route's upstream first, then its failover chain. */
  readonly chain: readonly UpstreamGroup[];
  readonly events: AttemptEvents;
}

function retryPolicy(route: Readonly<RouteConfig>, headersMs: number): RetryPolicy | undefined {
  const retry = route.retry;
  if (retry === undefined) return undefined;
  return resolveRetryPolicy({
    maxAttempts: retry.attempts,
    statuses: retry.statuses,
    retryRateLimited: retry.rate_limited,
    maxRetryAfterMs: retry.max_retry_after_ms,
    retryNonIdempotent: retry.non_idempotent ?? route.protocol !== 'passthrough',
    baseDelayMs: retry.base_delay_ms,
    maxDelayMs: retry.max_delay_ms,
    perTryTimeoutMs: retry.per_try_timeout_ms ?? headersMs,
  });
}

function hedgePolicy(route: Readonly<RouteConfig>): HedgePolicy | undefined {
  const hedge = route.hedge;
  if (hedge === undefined) return undefined;
  const delay: HedgeDelay =
    hedge.delay_ms !== undefined
      ? { fixedMs: hedge.delay_ms }
      : {
          quantile: hedge.quantile,
          fallbackMs: hedge.max_delay_ms,
          minMs: hedge.min_delay_ms,
          maxMs: hedge.max_delay_ms,
        };
  return { delay, maxHedges: hedge.max_hedges };
}

/** The request body with its `model` replaced, for targets that know the model by another name. */
function mappedBody(ctx: ProxyContext, model: string): Buffer | undefined {
  const json = ctx.requestJson();
  if (json === undefined) return undefined;
  return Buffer.from(JSON.stringify({ ...json, model }));
}

export function upstreamCallStage(
  settings: UpstreamCallSettings,
  bodyLimit: number,
  trustedHops: number,
): Stage {
  const { route, chain, events } = settings;
  const retry = retryPolicy(route, chain[0]!.targets[0]?.config.timeouts.headers_ms ?? 300_000);
  const hedge = hedgePolicy(route);
  const mapsModels = chain.some((group) => group.targets.some((target) => target.models !== undefined));
  const needsModel = mapsModels || chain.some((group) => group.strategy === 'cost-aware');
  return {
    name: 'upstream',
    async run(ctx) {
      const { req } = ctx;
      const method = req.method ?? 'GET';
      const headers: Record<string, string | string[]> = {};
      copyEndToEnd(req.headers, headers, replacedHeaders);
      Object.assign(headers, forwardedHeaders(req, trustedHops));
      headers['x-request-id'] = ctx.requestId;
      const body = requestBody(ctx, headers, bodyLimit);
      const model = needsModel ? ctx.requestJson()?.['model'] : undefined;
      const options: CallOptions = {
        chain,
        retry,
        hedge,
        signal: ctx.upstreamSignal,
        timings: ctx.timings,
        events,
        trace: ctx.span.isRecording()
          ? (target, path, attemptHeaders) => {
              const span = startClientSpan(ctx, target, method, path, attemptHeaders);
              return span === undefined ? undefined : (status, error) => endClientSpan(span, status, error);
            }
          : untraced,
      };
      const { response, target } = await callUpstream(
        {
          method,
          path: `${forwardedPath(ctx.path, ctx.route.stripPrefix)}${ctx.search}`,
          headers,
          body,
          model: typeof model === 'string' ? model : undefined,
          mappedBody: (name) => mappedBody(ctx, name),
        },
        options,
      );
      ctx.upstreamName = target.upstream;
      ctx.upstreamTarget = target.name;
      ctx.response = {
        status: response.status,
        headers: responseHeaders(response.headers),
        body: response.body,
      };
    },
  };
}
