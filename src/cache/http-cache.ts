/**
 * Where the HTTP cache of a GET route keeps its responses: in the ResponseCache tiers, as entries
 * whose one header-like field holds the serialized CachePolicy (its `toObject()`; the policy holds
 * the replayed headers) beside the body, so L1 and the Redis codec keep them unchanged.
 *
 * Each URI has an index entry, `route:http:<digest>`, shared by every tenant: the request headers
 * its responses vary on and an epoch. A response lives under `route:<tenant scope>:<digest>` of the
 * epoch, the URI and the varied request headers' values, so `Accept-Language: en` and `de` are two
 * entries and two tenants never share one. An unsafe request drops only the index: every tenant's
 * and variant's entries for the URI become unreachable at once, and expire by their TTL.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type CachePolicy from 'http-cache-semantics';
import type { DeepReadonly } from '../config/freeze.ts';
import type { RouteHttpCacheConfig } from '../config/types.generated.ts';
import { jsonObject } from '../llm/json.ts';
import type { CachedResponse } from './entry.ts';
import {
  confirmingValidators,
  type PolicyRequest,
  policyClass,
  policyRequest,
  policyResponse,
  retentionMs,
  storedRequest,
  varyNames,
} from './http-policy.ts';
import { cacheKey, tenantScope } from './key.ts';
import type { LookupResult, LookupTier, ResponseCache, StoreResult } from './response-cache.ts';

const POLICY_FIELD = 'x-sluice-http-policy';
const INDEX_FIELD = 'x-sluice-http-index';

/** One GET request as the cache reads it. */
export interface HttpCacheRequest {
  /** Path and query as the client sent them. */
  readonly uri: string;
  readonly scope: string;
  readonly policyRequest: PolicyRequest;
}

interface UriIndex {
  readonly epoch: string;
  /** From varyNames. */
  readonly vary: readonly string[];
  readonly expiresAt: number;
}

export interface StoredHttpResponse {
  readonly key: string;
  readonly tier: Exclude<LookupTier, 'none'>;
  readonly status: number;
  readonly policy: CachePolicy;
  readonly body: Buffer;
  readonly vary: readonly string[];
}

/** A response the rules allow to store, once its body arrived whole. */
export interface Admitted {
  readonly status: number;
  readonly policy: CachePolicy;
  readonly vary: readonly string[];
}

function readIndex(entry: CachedResponse): UriIndex | undefined {
  try {
    const fields = jsonObject(JSON.parse(entry.headers[INDEX_FIELD] ?? ''));
    const epoch = fields?.['epoch'];
    const vary = fields?.['vary'];
    if (typeof epoch !== 'string' || !Array.isArray(vary) || !vary.every((name) => typeof name === 'string'))
      return undefined;
    return { epoch, vary, expiresAt: entry.expiresAt };
  } catch {
    return undefined;
  }
}

export class HttpCache {
  private readonly cache: ResponseCache;
  private readonly route: string;
  private readonly settings: DeepReadonly<RouteHttpCacheConfig>;
  private readonly Policy: typeof CachePolicy;

  constructor(cache: ResponseCache, route: string, settings: DeepReadonly<RouteHttpCacheConfig>) {
    this.cache = cache;
    this.route = route;
    this.settings = settings;
    this.Policy = policyClass(settings.default_ttl_seconds);
  }

  get maxStaleSeconds(): number {
    return this.settings.max_stale_seconds;
  }

  describe(headers: IncomingHttpHeaders, uri: string): HttpCacheRequest {
    const scope = tenantScope(headers, undefined);
    return { uri, scope, policyRequest: policyRequest(headers, uri, scope, this.settings.cache_authorized) };
  }

  count(tier: LookupTier, result: Exclude<LookupResult, 'coalesced'>): void {
    this.cache.count(this.route, tier, result);
  }

  countStore(result: StoreResult, storedBytes?: number): void {
    this.cache.countStore(this.route, result, storedBytes);
  }

  get maxEntryBytes(): number {
    return this.cache.maxEntryBytes;
  }

  async lookup(request: HttpCacheRequest): Promise<StoredHttpResponse | undefined> {
    const index = await this.index(request.uri);
    if (index === undefined) return undefined;
    const key = this.entryKey(request, index);
    const found = await this.cache.lookupEntry(key);
    const policy = found && this.policyOf(found.entry);
    if (!found || !policy) return undefined;
    const { status, body } = found.entry;
    return { key, tier: found.tier, status, policy, body, vary: index.vary };
  }

