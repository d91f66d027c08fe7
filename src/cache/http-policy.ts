/**
 * The RFC 9111 rules of the HTTP cache for GET routes, on top of http-cache-semantics: what a
 * stored policy is allowed to see of a request (credentials only as hashes, only the headers it
 * needs), which response headers it keeps, the route's default freshness, how long past freshness
 * a response may still be served, and a client's own conditional request answered from the cache.
 * Pure functions, no I/O.
 */
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import CachePolicy from 'http-cache-semantics';
import { storableHeaders } from './stored-headers.ts';

export type PolicyHeaders = Record<string, string>;

export interface PolicyRequest extends CachePolicy.HttpRequest {
  readonly url: string;
  readonly method: 'GET';
  readonly headers: PolicyHeaders;
}

/** Headers that identify the client; they select the tenant (see tenantScope). */
const CREDENTIAL_HEADERS = ['authorization', 'x-api-key', 'api-key'];
/** Never kept in clear in a policy, which Redis may hold: a `Vary: Cookie` compares hashes instead. */
const SECRET_HEADERS = new Set([...CREDENTIAL_HEADERS, 'cookie', 'proxy-authorization']);

/**
 * Replayed besides storableHeaders' list, which is made for LLM answers: a cached redirect needs its
 * `location`, a paginated listing its `link`, a 405 its `allow`. `date` and `age` are not replayed
 * (the replay writes its own) but the policy needs them to know how old the response already was.
 */
const HTTP_REPLAYED = ['location', 'content-location', 'link', 'content-disposition', 'allow'];
const AGE_HEADERS = ['date', 'age'];

function text(value: string | string[] | number | undefined): string | undefined {
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value.join(', ') : String(value);
}

function secretDigest(value: string): string {
  return createHash('sha256').update(value).digest('hex').slice(0, 32);
}

/**
 * The request as policies see it: GET (a stored GET response also answers HEAD), every header as
 * text, secrets hashed. With credentials and without `cacheAuthorized`, `authorization` carries the
 * tenant scope so the library applies its Authorization rule (RFC 9111 §3.5) to x-api-key clients
 * too; with `cacheAuthorized` it is left out so the rule does not refuse, and the key's scope alone
 * keeps tenants apart.
 */
export function policyRequest(
  headers: IncomingHttpHeaders,
  url: string,
  scope: string,
  cacheAuthorized: boolean,
): PolicyRequest {
  const seen: PolicyHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    const given = text(value);
    if (given !== undefined) seen[name] = SECRET_HEADERS.has(name) ? secretDigest(given) : given;
  }
  const credentialed = CREDENTIAL_HEADERS.some((name) => seen[name] !== undefined);
  delete seen['authorization'];
  // The library matches a stored response to the Host it was asked for; the route, not the Host,
  // chose the upstream, so every name the route answers to shares its entries.
  delete seen['host'];
  if (credentialed && !cacheAuthorized) seen['authorization'] = scope;
  return { url, method: 'GET', headers: seen };
}

/**
 * The request a stored policy keeps: the library keeps every request header when the response has
 * a Vary, and only the varied ones (with the directives and the Authorization mark) matter.
 */
export function storedRequest(request: PolicyRequest, vary: readonly string[]): PolicyRequest {
  const kept: PolicyHeaders = {};
  for (const name of [...vary, 'cache-control', 'pragma', 'authorization']) {
    const value = request.headers[name];
    if (value !== undefined) kept[name] = value;
  }
  return { ...request, headers: kept };
}

/** The upstream response as a policy keeps it: the headers a replay may carry, and its age. */
export interface PolicyResponse extends CachePolicy.HttpResponse {
  readonly status: number;
  readonly headers: PolicyHeaders;
}

export function policyResponse(status: number, headers: OutgoingHttpHeaders): PolicyResponse {
  const kept: PolicyHeaders = storableHeaders(headers);
  for (const name of [...HTTP_REPLAYED, ...AGE_HEADERS]) {
    const value = text(headers[name]);
    if (value !== undefined) kept[name] = value;
  }
  return { status, headers: kept };
}

/**
 * The request headers a response varies on, lower-case and sorted, plus accept-encoding: an
 * upstream that compresses without saying `Vary: Accept-Encoding` must not get its gzip replayed to
 * a client that cannot read it. Undefined for `Vary: *`, which nothing stored can match.
 */
export function varyNames(vary: string | undefined): string[] | undefined {
  const names = new Set(['accept-encoding']);
  for (const token of (vary ?? '').split(',')) {
    const name = token.trim().toLowerCase();
    if (name === '*') return undefined;
    if (name !== '') names.add(name);
  }
  return [...names].sort();
}

type Directives = CachePolicy.CachePolicyObject['rescc'];

function seconds(directives: Directives, name: string): number {
  const value = Number.parseInt(String(directives[name] ?? ''), 10);
  return Number.isFinite(value) && value > 0 ? value : 0;
}

function statesFreshness(policy: CachePolicy): boolean {
  const { rescc, resh, sh } = policy.toObject();
  return (
    'max-age' in rescc || (sh && 's-maxage' in rescc) || resh['expires'] !== undefined || 'immutable' in rescc
  );
}

/** Response directives under which a cache must not serve the response stale (RFC 9111 §4.2.4). */
function forbidsStale(policy: CachePolicy): boolean {
  const { rescc, sh } = policy.toObject();
  if ('must-revalidate' in rescc || 'no-cache' in rescc) return true;
  // s-maxage implies proxy-revalidate for shared caches (§5.2.2.10).
  return sh && ('proxy-revalidate' in rescc || 's-maxage' in rescc);
}

