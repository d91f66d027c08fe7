/**
 * What a config limits, for the traffic-control alerts and dashboard row: the routes with
 * rate-limit policies, whether a policy decides in Redis, and the concurrency limiters (one per
 * route or upstream with `concurrency`, labelled `scope` and `name` in the metrics). Nothing is
 * generated for what the config does not limit. Also the PromQL shapes the alerts and the
 * dashboard row share.
 */
import { overridesOf, type RuleContext, type ThresholdGroup, thresholdGroups } from './alert-definition.ts';
import { matchers } from './promql.ts';

export interface RateLimitedRoute {
  readonly name: string;
  /** Policy names in the order a request meets them. */
  readonly policies: readonly string[];
}

export function rateLimitedRoutes(ctx: RuleContext): RateLimitedRoute[] {
  return ctx.config.routes.flatMap((route) =>
    route.rate_limits && route.rate_limits.length > 0
      ? [{ name: route.name, policies: route.rate_limits.map((policy) => policy.name) }]
      : [],
  );
}

/**
 * Decisions that refused the request: 429s, the per-replica fallback's 429s while Redis is away,
 * and a fail_closed policy's 503 while it is. Shadow policies' would-be rejections let it through.
 */
export const refusing = 'result=~"rejected|rejected_local|store_unavailable"';

/**
 * Requests per second that reached a route's rate limits. Every request meets the first policy and
 * only those it lets through meet the next, so the busiest policy's decisions count each request
 * once, however many policies the route has.
 */
export function decidedRate(by: string, decided: (grouping: string) => string): string {
  return `max by (${by}) (${decided(`sum by (${by}, policy)`)})`;
}

/** Whether a policy counts tokens: only then are there reservations and refunds to show. */
export function limitsTokens(ctx: RuleContext): boolean {
  return ctx.config.routes.some((route) => route.rate_limits?.some((policy) => policy.unit === 'tokens'));
}

/**
 * Whether a policy decides in Redis (`store: redis`, which needs `limits.redis`). The store's up
 * gauge exists with `limits.redis` alone, but only such a policy is affected when it is down.
 */
export function sharesLimits(ctx: RuleContext): boolean {
  return (
    ctx.config.limits.redis !== undefined &&
    ctx.config.routes.some((route) => route.rate_limits?.some((policy) => policy.store === 'redis'))
  );
}

export type LimiterScope = 'route' | 'upstream';

export interface Limiter {
  readonly scope: LimiterScope;
  readonly name: string;
}

/** Route limiters first, then upstream limiters, in config order. */
export function concurrencyLimiters(ctx: RuleContext): Limiter[] {
  const routes = ctx.config.routes
    .filter((route) => route.concurrency !== undefined)
    .map((route) => ({ scope: 'route' as const, name: route.name }));
  const upstreams = Object.entries(ctx.config.upstreams)
    .filter(([, upstream]) => upstream?.concurrency !== undefined)
    .map(([name]) => ({ scope: 'upstream' as const, name }));
  return [...routes, ...upstreams];
}

export type LimiterThresholdKey = 'concurrency_queue_depth' | 'concurrency_queue_wait_p95_seconds';

/** A limiter's threshold: `alerts.routes.<name>` or `alerts.upstreams.<name>`, else the default. */
export function limiterThreshold(ctx: RuleContext, limiter: Limiter, key: LimiterThresholdKey): number {
  const { alerts } = ctx.config;
  const named = limiter.scope === 'route' ? alerts.routes[limiter.name] : alerts.upstreams[limiter.name];
  return named?.[key] ?? alerts[key];
}

/**
 * Threshold groups over limiters, which two labels name: a route and an upstream may share a
 * name, so overrides match `scope` and `name` together. Without overrides there is one group for
 * every limiter. With them, the default is split into one group per scope (each excluding that
 * scope's overridden names), so a limiter added later is still covered by the default.
 */
export function limiterGroups(ctx: RuleContext, key: LimiterThresholdKey): ThresholdGroup[] {
  const { alerts } = ctx.config;
  const fallback = alerts[key];
  const scopes: readonly (readonly [LimiterScope, Map<string, number>])[] = [
    ['route', overridesOf(alerts.routes, key)],
    ['upstream', overridesOf(alerts.upstreams, key)],
  ];
  const perScope = scopes.map(([scope, overrides]) =>
    thresholdGroups('name', overrides, fallback).map((group) => ({
      matcher: matchers(`scope="${scope}"`, group.matcher),
      threshold: group.threshold,
      names: group.names.map((name) => `${scope} ${name}`),
    })),
  );
  if (perScope.every((groups) => groups.length === 1))
    return [{ matcher: '', threshold: fallback, names: [] }];
  const all = perScope.flat();
  return [
    ...all.filter((group) => group.names.length === 0),
    ...all.filter((group) => group.names.length > 0),
  ];
}
