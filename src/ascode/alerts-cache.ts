/**
 * Alerts on the response cache: hit ratios per tier (read from cache-recordings.ts), the L1 byte
 * budget, and Redis (L2) failing. Nothing is generated unless a route has `cache`; what reads L2
 * only with `cache.redis`, what reads L1 only while `cache.l1_max_bytes` is above 0.
 */
import {
  type AlertDefinition,
  caseAt,
  groupedRule,
  testInstance as instance,
  overridesOf,
  percent,
  type RuleContext,
  sel,
  selectorLabels,
  series,
  thresholdGroups,
  w,
} from './alert-definition.ts';
import { cachedRoutes, cachesInL1, cachesInL2, type HitRatio, hitRatios } from './cache-recordings.ts';
import { minute } from './profile.ts';
import { metric, num, selector } from './promql.ts';
import type { InputSeries } from './rule-model.ts';

const lookups = metric('cacheLookups');
const l2Operations = metric('cacheL2Operations');
const l2Up = metric('cacheL2Up');
/** Lookups per minute reaching the tier in the tests' busy traffic (10/s). */
const perMinute = 600;

type HitRatioKey = 'cache_l1_hit_ratio' | 'cache_l2_hit_ratio' | 'cache_hit_ratio';
type Labels = Readonly<Record<string, string>>;

/** A lookup counter of one route, rising by `increase` a minute. */
function lookupSeries(at: Labels, tier: string, result: string, increase: number): InputSeries {
  return { series: series(lookups, { ...at, tier, result }), values: `0+${num(increase)}x60` };
}

function hitRatioLow(options: {
  readonly name: string;
  readonly summary: string;
  readonly description: string;
  readonly ratio: HitRatio;
  readonly key: HitRatioKey;
  readonly applies: (ctx: RuleContext) => boolean;
  /** A route's lookup series in which `hits` of the `total` lookups a minute that count for this ratio hit. */
  readonly input: (at: Labels, hits: number, total: number) => InputSeries[];
}): AlertDefinition {
  return {
    name: options.name,
    severity: 'warning',
    summary: options.summary,
    description: options.description,
    forSeconds: 30 * minute,
    rules(ctx) {
      if (!options.applies(ctx)) return [];
      const { alerts } = ctx.config;
      const groups = thresholdGroups('route', overridesOf(alerts.routes, options.key), alerts[options.key]);
      const compare = (matcher: string, threshold: number) =>
        [
          `${options.ratio.record}${selector(matcher)} < ${num(threshold)}`,
          // A ratio over a handful of lookups says nothing: a quiet route must not fire.
          'and on (route)',
          `sum by (route) (rate(${lookups}${sel(ctx, options.ratio.lookups, matcher)}[${w(ctx, 5 * minute)}])) >= ${num(alerts.cache_min_lookups_per_second)}`,
        ].join('\n');
      return [groupedRule(groups, compare, percent)];
    },
    tests(ctx) {
      const [route] = cachedRoutes(ctx);
      const labels = selectorLabels(ctx);
      if (route === undefined || labels === undefined) return [];
      const { alerts } = ctx.config;
      const threshold = alerts.routes[route]?.[options.key] ?? alerts[options.key];
      const at = { ...labels, route };
      const low = Math.floor((perMinute * threshold) / 2);
      const high = Math.min(perMinute, Math.ceil((perMinute * (1 + threshold)) / 2));
      const quiet = (alerts.cache_min_lookups_per_second * 60) / 2;
      return [
        caseAt(
          `${route}: ${low} of ${perMinute} lookups a minute hit, fires`,
          options.input(at, low, perMinute),
          45,
          {
            labels: { severity: 'warning', route },
            value: low / perMinute,
            threshold: this.rules(ctx)[0]?.threshold,
          },
        ),
        caseAt(
          `${route}: ${high} of ${perMinute} hit, stays silent`,
          options.input(at, high, perMinute),
          45,
          undefined,
        ),
        caseAt(
          `${route}: no hit at all, but only ${num(quiet)} lookups a minute, stays silent`,
          options.input(at, 0, quiet),
          45,
          undefined,
        ),
      ];
    },
  };
}

