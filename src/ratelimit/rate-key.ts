/**
 * The budget a request is counted against, per policy: its `key` sources joined. Credentials are
 * hashed (the cache's tenant scope) so no key, metric or Redis entry holds one; the stores hash
 * long or unusual keys again before they reach Redis.
 */
import { CREDENTIAL_HEADERS, tenantScope } from '../cache/key.ts';
import type { ProxyContext } from '../pipeline/context.ts';

/**
 * Credential → its hashed scope, for the clients seen lately: hashing the credential was a third of
 * a rate-limit decision's CPU (docs/benchmarks.md). The credentials stay in this process's memory
 * only, at most this many.
 */
const scopes = new Map<string, string>();
const MAX_SCOPES = 4096;

/** The credential headers as one string; just `authorization` in the usual case of one header. */
function credentialOf(ctx: ProxyContext): string | undefined {
  const headers = ctx.req.headers;
  const authorization = headers.authorization;
  if (headers['x-api-key'] === undefined && headers['api-key'] === undefined) return authorization;
  let credential = '';
  for (const name of CREDENTIAL_HEADERS) {
    const value = headers[name];
    credential += `${value === undefined ? '' : Array.isArray(value) ? value.join('\n') : value}\u0000`;
  }
  return credential;
}

function credentialScope(ctx: ProxyContext): string {
  const credential = credentialOf(ctx);
  if (credential === undefined) return tenantScope(ctx.req.headers, undefined);
  let scope = scopes.get(credential);
  if (scope === undefined) {
    scope = tenantScope(ctx.req.headers, undefined);
    // Cleared rather than LRU-evicted: an LRU's bookkeeping on every hit cost more than a rare rehash.
    if (scopes.size >= MAX_SCOPES) scopes.clear();
    scopes.set(credential, scope);
  }
  return scope;
}

function headerValue(ctx: ProxyContext, name: string): string {
  const value = ctx.req.headers[name];
  return value === undefined ? '' : Array.isArray(value) ? value.join(',') : value;
}

function sourceValue(ctx: ProxyContext, source: string): string {
  switch (source) {
    case 'credential':
      return credentialScope(ctx);
    case 'client_ip':
      return ctx.clientIp;
    case 'route':
      return ctx.route.name;
    case 'model': {
      const model = ctx.requestJson()?.['model'];
      return typeof model === 'string' ? model : '';
    }
    default:
      return source.startsWith('header:')
        ? headerValue(ctx, source.slice('header:'.length).toLowerCase())
        : '';
  }
}

/** Length-prefixed, so no choice of values makes two different combinations one key. */
export function rateKey(ctx: ProxyContext, sources: readonly string[]): string {
  // One source has nothing to be confused with (the policy is part of every stored key).
  if (sources.length === 1) return sourceValue(ctx, sources[0]!);
  let key = '';
  for (const source of sources) {
    const value = sourceValue(ctx, source);
    key += `${value.length}:${value}`;
  }
  return key;
}
