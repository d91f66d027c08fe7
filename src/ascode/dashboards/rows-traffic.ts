/** What clients see: request rates, errors and durations, overall and per route. */
import type { RowBuilder } from './layout.ts';
import {
  type PanelContext,
  quantile,
  redFrom,
  series,
  shareOf,
  stat,
  sumRate,
  timeseries,
} from './panels.ts';

const serverErrors = 'code=~"5.."';

function errorRatioBy(ctx: PanelContext, by: readonly string[]): string {
  return shareOf(by, series(ctx, 'requests', '', serverErrors), series(ctx, 'requests'));
}

function durationQuantile(ctx: PanelContext, q: number, by: readonly string[]): string {
  return quantile(q, by, series(ctx, 'requestDuration', '_bucket'));
}

export const overviewRow: RowBuilder = (ctx) => {
  const { error_ratio: errorRatio, latency_p95_seconds: latencyP95 } = ctx.config.alerts;
  return {
    title: 'Overview',
    panels: [
      stat({
        title: 'Request rate',
        description: 'Requests answered to clients per second, over the selected routes and upstreams.',
        unit: 'reqps',
        width: 6,
        height: 4,
        queries: [{ expr: sumRate([], series(ctx, 'requests')), legend: 'requests/s' }],
      }),
      stat({
        title: '5xx ratio',
        description:
          'Share of responses with a 5xx status, from Sluice or the upstream. Turns red at the alert threshold (alerts.error_ratio).',
        unit: 'percentunit',
        width: 6,
        height: 4,
        thresholds: redFrom(errorRatio),
        queries: [{ expr: errorRatioBy(ctx, []), legend: '5xx ratio' }],
      }),
      stat({
        title: 'p95 request duration',
        description:
          'Time from request received to last response byte, 95th percentile; streams count until their end. Turns red at alerts.latency_p95_seconds.',
        unit: 's',
        width: 6,
        height: 4,
        thresholds: redFrom(latencyP95),
        queries: [{ expr: durationQuantile(ctx, 0.95, []), legend: 'p95' }],
      }),
      stat({
        title: 'Instances up',
        description: 'Sluice instances Prometheus scraped successfully on its last scrape.',
        unit: 'short',
        width: 6,
        height: 4,
        queries: [{ expr: `sum(${series(ctx, 'scrapeUp')})`, legend: 'up' }],
      }),
      timeseries({
        title: 'Request rate by route',
        description: 'Requests answered to clients per second, per route.',
        unit: 'reqps',
        queries: [{ expr: sumRate(['route'], series(ctx, 'requests')), legend: '{{route}}' }],
      }),
      timeseries({
        title: 'Responses by status code',
        description: 'Responses per second by HTTP status code, stacked: the total is the request rate.',
        unit: 'reqps',
        stacked: true,
        queries: [{ expr: sumRate(['code'], series(ctx, 'requests')), legend: '{{code}}' }],
      }),
      timeseries({
        title: '5xx ratio by route',
        description:
          'Share of each route’s responses with a 5xx status. The dashed line is the default alert threshold (alerts.error_ratio); alerts.routes may set others per route.',
        unit: 'percentunit',
        min: 0,
        thresholds: redFrom(errorRatio),
        queries: [{ expr: errorRatioBy(ctx, ['route']), legend: '{{route}}' }],
      }),
      timeseries({
        title: 'Request duration, all selected routes',
        description:
          'Time from request received to last response byte: p50, p95 and p99 over every selected route.',
        unit: 's',
        thresholds: redFrom(latencyP95),
        queries: [
          { expr: durationQuantile(ctx, 0.5, []), legend: 'p50' },
          { expr: durationQuantile(ctx, 0.95, []), legend: 'p95' },
          { expr: durationQuantile(ctx, 0.99, []), legend: 'p99' },
        ],
      }),
      timeseries({
        title: 'Rejections by error code',
        description:
          'Requests Sluice answered itself without forwarding (bad input, limits, no route), per second, by route and Sluice error code.',
        unit: 'reqps',
        queries: [
          { expr: sumRate(['route', 'error'], series(ctx, 'rejections')), legend: '{{route}} {{error}}' },
        ],
      }),
      timeseries({
        title: 'Client aborts by route',
        description: 'Requests per second whose client went away before the response was complete.',
        unit: 'reqps',
        queries: [{ expr: sumRate(['route'], series(ctx, 'clientAborts')), legend: '{{route}}' }],
      }),
      timeseries({
        title: 'Requests in flight by route',
        description: 'Client requests being handled right now, summed over instances.',
        unit: 'short',
        queries: [{ expr: `sum by (route) (${series(ctx, 'requestsInFlight')})`, legend: '{{route}}' }],
      }),
      timeseries({
        title: 'Body throughput by route',
        description:
          'Request body bytes received from clients and response body bytes sent to them, per second.',
        unit: 'Bps',
        queries: [
          { expr: sumRate(['route'], series(ctx, 'requestBytes')), legend: '{{route}} received' },
          { expr: sumRate(['route'], series(ctx, 'responseBytes')), legend: '{{route}} sent' },
        ],
      }),
    ],
  };
};

export const latencyRow: RowBuilder = (ctx) => {
  const percentile = (q: number, name: string, extra: string) =>
    timeseries({
      title: `${name} request duration by route`,
      description: `Time from request received to last response byte, ${name} per route (streams count until their end). ${extra}`,
      unit: 's',
      width: 8,
      ...(q === 0.95 ? { thresholds: redFrom(ctx.config.alerts.latency_p95_seconds) } : {}),
      queries: [{ expr: durationQuantile(ctx, q, ['route']), legend: '{{route}}' }],
    });
  return {
    title: 'Latency by route',
    panels: [
      percentile(0.5, 'p50', 'The typical request.'),
      percentile(0.95, 'p95', 'The dashed line is the default alert threshold (alerts.latency_p95_seconds).'),
      percentile(0.99, 'p99', 'The slowest requests: long generations and retries show here first.'),
    ],
  };
};