export const cacheL1HitRatioLow = hitRatioLow({
  name: 'SluiceCacheL1HitRatioLow',
  summary: 'The in-process (L1) cache answers too few of a route’s lookups.',
  description:
    'Route {{ $labels.route }}: {{ $value | humanizePercentage }} of cache lookups over the last 5 minutes were answered by L1 (threshold {threshold}); the rest went to L2 or the upstream.',
  ratio: hitRatios.l1,
  key: 'cache_l1_hit_ratio',
  applies: cachesInL1,
  input: (at, hits, total) => [
    lookupSeries(at, 'l1', 'hit', hits),
    lookupSeries(at, 'none', 'miss', total - hits),
  ],
});

export const cacheL2HitRatioLow = hitRatioLow({
  name: 'SluiceCacheL2HitRatioLow',
  summary: 'The Redis (L2) cache answers too few of the lookups L1 missed.',
  description:
    'Route {{ $labels.route }}: {{ $value | humanizePercentage }} of the lookups L1 missed over the last 5 minutes were answered by L2 (threshold {threshold}); the rest went to the upstream.',
  ratio: hitRatios.l2,
  key: 'cache_l2_hit_ratio',
  applies: cachesInL2,
  // Busy L1 hits alongside: they must count neither as L2 lookups nor towards the floor.
  input: (at, hits, total) => [
    lookupSeries(at, 'l1', 'hit', perMinute),
    lookupSeries(at, 'l2', 'hit', hits),
    lookupSeries(at, 'none', 'miss', total - hits),
  ],
});

/**
 * Only with both tiers: with one, this ratio is that tier's own, and a second alert on it under a
 * lower threshold would only repeat the first.
 */
export const cacheHitRatioLow = hitRatioLow({
  name: 'SluiceCacheHitRatioLow',
  summary: 'The cache as a whole answers too few of a route’s lookups.',
  description:
    'Route {{ $labels.route }}: {{ $value | humanizePercentage }} of cache lookups over the last 5 minutes were answered by L1 or L2 (threshold {threshold}); the rest went to the upstream.',
  ratio: hitRatios.either,
  key: 'cache_hit_ratio',
  applies: (ctx) => cachesInL1(ctx) && cachesInL2(ctx),
  // Busy bypasses alongside: requests that never read the cache count neither way.
  input: (at, hits, total) => [
    lookupSeries(at, 'l1', 'hit', Math.ceil(hits / 2)),
    lookupSeries(at, 'l2', 'hit', Math.floor(hits / 2)),
    lookupSeries(at, 'none', 'miss', total - hits),
    lookupSeries(at, 'none', 'bypass', perMinute),
  ],
});

export const cacheL1Full: AlertDefinition = {
  name: 'SluiceCacheL1Full',
  severity: 'warning',
  summary: 'The in-process (L1) cache is full and pushes out answers before they expire.',
  description:
    '{{ $labels.instance }}: L1 holds {{ $value | humanizePercentage }} of cache.l1_max_bytes (threshold {threshold}) and evicted unexpired answers over the last 15 minutes to make room: answers that could still have been hits are dropped.',
  forSeconds: 15 * minute,
  rules(ctx) {
    if (!cachesInL1(ctx)) return [];
    const l1 = 'tier="l1"';
    const threshold = ctx.config.alerts.cache_l1_utilization;
    return [
      {
        // Full alone is an LRU's steady state: expired answers are reclaimed lazily and count until
        // then. Evictions (counted for unexpired answers only) show the budget holds less than the TTLs keep.
        expr: [
          `sum by (instance) (${metric('cacheBytes')}${sel(ctx, l1)})`,
          `/ sum by (instance) (${metric('cacheMaxBytes')}${sel(ctx, l1)})`,
          `> ${num(threshold)}`,
          'and on (instance)',
          `sum by (instance) (rate(${metric('cacheEvictions')}${sel(ctx, l1)}[${w(ctx, 15 * minute)}])) > 0`,
        ].join('\n'),
        threshold: percent(threshold),
      },
    ];
  },
  tests(ctx) {
    const labels = selectorLabels(ctx);
    if (labels === undefined) return [];
    const threshold = ctx.config.alerts.cache_l1_utilization;
    const budget = 100_000_000;
    const used = Math.round((budget * (1 + threshold)) / 2);
    const at = { ...labels, instance, tier: 'l1' };
    const input = (evictionsPerMinute: number) => [
      { series: series(metric('cacheBytes'), at), values: `${used}x60` },
      { series: series(metric('cacheMaxBytes'), at), values: `${budget}x60` },
      { series: series(metric('cacheEvictions'), at), values: `0+${evictionsPerMinute}x60` },
    ];
    return [
      caseAt(`${percent(used / budget)} full, evicting 30 unexpired answers a minute, fires`, input(30), 35, {
        labels: { severity: this.severity, instance },
        value: used / budget,
        threshold: percent(threshold),
      }),
      caseAt(
        `${percent(used / budget)} full of answers that expire before they are evicted stays silent`,
        input(0),
        35,
        undefined,
      ),
    ];
  },
};

