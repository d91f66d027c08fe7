/**
 * The response cache: how often each tier answers, what lookups and stores do, the L1 byte budget,
 * and Redis (L2). No row when no route caches; the L2 panels only with `cache.redis` (without it
 * they would show a constant 0 or nothing at all).
 */
import { cachedRoutes, cachesInL1, cachesInL2, type HitRatio, hitRatios } from '../cache-recordings.ts';
import type { RowBuilder } from './layout.ts';
import {
  type PanelContext,
  type PanelDraft,
  percentile,
  quantile,
  series,
  shareOf,
  sumRate,
  type ThresholdStep,
  timeseries,
} from './panels.ts';

/** Red below `value`, green from it on: a floor, like the hit-ratio alert thresholds. */
function greenFrom(value: number): readonly ThresholdStep[] {
  return [
    { color: 'red', value: null },
    { color: 'green', value },
  ];
}

interface HitRatioPanel {
  readonly shown: boolean;
  readonly ratio: HitRatio;
  readonly title: string;
  /** What the ratio counts, as "share of each route's …". */
  readonly answered: string;
  readonly thresholdKey: 'cache_l1_hit_ratio' | 'cache_l2_hit_ratio' | 'cache_hit_ratio';
}

/** One panel per configured tier plus either tier, each with its own alert threshold drawn. */
function hitRatioPanels(ctx: PanelContext): PanelDraft[] {
  const candidates: HitRatioPanel[] = [
    {
      shown: cachesInL1(ctx),
      ratio: hitRatios.l1,
      title: 'L1 hit ratio by route',
      answered: 'cache lookups answered from the instance’s memory (L1)',
      thresholdKey: 'cache_l1_hit_ratio',
    },
    {
      shown: cachesInL2(ctx),
      ratio: hitRatios.l2,
      title: 'L2 hit ratio by route',
      answered: 'L1 misses answered from Redis (L2)',
      thresholdKey: 'cache_l2_hit_ratio',
    },
    {
      shown: true,
      ratio: hitRatios.either,
      title: 'Hit ratio by route, either tier',
      answered: 'cache lookups answered by any tier rather than the upstream',
      thresholdKey: 'cache_hit_ratio',
    },
  ];
  const shown = candidates.filter((candidate) => candidate.shown);
  return shown.map(({ ratio, title, answered, thresholdKey }) =>
    timeseries({
      title,
      description: `Share of each route’s ${answered}; bypassed requests do not count. The dashed line is the default alert threshold (alerts.${thresholdKey}); alerts.routes may set others per route.`,
      unit: 'percentunit',
      width: 24 / shown.length,
      min: 0,
      max: 1,
      thresholds: greenFrom(ctx.config.alerts[thresholdKey]),
      queries: [
        {
          expr: shareOf(
            ['route'],
            series(ctx, 'cacheLookups', '', ratio.hits),
            series(ctx, 'cacheLookups', '', ratio.lookups),
          ),
          legend: '{{route}}',
        },
      ],
    }),
  );
}

function l1Panels(ctx: PanelContext): PanelDraft[] {
  const l1Bytes = `max by (instance) (${series(ctx, 'cacheBytes', '', 'tier="l1"')})`;
  return [
    timeseries({
      title: 'L1 bytes vs budget',
      description:
        'Bytes the in-process L1 tier holds (bodies, headers, keys and per-entry overhead) and its budget (cache.l1_max_bytes), per instance. Near the budget is normal for an LRU, since expired answers are reclaimed lazily: read it together with evictions.',
      unit: 'bytes',
      queries: [
        { expr: l1Bytes, legend: '{{instance}} held' },
        {
          expr: `max by (instance) (${series(ctx, 'cacheMaxBytes', '', 'tier="l1"')})`,
          legend: '{{instance}} budget',
        },
      ],
    }),
    timeseries({
      title: 'L1 evictions',
      description:
        'Unexpired answers per second the L1 tier pushed out to stay within its budget, per instance (expired ones are not counted). Steady evictions mean the budget holds less than the TTLs would keep: SluiceCacheL1Full fires on them when L1 is full.',
      unit: 'ops',
      queries: [
        {
          // An instance that never evicted has no eviction series yet: it shows 0, not an empty panel.
          expr: `${sumRate(['instance'], series(ctx, 'cacheEvictions', '', 'tier="l1"'))}\nor\n${l1Bytes} * 0`,
          legend: '{{instance}}',
        },
      ],
    }),
  ];
}

function l2Panels(ctx: PanelContext): PanelDraft[] {
  return [
    timeseries({
      title: 'L2 operations by outcome',
      description:
        'Redis (L2) commands per second by outcome: hit, miss, set, delete, error, timeout, and rejected (skipped while the breaker is open). Errors and timeouts above alerts.cache_l2_error_ratio of the commands sent fire SluiceCacheL2Failing.',
      unit: 'ops',
      width: 8,
      stacked: true,
      queries: [{ expr: sumRate(['outcome'], series(ctx, 'cacheL2Operations')), legend: '{{outcome}}' }],
    }),
    timeseries({
      title: 'L2 command duration',
      description:
        'Time of each Redis (L2) command, errors and timeouts included, p50 and p99 over every instance. A request waits at most cache.redis.command_timeout_ms for it.',
      unit: 's',
      width: 8,
      queries: [0.5, 0.99].map((q) => ({
        expr: quantile(q, [], series(ctx, 'cacheL2Duration', '_bucket')),
        legend: percentile(q),
      })),
    }),
    timeseries({
      title: 'L2 up',
      description:
        'Per instance, whether Redis (L2) answers: no while it is unreachable or its breaker skips it. Requests then go on without L2.',
      unit: 'bool_yes_no',
      width: 8,
      min: 0,
      max: 1,
      queries: [{ expr: `min by (instance) (${series(ctx, 'cacheL2Up')})`, legend: '{{instance}}' }],
    }),
  ];
}

export const cacheRow: RowBuilder = (ctx) => {
  if (cachedRoutes(ctx).length === 0) return undefined;
  return {
    title: 'Cache',
    panels: [
      ...hitRatioPanels(ctx),
      timeseries({
        title: 'Cache lookups by result',
        description:
          'Requests per second on caching routes by what the cache did: hit (tier l1 or l2), miss, bypass (client or condition) and coalesced (shared a call in flight). A coalesced request on a cached route has counted its miss too.',
        unit: 'reqps',
        queries: [
          {
            expr: sumRate(['route', 'tier', 'result'], series(ctx, 'cacheLookups')),
            legend: '{{route}} {{result}} {{tier}}',
          },
        ],
      }),
      timeseries({
        title: 'Cache stores by result',
        description:
          'Answers per second offered to the cache, by outcome: stored, not_ok (not 2xx), incomplete (a stream without its terminal event, a broken body) and too_large (over cache.max_entry_bytes).',
        unit: 'reqps',
        queries: [
          { expr: sumRate(['route', 'result'], series(ctx, 'cacheStores')), legend: '{{route}} {{result}}' },
        ],
      }),
      ...(cachesInL1(ctx) ? l1Panels(ctx) : []),
      ...(cachesInL2(ctx) ? l2Panels(ctx) : []),
    ],
  };
};
