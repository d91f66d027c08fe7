/**
 * Traffic control: what the rate limits decide (and, for `unit: tokens` policies, reserve and
 * correct), whether their Redis store is up, and each concurrency limiter's slots, queue, waits
 * and rejections. No row when nothing is limited; each part only when the config has it.
 * Concurrency limiters are labelled `scope` and `name`, not `route` / `upstream`, so the
 * dashboard's route and upstream variables do not filter their panels.
 */
import {
  concurrencyLimiters,
  decidedRate,
  limitsTokens,
  rateLimitedRoutes,
  refusing,
} from '../traffic-control.ts';
import type { RowBuilder } from './layout.ts';
import {
  type PanelContext,
  type PanelDraft,
  percentile,
  quantile,
  rate,
  redFrom,
  series,
  sumRate,
  timeseries,
} from './panels.ts';

const limiter = ['scope', 'name'];

/** Refused requests over the requests that reached the route's rate limits (see decidedRate). */
function refusedShare(ctx: PanelContext): string {
  const decided = decidedRate('route', (sum) => `${sum} (${rate(series(ctx, 'rateLimitDecisions'))})`);
  const refused = sumRate(['route'], series(ctx, 'rateLimitDecisions', '', refusing));
  // A route that refused nothing has no refusing series yet: it shows 0, not a gap.
  return `(${refused} or ${decided} * 0)\n/\n${decided}`;
}

function rateLimitPanels(ctx: PanelContext): PanelDraft[] {
  if (rateLimitedRoutes(ctx).length === 0) return [];
  const { alerts } = ctx.config;
  /** The second line: the share with the alert threshold, then tokens and the store when there are any. */
  const second = [
    (width: number) =>
      timeseries({
        title: 'Share of requests refused by route',
        description:
          'Requests the route’s rate limits refused (429, and 503 while Redis is away and a policy fails closed) over the requests that reached them; each request counts once however many policies it met, and shadow policies do not count. The dashed line is the default alert threshold (alerts.rate_limit_rejection_ratio); alerts.routes may set others per route.',
        unit: 'percentunit',
        width,
        min: 0,
        max: 1,
        thresholds: redFrom(alerts.rate_limit_rejection_ratio),
        queries: [{ expr: refusedShare(ctx), legend: '{{route}}' }],
      }),
    ...(limitsTokens(ctx)
      ? [
          (width: number) =>
            timeseries({
              title: 'Rate-limit tokens by kind',
              description:
                'Tokens per second of `unit: tokens` policies: reserved at admission (input estimate plus max_tokens or limits.default_output_tokens), refunded when the provider reported less (or was never asked), charged when it reported more. Refunds far above charges mean the estimates are generous: requests are refused early.',
              unit: 'short',
              width,
              queries: [
                {
                  expr: sumRate(['route', 'policy', 'kind'], series(ctx, 'rateLimitTokens')),
                  legend: '{{route}} {{policy}} {{kind}}',
                },
              ],
            }),
        ]
      : []),
    ...(ctx.config.limits.redis !== undefined
      ? [
          (width: number) =>
            timeseries({
              title: 'Rate-limit store (Redis) up',
              description:
                'Per instance, whether the Redis rate-limit store (limits.redis) is connected with its breaker closed. While it is not, `fail_open` policies decide per replica (decisions *_local) and `fail_closed` ones answer 503 (store_unavailable); SluiceRateLimitStoreDown fires after 5 minutes.',
              unit: 'bool_yes_no',
              width,
              min: 0,
              max: 1,
              queries: [
                { expr: `min by (instance) (${series(ctx, 'rateLimitStoreUp')})`, legend: '{{instance}}' },
              ],
            }),
        ]
      : []),
  ];
  return [
    timeseries({
      title: 'Rate-limit decisions by result',
      description:
        'Decisions per second by route, policy and result: allowed, rejected (429), shadow_rejected (a shadow policy would have refused; let through), store_unavailable (Redis away, the policy fails closed: 503), and allowed_local / rejected_local (decided per replica while Redis is away). A request meets the policies in order and stops at the first that refuses it.',
      unit: 'ops',
      stacked: true,
      queries: [
        {
          expr: sumRate(['route', 'policy', 'result'], series(ctx, 'rateLimitDecisions')),
          legend: '{{route}} {{policy}} {{result}}',
        },
      ],
    }),
    timeseries({
      title: 'Requests refused by rate limits',
      description:
        'Requests per second the rate limits refused, by route and result (rejected and rejected_local are 429, store_unavailable is 503), and what shadow policies would have refused, by policy: let through, for rollout.',
      unit: 'reqps',
      queries: [
        {
          expr: sumRate(['route', 'result'], series(ctx, 'rateLimitDecisions', '', refusing)),
          legend: '{{route}} {{result}}',
        },
        {
          expr: sumRate(
            ['route', 'policy'],
            series(ctx, 'rateLimitDecisions', '', 'result=~"shadow_rejected|shadow_rejected_local"'),
          ),
          legend: '{{route}} {{policy}} shadow (let through)',
        },
      ],
    }),
    ...second.map((panel) => panel(24 / second.length)),
  ];
}