export const cacheL2Failing: AlertDefinition = {
  name: 'SluiceCacheL2Failing',
  severity: 'warning',
  summary: 'The Redis (L2) cache tier fails or is down, so requests skip it.',
  description:
    '{{ $labels.instance }}: {{ $value | humanizePercentage }} of Redis (L2) commands over the last 5 minutes failed or timed out (threshold {threshold}); 100% while L2 is down or its breaker skips it. Requests still succeed, from L1 and the upstreams.',
  forSeconds: 5 * minute,
  rules(ctx) {
    if (!cachesInL2(ctx)) return [];
    const threshold = ctx.config.alerts.cache_l2_error_ratio;
    const rateOf = (outcomes: string) =>
      `sum by (instance) (rate(${l2Operations}${sel(ctx, outcomes)}[${w(ctx, 5 * minute)}]))`;
    return [
      {
        // `rejected` commands were never sent (the open breaker skipped them), so they are not failures
        // of Redis; while the breaker is open nothing fails at all, which is what l2_up == 0 catches,
        // valued 1 so the description reads 100%.
        expr: [
          `(${rateOf('outcome=~"error|timeout"')}`,
          `/ ${rateOf('outcome!="rejected"')}`,
          `> ${num(threshold)})`,
          'or',
          `(1 - sum by (instance) (${l2Up}${sel(ctx)}) == 1)`,
        ].join('\n'),
        threshold: percent(threshold),
      },
    ];
  },
  tests(ctx) {
    const labels = selectorLabels(ctx);
    if (labels === undefined) return [];
    const threshold = ctx.config.alerts.cache_l2_error_ratio;
    const ratio = Math.min(0.9, threshold * 2);
    const failing = Math.max(1, Math.round((perMinute * ratio) / (1 - ratio)));
    const at = { ...labels, instance };
    const input = (up: number, outcomes: Readonly<Record<string, number>>) => [
      { series: series(l2Up, at), values: `${up}x40` },
      ...Object.entries(outcomes).map(([outcome, count]) => ({
        series: series(l2Operations, { ...at, outcome }),
        values: `0+${count}x40`,
      })),
    ];
    const expected = (value: number) => ({
      labels: { severity: this.severity, instance },
      value,
      threshold: percent(threshold),
    });
    return [
      caseAt(
        // The skipped commands of a breaker that has closed again are no answer from Redis either way.
        `${failing} timeouts a minute beside ${perMinute} hits, and many commands skipped, fire`,
        input(1, { hit: perMinute, timeout: failing, rejected: perMinute * 4 }),
        15,
        expected(failing / (perMinute + failing)),
      ),
      caseAt(
        'Redis down, the breaker skipping every command, fires at 100%',
        input(0, { error: 0, rejected: perMinute }),
        15,
        expected(1),
      ),
      caseAt(
        'every command answered stays silent',
        input(1, { hit: perMinute / 2, miss: perMinute / 2, set: perMinute / 2 }),
        15,
        undefined,
      ),
    ];
  },
};
