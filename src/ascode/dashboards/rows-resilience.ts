/**
 * Upstream resilience: how attempts to each target end, the retries and hedges sent and refused,
 * each target's health state (breaker, ejection, health checks), how many targets each route has
 * left, and failovers between upstream groups. No row when no upstream tracks target health and no
 * route retries or hedges; each part only when the config has it.
 *
 * Breakers are per instance, so the health panels count instances ("on how many replicas is this
 * target open") rather than summing gauges, which would mean nothing.
 */
import { failsOver, retryingRoutes, tracksHealth } from '../resilience.ts';
import type { RowBuilder } from './layout.ts';
import { type PanelContext, type PanelDraft, series, sumRate, timeseries } from './panels.ts';

const target = ['upstream', 'target'];

function attemptPanels(ctx: PanelContext): PanelDraft[] {
  const routes = retryingRoutes(ctx);
  const hedges = routes.some((route) => route.hedges);
  // Whole lines: alone, or beside the retries; full width above retries and hedges.
  const attempts = timeseries({
    title: 'Upstream attempts by target and outcome',
    description:
      'Attempts per second sent to each target, first attempts, retries and hedges alike, by how they ended: success (status < 500 but 429), rate_limited (429), server_error (5xx), connect_error, timeout (no headers in time), reset (dropped before headers), hedge_lost (another attempt answered first), aborted (the client left).',
    unit: 'reqps',
    stacked: true,
    width: routes.length > 0 && !hedges ? 12 : 24,
    queries: [
      {
        expr: sumRate([...target, 'outcome'], series(ctx, 'upstreamAttempts')),
        legend: '{{upstream}} {{target}} {{outcome}}',
      },
    ],
  });
  if (routes.length === 0) return [attempts];
  return [
    attempts,
    timeseries({
      title: 'Retries and refused retries by reason',
      description:
        'Retries per second by why the failed attempt was retried (connect_failed, connect_timeout, connection_reset, headers_timeout, status, rate_limited), and failed attempts the policy would have retried but did not: budget_exhausted (the upstream’s retry_budget is spent; SluiceUpstreamRetryBudgetExhausted), max_attempts, deadline_exceeded, retry_after_too_long.',
      unit: 'reqps',
      queries: [
        {
          expr: sumRate(['upstream', 'reason'], series(ctx, 'upstreamRetries')),
          legend: '{{upstream}} retried: {{reason}}',
        },
        {
          expr: sumRate(['upstream', 'reason'], series(ctx, 'upstreamRetriesDenied')),
          legend: '{{upstream}} not retried: {{reason}}',
        },
      ],
    }),
    ...(hedges
      ? [
          timeseries({
            title: 'Hedges sent and won',
            description:
              'Hedged attempts per second (sent when the first attempt had no headers after the hedge delay), and those that answered first. Few wins for many hedges: the delay is too short and the hedges only cost tokens.',
            unit: 'reqps',
            queries: [
              { expr: sumRate(['upstream'], series(ctx, 'upstreamHedgesSent')), legend: '{{upstream}} sent' },
              { expr: sumRate(['upstream'], series(ctx, 'upstreamHedgesWon')), legend: '{{upstream}} won' },
            ],
          }),
        ]
      : []),
  ];
}

function healthPanels(ctx: PanelContext): PanelDraft[] {
  if (!tracksHealth(ctx)) return [];
  return [
    timeseries({
      title: 'Targets out of service by state',
      description:
        'Instances on which a target is not closed, by state: open (breaker open: refused), half_open (on trial: probes only), ejected (outlier ejection or failing health checks). Every replica runs its own breakers; empty while every target is closed everywhere. SluiceUpstreamBreakerOpen fires after a minute out of service.',
      unit: 'short',
      min: 0,
      queries: [
        {
          expr: `count by (upstream, target, state) (${series(ctx, 'upstreamBreakerState', '', 'state!="closed"')} == 1)`,
          legend: '{{upstream}} {{target}} {{state}}',
        },
      ],
    }),
    timeseries({
      title: 'Target state changes by reason',
      description:
        'Health state changes per second, summed over instances, by the state entered and the reason. Trips from closed (to open: error_rate, slow_calls) that keep coming back mean a flapping target (SluiceUpstreamBreakerFlapping); open ↔ half_open with probe_failed is a target that is still down.',
      unit: 'ops',
      queries: [
        {
          expr: sumRate([...target, 'to', 'reason'], series(ctx, 'upstreamBreakerTransitions')),
          legend: '{{upstream}} {{target}} → {{to}} ({{reason}})',
        },
      ],
    }),
    timeseries({
      title: 'Ejections and failed health checks',
      description:
        'Outlier ejections per second (consecutive 5xx or transport failures; each lasts longer than the last), and failed active health checks per second, by target, summed over instances.',
      unit: 'ops',
      queries: [
        {
          expr: sumRate(target, series(ctx, 'upstreamEjections')),
          legend: '{{upstream}} {{target}} ejected',
        },
        {
          expr: sumRate(target, series(ctx, 'upstreamHealthChecks', '', 'result="fail"')),
          legend: '{{upstream}} {{target}} check failed',
        },
      ],
    }),
    timeseries({
      title: 'Targets available by route',
      description:
        'Targets that may take traffic for each route, across its upstream and failover chain: the most any instance has, and the fewest. At 0 on every instance the route can only answer 503 (SluiceRouteAllTargetsDown); a low minimum alone is one replica that lost its targets.',
      unit: 'short',
      min: 0,
      queries: [
        { expr: `max by (route) (${series(ctx, 'routeTargetsAvailable')})`, legend: '{{route}} most' },
        { expr: `min by (route) (${series(ctx, 'routeTargetsAvailable')})`, legend: '{{route}} fewest' },
      ],
    }),
  ];
}

function failoverPanels(ctx: PanelContext): PanelDraft[] {
  if (!failsOver(ctx)) return [];
  return [
    timeseries({
      title: 'Failovers by route',
      description:
        'Requests per second moved on from one upstream group of the route’s failover chain to the next: the first had no target that could take traffic, or its attempts failed in a way that may be retried.',
      unit: 'reqps',
      width: 24,
      stacked: true,
      queries: [
        {
          expr: sumRate(['route', 'from', 'to'], series(ctx, 'routeFailovers')),
          legend: '{{route}} {{from}} → {{to}}',
        },
      ],
    }),
  ];
}

export const resilienceRow: RowBuilder = (ctx) => {
  if (!tracksHealth(ctx) && retryingRoutes(ctx).length === 0) return undefined;
  return {
    title: 'Upstream resilience',
    panels: [...attemptPanels(ctx), ...healthPanels(ctx), ...failoverPanels(ctx)],
  };
};
