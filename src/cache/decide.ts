/**
 * What the cache stage does with one request: nothing (`pass`), forward it untouched because the
 * client or the route's condition says so (`bypass`), or key it — to read and store the answer
 * (`cache`), or only to share an identical call in flight (`dedupe`).
 */
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { DeepReadonly } from '../config/freeze.ts';
import type { RouteCacheConfig } from '../config/types.generated.ts';
import { type JsonObject, parseJsonObject } from '../llm/json.ts';
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

/** Every request header a decision reads: the tenant's, the variants', the client's directives. */
const decisionHeaders = [
  'authorization',
  'x-api-key',
  'api-key',
  'anthropic-version',
  'anthropic-beta',
  'openai-beta',
  'accept-encoding',
  'cache-control',
  'x-sluice-cache',
] as const;

/**
 * One SHA-256 over everything a decision depends on (method, path, the headers above, the route's
 * tenant header, the raw body), length-prefixed. Identical requests — the same client resending
 * the same bytes, which is what a cache hit usually is — then skip the JSON parse, the RFC 8785
 * canonicalization and the key hashes: a third of the work of answering a hit.
 */
function fingerprint(ctx: ProxyContext, tenantHeader: string | undefined): string {
  const hash = createHash('sha256');
  const add = (text: string) => hash.update(`${Buffer.byteLength(text)}:`).update(text);
  add(ctx.req.method ?? 'GET');
  add(`${ctx.path}${ctx.search}`);
  const headers = ctx.req.headers;
  for (const name of tenantHeader === undefined
    ? decisionHeaders
    : [...decisionHeaders, tenantHeader.toLowerCase()]) {
    const value = headers[name];
    add(value === undefined ? '' : Array.isArray(value) ? value.join('\n') : value);
  }
  const body = ctx.requestBody ?? Buffer.alloc(0);
  hash.update(`${body.length}:`).update(body);
  return hash.digest('base64');
}

/** Decisions by request fingerprint, for one route's settings (the cache stage owns one). */
export class DecisionMemo {
  private readonly decisions = new LRUCache<string, CacheDecision>({ max: 4096 });

  decide(
    ctx: ProxyContext,
    settings: DeepReadonly<RouteCacheConfig> | undefined,
    dedupe: boolean,
  ): CacheDecision {
    // A body Sluice did not read whole cannot be fingerprinted; decide() passes it anyway.
    if (ctx.requestBody === undefined && ctx.requestBodyBytes > 0) return decide(ctx, settings, dedupe);
    // Most requests on a route that caches under a condition do not meet it: telling so needs only
    // the parse the LLM stage shares, not the fingerprint's hash of the whole request.
    if (settings !== undefined && !dedupe) {
      const body = parseJsonObject(ctx.requestBody);
      if (body !== undefined && !matchesCondition(body, settings.when)) return decide(ctx, settings, dedupe);
    }
    const key = fingerprint(ctx, settings?.tenant_header);
    const known = this.decisions.get(key);
    if (known !== undefined) return known;
    const decision = decide(ctx, settings, dedupe);
    this.decisions.set(key, decision);
    return decision;
  }
}

export function decide(
  ctx: ProxyContext,
  settings: DeepReadonly<RouteCacheConfig> | undefined,
  dedupe: boolean,
): CacheDecision {
  const protocol = ctx.route.protocol;
  const body = parseJsonObject(ctx.requestBody);
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