function concurrencyPanels(ctx: PanelContext): PanelDraft[] {
  if (concurrencyLimiters(ctx).length === 0) return [];
  const { alerts } = ctx.config;
  const sumBy = (by: readonly string[], selected: string) => `sum by (${by.join(', ')}) (${selected})`;
  return [
    timeseries({
      title: 'In flight vs limit by limiter',
      description:
        'Requests holding a slot of each concurrency limiter (a route’s or an upstream’s `concurrency`) and its limit, summed over instances: max_in_flight per instance, or where the adaptive limit has moved it. In flight at the limit means new requests queue.',
      unit: 'short',
      queries: [
        {
          expr: sumBy(limiter, series(ctx, 'concurrencyInFlight')),
          legend: '{{scope}} {{name}} in flight',
        },
        { expr: sumBy(limiter, series(ctx, 'concurrencyLimit')), legend: '{{scope}} {{name}} limit' },
      ],
    }),
    timeseries({
      title: 'Queue depth by class',
      description:
        'Requests waiting for a slot, per limiter and priority class, and per limiter in total, summed over instances. Each instance holds at most queue.max_size; a full queue answers 503 at once. The dashed line is the default alert threshold on the total (alerts.concurrency_queue_depth).',
      unit: 'short',
      thresholds: redFrom(alerts.concurrency_queue_depth),
      queries: [
        {
          expr: sumBy([...limiter, 'class'], series(ctx, 'concurrencyQueued')),
          legend: '{{scope}} {{name}} {{class}}',
        },
        { expr: sumBy(limiter, series(ctx, 'concurrencyQueued')), legend: '{{scope}} {{name}} total' },
      ],
    }),
    timeseries({
      title: 'Queue wait by limiter',
      description:
        'Time requests waited for a slot, p50 and p95 per limiter over every instance and priority class; 0 when a slot was free, and waits that timed out or were left count too. The dashed line is the default alert threshold on p95 (alerts.concurrency_queue_wait_p95_seconds).',
      unit: 's',
      thresholds: redFrom(alerts.concurrency_queue_wait_p95_seconds),
      queries: [0.5, 0.95].map((q) => ({
        expr: quantile(q, limiter, series(ctx, 'concurrencyQueueWait', '_bucket')),
        legend: `{{scope}} {{name}} ${percentile(q)}`,
      })),
    }),
    timeseries({
      title: 'Concurrency rejections by reason',
      description:
        'Requests per second a limiter turned away: queue_full and queue_timeout (both 503 with Retry-After), and aborted (the client left while waiting).',
      unit: 'reqps',
      stacked: true,
      queries: [
        {
          expr: sumRate([...limiter, 'reason'], series(ctx, 'concurrencyRejections')),
          legend: '{{scope}} {{name}} {{reason}}',
        },
      ],
    }),
  ];
}

export const trafficControlRow: RowBuilder = (ctx) => {
  const panels = [...rateLimitPanels(ctx), ...concurrencyPanels(ctx)];
  if (panels.length === 0) return undefined;
  return { title: 'Traffic control', panels };
};
