/**
 * The budget a request is counted against, per policy: its `key` sources joined. Credentials are
 * hashed (the cache's tenant scope) so no key, metric or Redis entry holds one; the stores hash
 * long or unusual keys again before they reach Redis.
 */
import { tenantScope } from '../cache/key.ts';
import type { ProxyContext } from '../pipeline/context.ts';

function headerValue(ctx: ProxyContext, name: string): string {
  const value = ctx.req.headers[name];
  return value === undefined ? '' : Array.isArray(value) ? value.join(',') : value;
}

function sourceValue(ctx: ProxyContext, source: string): string {
  switch (source) {
    case 'credential':
      return tenantScope(ctx.req.headers, undefined);
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
  let key = '';
  for (const source of sources) {
    const value = sourceValue(ctx, source);
    key += `${value.length}:${value}`;
  }
  return key;
}
