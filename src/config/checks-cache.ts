/**
 * Checks of the cache settings the schema cannot make: which routes can cache, one Redis topology,
 * and Redis for what needs it.
 */
import type { ConfigIssue } from './errors.ts';
import { isRecord, type Loose } from './loose.ts';
import type { ConfigSource } from './source.ts';

export function checkCache(source: ConfigSource, data: Loose): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const routes = data['routes'];
  if (Array.isArray(routes)) {
    routes.forEach((route: unknown, index) => {
      if (!isRecord(route)) return;
      // Single-flight keys a GET before its answer names the headers it varies on.
      if (route['dedupe'] === true && route['http_cache'] !== undefined)
        issues.push(
          source.keyIssue(
            ['routes', index, 'dedupe'],
            'cannot be combined with http_cache: requests that differ only in a Vary header would share one answer',
          ),
        );
      if (route['cache'] === undefined) return;
      const protocol = route['protocol'] ?? 'passthrough';
      if (protocol === 'passthrough')
        issues.push(
          source.keyIssue(
            ['routes', index, 'cache'],
            'caches LLM answers, so it needs protocol: openai or anthropic (use dedupe: true to share identical calls in flight)',
          ),
        );
    });
  }
  const cache = data['cache'];
  const redis = isRecord(cache) ? cache['redis'] : undefined;
  if (Array.isArray(routes) && redis === undefined) {
    routes.forEach((route: unknown, index) => {
      const routeCache = isRecord(route) ? route['cache'] : undefined;
      if (isRecord(routeCache) && routeCache['across_replicas'] !== undefined)
        issues.push(
          source.keyIssue(
            ['routes', index, 'cache', 'across_replicas'],
            'needs cache.redis: the replicas find each other through it',
          ),
        );
    });
  }
  if (isRecord(redis)) {
    const given = ['url', 'sentinels', 'cluster'].filter((key) => redis[key] !== undefined);
    if (given.length !== 1)
      issues.push(
        source.keyIssue(
          ['cache', 'redis'],
          given.length === 0
            ? 'needs one of url, sentinels (with sentinel_name) or cluster'
            : `give one of url, sentinels or cluster, not ${given.join(' and ')}`,
        ),
      );
    if ((redis['sentinels'] === undefined) !== (redis['sentinel_name'] === undefined))
      issues.push(
        source.keyIssue(
          ['cache', 'redis', redis['sentinels'] === undefined ? 'sentinel_name' : 'sentinels'],
          'sentinels and sentinel_name go together',
        ),
      );
  }
  return issues;
}
