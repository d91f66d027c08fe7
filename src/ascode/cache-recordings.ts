/**
 * The cache's recording rules (`level:metric:operations`): per-route lookup rates and the hit ratio
 * of each tier, and which tiers a config caches in. The hit-ratio alerts read these recordings;
 * the dashboard's Cache row computes the same ratios over `$__rate_interval`.
 */
import { type RuleContext, sel, w } from './alert-definition.ts';
import { minute } from './profile.ts';
import { metric } from './promql.ts';
import type { RecordingRule } from './rule-model.ts';

export function cachedRoutes(ctx: RuleContext): string[] {
  return ctx.config.routes.filter((route) => route.cache !== undefined).map((route) => route.name);
}

export function cachesInL1(ctx: RuleContext): boolean {
  return cachedRoutes(ctx).length > 0 && ctx.config.cache.l1_max_bytes > 0;
}

export function cachesInL2(ctx: RuleContext): boolean {
  return cachedRoutes(ctx).length > 0 && ctx.config.cache.redis !== undefined;
}

/** A hit ratio as matchers on `sluice_cache_lookups_total`: the hits it counts over the lookups it divides by. */
export interface HitRatio {
  readonly record: string;
  readonly hits: string;
  readonly lookups: string;
}

/**
 * Lookups that could have hit: a bypass never read the cache, and a coalesced request on a cached
 * route has already counted its miss before it joined the flight.
 */
const couldHit = 'result=~"hit|miss"';

export const hitRatios = {
  l1: {
    record: 'route:sluice_cache_l1_hits:ratio_rate5m',
    hits: 'tier="l1",result="hit"',
    lookups: couldHit,
  },
  /** Only what L1 missed reaches L2: its hits and the misses of both tiers. */
  l2: {
    record: 'route:sluice_cache_l2_hits:ratio_rate5m',
    hits: 'tier="l2",result="hit"',
    lookups: 'tier=~"l2|none",result=~"hit|miss"',
  },
  either: { record: 'route:sluice_cache_hits:ratio_rate5m', hits: 'result="hit"', lookups: couldHit },
} as const satisfies Record<string, HitRatio>;

const lookupRates = 'route_tier_result:sluice_cache_lookups:rate5m';

function ratioRecording(ratio: HitRatio): RecordingRule {
  const lookupRate = `sum by (route) (${lookupRates}{${ratio.lookups}})`;
  return {
    record: ratio.record,
    // A route with misses only has no hit series: `or … * 0` makes its ratio 0 instead of absent.
    // `> 0` leaves a route without lookups in the window out, rather than recording 0/0 = NaN.
    expr: [
      `(sum by (route) (${lookupRates}{${ratio.hits}})`,
      `  or ${lookupRate} * 0)`,
      '/',
      `(${lookupRate} > 0)`,
    ].join('\n'),
  };
}

/** Per-route lookup rates, then the hit ratio of each configured tier and of both together. */
export function cacheRecordings(ctx: RuleContext): RecordingRule[] {
  if (cachedRoutes(ctx).length === 0) return [];
  return [
    {
      record: lookupRates,
      expr: `sum by (route, tier, result) (rate(${metric('cacheLookups')}${sel(ctx)}[${w(ctx, 5 * minute)}]))`,
    },
    ...(cachesInL1(ctx) ? [ratioRecording(hitRatios.l1)] : []),
    ...(cachesInL2(ctx) ? [ratioRecording(hitRatios.l2)] : []),
    ratioRecording(hitRatios.either),
  ];
}
