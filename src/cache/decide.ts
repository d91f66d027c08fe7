/**
 * What the cache stage does with one request: nothing (`pass`), forward it untouched because the
 * client or the route's condition says so (`bypass`), or key it — to read and store the answer
 * (`cache`), or only to share an identical call in flight (`dedupe`).
 */
import type { DeepReadonly } from '../config/freeze.ts';
import type { RouteCacheConfig } from '../config/types.generated.ts';
import { type JsonObject, jsonObject } from '../llm/json.ts';
import { operationFor } from '../llm/request.ts';
import type { ProxyContext } from '../pipeline/context.ts';
import {
  cacheKey,
  canonicalRequest,
  clientDirective,
  isCacheableOperation,
  matchesCondition,
  tenantScope,
  variantHeaders,
} from './key.ts';

export type CacheProtocol = 'openai' | 'anthropic';

export type CacheDecision =
  | { readonly kind: 'pass' }
  | { readonly kind: 'bypass' }
  | {
      readonly kind: 'cache';
      readonly key: string;
      /** False for `no-cache` / `x-sluice-cache: refresh`: a fresh answer, stored for the next. */
      readonly read: boolean;
      readonly shareInFlight: boolean;
      readonly ttlMs: number;
      readonly stream: boolean;
      readonly protocol: CacheProtocol;
    }
  | { readonly kind: 'dedupe'; readonly key: string; readonly shareInFlight: true };

/**
 * Headers that change the answer's bytes without changing the request body: the API version and
 * beta headers, and accept-encoding (the upstream may compress for one client and not another).
 */
function variantOf(ctx: ProxyContext): string {
  const encodings = ctx.req.headers['accept-encoding'];
  const accepted = typeof encodings === 'string' ? encodings.toLowerCase().replace(/\s+/g, '') : '';
  return `${variantHeaders(ctx.req.headers)}\naccept-encoding:${accepted}`;
}

function requestJson(ctx: ProxyContext): JsonObject | undefined {
  if (ctx.requestBody === undefined || ctx.requestBody.length === 0) return undefined;
  try {
    return jsonObject(JSON.parse(ctx.requestBody.toString('utf8')));
  } catch {
    return undefined;
  }
}

function dedupeKey(ctx: ProxyContext, body: JsonObject | undefined): string | undefined {
  const method = ctx.req.method ?? 'GET';
  // A body Sluice did not read whole (passthrough routes) cannot be compared: no sharing then.
  if (body === undefined && ctx.requestBodyBytes > 0) return undefined;
  const canonicalBody = body === undefined ? '' : canonicalRequest(body, []);
  if (canonicalBody === undefined) return undefined;
  return cacheKey({
    route: ctx.route.name,
    path: `${method} ${ctx.path}${ctx.search}`,
    tenant: tenantScope(ctx.req.headers, undefined),
    stream: body?.['stream'] === true,
    canonicalBody,
    variantHeaders: variantOf(ctx),
  });
}

export function decide(
  ctx: ProxyContext,
  settings: DeepReadonly<RouteCacheConfig> | undefined,
  dedupe: boolean,
): CacheDecision {
  const protocol = ctx.route.protocol;
  const body = requestJson(ctx);
  const method = ctx.req.method ?? 'GET';
  const cacheable =
    settings !== undefined &&
    protocol !== 'passthrough' &&
    body !== undefined &&
    isCacheableOperation(protocol, method, operationFor(protocol, ctx.path), body);
  if (!cacheable) {
    const key = dedupe ? dedupeKey(ctx, body) : undefined;
    return key === undefined ? { kind: 'pass' } : { kind: 'dedupe', key, shareInFlight: true };
  }
  const directive = clientDirective(ctx.req.headers, settings.allow_client_bypass);
  if (directive === 'bypass' || !matchesCondition(body, settings.when)) return { kind: 'bypass' };
  const stream = body['stream'] === true;
  const canonicalBody = canonicalRequest(body, settings.ignore_fields);
  if (canonicalBody === undefined) return { kind: 'bypass' };
  return {
    kind: 'cache',
    key: cacheKey({
      route: ctx.route.name,
      path: `${ctx.path}${ctx.search}`,
      tenant: tenantScope(ctx.req.headers, settings.tenant_header),
      stream,
      canonicalBody,
      variantHeaders: variantOf(ctx),
    }),
    read: directive === 'use',
    shareInFlight: directive === 'use',
    ttlMs: settings.ttl_seconds * 1000,
    stream,
    protocol,
  };
}