/**
 * The policy class of a route. With a default TTL, a cacheable response that states no freshness
 * is fresh that long instead of by the Last-Modified heuristic; everything that makes the library
 * answer 0 (not storable, no-cache, proxy-revalidate) still does. The library builds revalidated
 * and deserialized policies with `new this.constructor`, so they keep the route's default.
 */
export function policyClass(defaultTtlSeconds: number): typeof CachePolicy {
  if (defaultTtlSeconds === 0) return CachePolicy;
  return class RouteDefaultTtlPolicy extends CachePolicy {
    override maxAge(): number {
      const stated = super.maxAge();
      if (!this.storable() || statesFreshness(this)) return stated;
      const { rescc, sh } = this.toObject();
      if ('no-cache' in rescc || (sh && 'proxy-revalidate' in rescc)) return stated;
      return defaultTtlSeconds;
    }
  };
}

export type StaleDirective = 'stale-while-revalidate' | 'stale-if-error';

/** May the stored response be served now under `directive`, capped at `maxStaleSeconds`? */
export function mayServeStale(
  policy: CachePolicy,
  directive: StaleDirective,
  maxStaleSeconds: number,
): boolean {
  if (forbidsStale(policy)) return false;
  const allowed = Math.min(seconds(policy.toObject().rescc, directive), maxStaleSeconds);
  return allowed > 0 && policy.age() < policy.maxAge() + allowed;
}

/**
 * How long to keep a response, in milliseconds: while fresh, then as long as it may be served stale;
 * one with a validator for `maxStaleSeconds` past freshness, since a 304 can still renew it.
 * 0: nothing would ever be served from it.
 */
export function retentionMs(policy: CachePolicy, maxStaleSeconds: number): number {
  const { rescc, resh } = policy.toObject();
  const staleWindow = forbidsStale(policy)
    ? 0
    : Math.min(
        Math.max(seconds(rescc, 'stale-while-revalidate'), seconds(rescc, 'stale-if-error')),
        maxStaleSeconds,
      );
  const validator = resh['etag'] !== undefined || resh['last-modified'] !== undefined;
  const keptSeconds = policy.maxAge() - policy.age() + (validator ? maxStaleSeconds : staleWindow);
  return Math.max(0, Math.floor(keptSeconds * 1000));
}

/** Conditional request headers: the client's own, or the ones Sluice sends to revalidate. */
export type Validators = Readonly<Partial<Record<'if-none-match' | 'if-modified-since', string>>>;

const VALIDATOR_HEADERS = ['if-none-match', 'if-modified-since'] as const;

function validatorsIn(headers: IncomingHttpHeaders | CachePolicy.Headers): Validators {
  const found: Partial<Record<(typeof VALIDATOR_HEADERS)[number], string>> = {};
  for (const name of VALIDATOR_HEADERS) {
    const value = text(headers[name]);
    if (value !== undefined) found[name] = value;
  }
  return found;
}

/** The validators the client sent, kept aside before Sluice puts its own on the request. */
export function clientValidators(headers: IncomingHttpHeaders): Validators {
  return validatorsIn(headers);
}

const ENTITY_TAG = /(?:W\/)?"[^"]*"/g;
const opaqueTag = (tag: string) => tag.trim().replace(/^W\//, '');

/**
 * Does the client already have this response (RFC 9110 §13.1.2, §13.1.3)? If-None-Match by weak
 * comparison; If-Modified-Since only when If-None-Match is absent.
 */
export function clientHasIt(validators: Validators, headers: OutgoingHttpHeaders): boolean {
  const { 'if-none-match': ifNoneMatch, 'if-modified-since': ifModifiedSince } = validators;
  if (ifNoneMatch !== undefined) {
    const etag = text(headers['etag']);
    if (etag === undefined) return false;
    if (ifNoneMatch.trim() === '*') return true;
    return (ifNoneMatch.match(ENTITY_TAG) ?? []).some((tag) => opaqueTag(tag) === opaqueTag(etag));
  }
  const since = Date.parse(ifModifiedSince ?? '');
  const modified = Date.parse(text(headers['last-modified']) ?? '');
  return Number.isFinite(since) && Number.isFinite(modified) && modified <= since;
}

/** Headers a 304 carries (RFC 9110 §15.4.5): the validators and caching metadata, no body metadata. */
export function notModifiedHeaders(headers: OutgoingHttpHeaders): OutgoingHttpHeaders {
  const kept: OutgoingHttpHeaders = {};
  for (const name of ['cache-control', 'content-location', 'date', 'etag', 'expires', 'vary', 'age']) {
    if (headers[name] !== undefined) kept[name] = headers[name];
  }
  return kept;
}

/** A 304 answers the validators Sluice sent; one without any stands for the stored ones. */
export function confirmingValidators(stored: CachePolicy, headers: PolicyHeaders): PolicyHeaders {
  if (headers['etag'] !== undefined || headers['last-modified'] !== undefined) return headers;
  const { resh } = stored.toObject();
  const validators: PolicyHeaders = {};
  for (const name of ['etag', 'last-modified']) {
    const value = text(resh[name]);
    if (value !== undefined) validators[name] = value;
  }
  return { ...headers, ...validators };
}

/**
 * The validators for revalidating `stored`, computed without the client's own: Sluice asks only
 * about what it holds, so the upstream's 304 always speaks of the stored response.
 */
export function revalidationValidators(stored: CachePolicy, request: PolicyRequest): Validators {
  const { 'if-none-match': _etag, 'if-modified-since': _since, ...headers } = request.headers;
  return validatorsIn(stored.revalidationHeaders({ ...request, headers }));
}
