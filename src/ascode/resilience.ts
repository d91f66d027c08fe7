/**
 * What a config does for upstream resilience, for the resilience alerts and dashboard row: the
 * upstreams whose targets have a health state (a breaker, outlier detection or active health
 * checks), and the routes that retry or hedge. Nothing is generated for what the config does not
 * turn on.
 *
 * The keys are read through loose views rather than the generated config types, so this file does
 * not depend on the exact shape of those sections: only on whether they are set.
 */
import type { RuleContext } from './alert-definition.ts';

interface HealthKeys {
  readonly breaker?: unknown;
  readonly outlier_detection?: unknown;
  readonly health_check?: unknown;
  readonly targets?: readonly { readonly name: string }[];
}

interface RetryKeys {
  readonly retry?: unknown;
  readonly hedge?: unknown;
  readonly failover?: readonly string[];
}

export interface ResilientUpstream {
  readonly name: string;
  /** The `target` label values: the `targets` names, or the upstream's own name for a single `url`. */
  readonly targets: readonly string[];
}

/** Upstreams with a breaker, outlier detection or health checks, in config order. */
export function resilientUpstreams(ctx: RuleContext): ResilientUpstream[] {
  return Object.entries(ctx.config.upstreams).flatMap(([name, upstream]) => {
    const keys = upstream as HealthKeys | undefined;
    if (keys === undefined) return [];
    const tracked =
      keys.breaker !== undefined || keys.outlier_detection !== undefined || keys.health_check !== undefined;
    if (!tracked) return [];
    const targets = keys.targets?.map((target) => target.name) ?? [];
    return [{ name, targets: targets.length > 0 ? targets : [name] }];
  });
}

/** Whether some upstream tracks the health of its targets (breaker state, availability gauges). */
export function tracksHealth(ctx: RuleContext): boolean {
  return resilientUpstreams(ctx).length > 0;
}

export interface RetryingRoute {
  readonly name: string;
  readonly upstream: string;
  readonly hedges: boolean;
}

/** Routes with `retry` or `hedge`, in config order. */
export function retryingRoutes(ctx: RuleContext): RetryingRoute[] {
  return ctx.config.routes.flatMap((route) => {
    const keys = route as RetryKeys;
    if (keys.retry === undefined && keys.hedge === undefined) return [];
    return [{ name: route.name, upstream: route.upstream, hedges: keys.hedge !== undefined }];
  });
}

/** Whether some route has a failover chain: only then can requests move between upstream groups. */
export function failsOver(ctx: RuleContext): boolean {
  return ctx.config.routes.some((route) => ((route as RetryKeys).failover?.length ?? 0) > 0);
}

/**
 * The routes whose targets-available gauge can drop to 0: those whose upstream, or an upstream of
 * their failover chain, tracks target health.
 */
export function healthTrackedRoutes(ctx: RuleContext): string[] {
  const tracked = new Set(resilientUpstreams(ctx).map((upstream) => upstream.name));
  return ctx.config.routes
    .filter((route) => [route.upstream, ...((route as RetryKeys).failover ?? [])].some((u) => tracked.has(u)))
    .map((route) => route.name);
}