  /** The policy of a fresh upstream response, or why it is not stored. */
  admit(request: HttpCacheRequest, status: number, headers: OutgoingHttpHeaders): Admitted | StoreResult {
    if (status < 200 || status >= 400) return 'not_ok';
    const response = policyResponse(status, headers);
    const vary = varyNames(response.headers['vary']);
    if (vary === undefined) return 'not_storable';
    // Cookies are never replayed; a response that set one is somebody's unless it says `public`.
    const cacheControl = response.headers['cache-control'] ?? '';
    if (headers['set-cookie'] !== undefined && !/(^|,)\s*public\s*(,|$)/i.test(cacheControl))
      return 'not_storable';
    const policy = new this.Policy(storedRequest(request.policyRequest, vary), response, {
      shared: this.settings.shared,
    });
    if (!policy.storable() || retentionMs(policy, this.maxStaleSeconds) === 0) return 'not_storable';
    return { status, policy, vary };
  }

  /**
   * The stored response's policy renewed by a 304, or undefined when the 304 names another
   * response (RFC 9111 §4.3.4: it must then not update anything).
   */
  revalidated(
    request: HttpCacheRequest,
    stored: StoredHttpResponse,
    headers: OutgoingHttpHeaders,
  ): CachePolicy | undefined {
    const response = policyResponse(304, headers);
    const confirming = { status: 304, headers: confirmingValidators(stored.policy, response.headers) };
    const { policy, matches } = stored.policy.revalidatedPolicy(
      storedRequest(request.policyRequest, stored.vary),
      confirming,
    );
    return matches ? policy : undefined;
  }

  /** Stores a whole body under its policy; counts the outcome. */
  async store(request: HttpCacheRequest, admitted: Admitted, body: Buffer): Promise<StoreResult> {
    const kept = retentionMs(admitted.policy, this.maxStaleSeconds);
    const result = body.length > this.maxEntryBytes ? 'too_large' : kept === 0 ? 'not_storable' : 'stored';
    this.countStore(result, body.length);
    if (result !== 'stored') return result;
    const storedAt = Date.now();
    const expiresAt = storedAt + kept;
    const index = await this.indexFor(request.uri, admitted.vary, expiresAt);
    const headers = { [POLICY_FIELD]: JSON.stringify(admitted.policy.toObject()) };
    const entry = { status: admitted.status, headers, body, stream: false, storedAt, expiresAt };
    this.cache.storeEntry(this.entryKey(request, index), entry);
    return 'stored';
  }

  /** Drops what is stored for `uri`, for every tenant and variant. */
  invalidate(uri: string): Promise<void> {
    return this.cache.deleteEntry(this.indexKey(uri));
  }

  /** Drops one stored response (the upstream no longer allows it, or answered about another one). */
  forget(stored: StoredHttpResponse): Promise<void> {
    return this.cache.deleteEntry(stored.key);
  }

  /**
   * The URI's index for an entry kept until `expiresAt`: rewritten when the Vary names changed or
   * it would expire first. The epoch stays; only an invalidation (which deletes the index) ends it.
   */
  private async indexFor(uri: string, vary: readonly string[], expiresAt: number): Promise<UriIndex> {
    const known = await this.index(uri);
    if (known && known.vary.join() === vary.join() && known.expiresAt >= expiresAt) return known;
    const index: UriIndex = {
      epoch: known?.epoch ?? randomBytes(8).toString('hex'),
      vary,
      expiresAt: Math.max(known?.expiresAt ?? 0, expiresAt),
    };
    this.cache.storeEntry(this.indexKey(uri), {
      status: 204,
      headers: { [INDEX_FIELD]: JSON.stringify({ epoch: index.epoch, vary }) },
      body: Buffer.alloc(0),
      stream: false,
      storedAt: Date.now(),
      expiresAt: index.expiresAt,
    });
    return index;
  }

  private async index(uri: string): Promise<UriIndex | undefined> {
    const found = await this.cache.lookupEntry(this.indexKey(uri));
    return found && readIndex(found.entry);
  }

  private indexKey(uri: string): string {
    return cacheKey({
      route: this.route,
      path: uri,
      tenant: 'http',
      stream: false,
      canonicalBody: 'http index',
    });
  }

  private entryKey(request: HttpCacheRequest, index: UriIndex): string {
    const { headers } = request.policyRequest;
    const varied = index.vary.map((name) =>
      headers[name] === undefined ? name : `${name}=${headers[name]}`,
    );
    return cacheKey({
      route: this.route,
      path: request.uri,
      tenant: request.scope,
      stream: false,
      canonicalBody: `http ${index.epoch}`,
      variantHeaders: varied.join('\n'),
    });
  }

  private policyOf(entry: CachedResponse): CachePolicy | undefined {
    try {
      const serialized = jsonObject(JSON.parse(entry.headers[POLICY_FIELD] ?? ''));
      if (serialized?.['v'] !== 1 || jsonObject(serialized['resh']) === undefined) return undefined;
      return this.Policy.fromObject(serialized as unknown as CachePolicy.CachePolicyObject);
    } catch {
      // Not one of ours, or from a library version that serializes differently: a miss.
      return undefined;
    }
  }
}
