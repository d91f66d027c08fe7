/** The backends behind Sluice and the connection pools to them, and Sluice's own share of the time. */
import type { RowBuilder } from './layout.ts';
import {
  mean,
  type PanelContext,
  percentile,
  quantile,
  redFrom,
  series,
  sumRate,
  timeseries,
} from './panels.ts';

/** Busy connections over the pool's maximum, per instance: pools are per process, so sums would hide one running out. */
function poolUtilization(ctx: PanelContext): string {
  const connections = (state: string) =>
    `sum by (instance, upstream) (${series(ctx, 'upstreamPoolConnections', '', `state="${state}"`)})`;
  return [
    'max by (upstream) (',
    `  (${connections('connected')} - ${connections('free')})`,
    '  /',
    `  sum by (instance, upstream) (${series(ctx, 'upstreamPoolSize')})`,
    ')',
  ].join('\n');
}

export const upstreamRow: RowBuilder = (ctx) => {
  const { pool_utilization: utilization, pool_wait_p95_seconds: waitP95 } = ctx.config.alerts;
  const byUpstream = ['upstream'];
  return {
    title: 'Upstreams and connection pools',
    panels: [
      timeseries({
        title: 'Failed upstream attempts by error code',
        description:
          'Attempts per second that got no usable response (connect failures, resets, timeouts), by upstream and Sluice error code. Retries count once per attempt.',
        unit: 'reqps',
        stacked: true,
        queries: [
          {
            expr: sumRate(['upstream', 'error'], series(ctx, 'upstreamErrors')),
            legend: '{{upstream}} {{error}}',
          },
        ],
      }),
      timeseries({
        title: 'Upstream responses by status code',
        description: 'Responses per second the upstreams answered, by upstream and HTTP status code.',
        unit: 'reqps',
        stacked: true,
        queries: [
          {
            expr: sumRate(['upstream', 'code'], series(ctx, 'upstreamDuration', '_count')),
            legend: '{{upstream}} {{code}}',
          },
        ],
      }),
      timeseries({
        title: 'Upstream time to headers',
        description:
          'Time from dispatching a request upstream to its response headers, p50 and p95 per upstream: the backend’s queueing and, for LLMs, its time to start answering.',
        unit: 's',
        queries: [0.5, 0.95].map((q) => ({
          expr: quantile(q, byUpstream, series(ctx, 'upstreamTimeToHeaders', '_bucket')),
          legend: `{{upstream}} ${percentile(q)}`,
        })),
      }),
      timeseries({
        title: 'Upstream response duration p95',
        description:
          'Time from dispatching a request upstream to the last byte of its response, 95th percentile per upstream.',
        unit: 's',
        queries: [
          {
            expr: quantile(0.95, byUpstream, series(ctx, 'upstreamDuration', '_bucket')),
            legend: '{{upstream}}',
          },
        ],
      }),
      timeseries({
        title: 'Pool connections by state',
        description:
          'Upstream connection pool state from undici, summed over instances: connected, free, running, pending and queued, with the configured maximum.',
        unit: 'short',
        width: 8,
        queries: [
          {
            expr: `sum by (upstream, state) (${series(ctx, 'upstreamPoolConnections')})`,
            legend: '{{upstream}} {{state}}',
          },
          { expr: `sum by (upstream) (${series(ctx, 'upstreamPoolSize')})`, legend: '{{upstream}} max' },
        ],
      }),
      timeseries({
        title: 'Pool utilization, busiest instance',
        description:
          'Busy connections (connected minus free) over the pool maximum, on the instance whose pool is fullest. The dashed line is the default alert threshold (alerts.pool_utilization).',
        unit: 'percentunit',
        width: 8,
        min: 0,
        max: 1,
        thresholds: redFrom(utilization),
        queries: [{ expr: poolUtilization(ctx), legend: '{{upstream}}' }],
      }),
      timeseries({
        title: 'Pool wait p95',
        description:
          'Time a request waited for an upstream connection (queueing plus connecting), 95th percentile per upstream. The dashed line is the default alert threshold (alerts.pool_wait_p95_seconds).',
        unit: 's',
        width: 8,
        thresholds: redFrom(waitP95),
        queries: [
          {
            expr: quantile(0.95, byUpstream, series(ctx, 'upstreamPoolWait', '_bucket')),
            legend: '{{upstream}}',
          },
        ],
      }),
    ],
  };
};

export const overheadRow: RowBuilder = (ctx) => ({
  title: 'Sluice overhead',
  collapsed: true,
  panels: [
    timeseries({
      title: 'Sluice overhead by route',
      description:
        'Time Sluice itself spent on a request, excluding waits on the upstream and the client: p50 and p99 per route.',
      unit: 's',
      width: 8,
      queries: [0.5, 0.99].map((q) => ({
        expr: quantile(q, ['route'], series(ctx, 'overhead', '_bucket')),
        legend: `{{route}} ${percentile(q)}`,
      })),
    }),
    timeseries({
      title: 'Stage duration p99 by stage',
      description:
        'Time each pipeline stage took on a request, 99th percentile, excluding the stages after it but including what the stage waited for (the upstream stage waits for the backend).',
      unit: 's',
      width: 8,
      queries: [
        { expr: quantile(0.99, ['stage'], series(ctx, 'stageDuration', '_bucket')), legend: '{{stage}}' },
      ],
    }),
    timeseries({
      title: 'Mean stage duration by stage',
      description: 'Mean time per request in each pipeline stage, excluding the stages after it.',
      unit: 's',
      width: 8,
      queries: [
        {
          expr: mean(['stage'], series(ctx, 'stageDuration', '_sum'), series(ctx, 'stageDuration', '_count')),
          legend: '{{stage}}',
        },
      ],
    }),
  ],
});
