/**
 * What the cache stage does with one request: nothing (`pass`), forward it untouched because the
 * client or the route's condition says so (`bypass`), or key it — to read and store the answer
 * (`cache`), or only to share an identical call in flight (`dedupe`).
 */
import { hash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { DeepReadonly } from '../config/freeze.ts';
import type { RouteCacheConfig } from '../config/types.generated.ts';
import type { JsonObject } from '../llm/json.ts';
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

/** Fingerprints up to this many characters are memo keys as they are; longer ones are hashed. */
const RAW_FINGERPRINT_CHARS = 2048;
const MEMO_ENTRIES = 4096;

/**
 * Everything a decision depends on (method, path, the headers above, the route's tenant header,
 * the raw body), length-prefixed. Identical requests — the same client resending the same bytes,
 * which is what a cache hit usually is — then skip the JSON parse, the RFC 8785 canonicalization
 * and the key hashes. A small request is its own fingerprint: hashing it cost about a tenth of a
 * cache hit's CPU (docs/benchmarks.md). Such keys hold the request's credential header, in this
 * process's memory only (never logged or exported), at most 4096 × 2 KiB; larger requests, where
 * the hash is cheap beside the body, are keyed by their SHA-256.
 */
function fingerprint(ctx: ProxyContext, tenantHeader: string | undefined): string {
  const headers = ctx.req.headers;
  const method = ctx.req.method ?? 'GET';
  const target = `${ctx.path}${ctx.search}`;
  let prefix = `${method.length}:${method}${target.length}:${target}`;
  for (const name of tenantHeader === undefined
    ? decisionHeaders
    : [...decisionHeaders, tenantHeader.toLowerCase()]) {
    const header = headers[name];
    const value = header === undefined ? '' : Array.isArray(header) ? header.join('\n') : header;
    prefix += `${value.length}:${value}`;
  }
  const body = ctx.requestBody ?? emptyBody;
  prefix += `${body.length}:`;
  // latin1: one character per byte, so distinct bodies stay distinct keys.
  if (prefix.length + body.length <= RAW_FINGERPRINT_CHARS) return `r${prefix}${body.toString('latin1')}`;
  // One buffer, one call: a Hash object fed piece by piece cost three times as much per request.
  return `h${hash('sha256', Buffer.concat([Buffer.from(prefix), body]), 'base64')}`;
}

const emptyBody = Buffer.alloc(0);

/** Decisions by request fingerprint, for one route's settings (the cache stage owns one). */
export class DecisionMemo {
  private readonly decisions = new LRUCache<string, CacheDecision>({ max: MEMO_ENTRIES });

  decide(
    ctx: ProxyContext,
    settings: DeepReadonly<RouteCacheConfig> | undefined,
    dedupe: boolean,
  ): CacheDecision {
    // A body Sluice did not read whole cannot be fingerprinted; decide() passes it anyway.
    if (ctx.requestBody === undefined && ctx.requestBodyBytes > 0) return decide(ctx, settings, dedupe);
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
  const body = ctx.requestJson();
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
