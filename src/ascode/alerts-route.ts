/** Alerts on what a route's clients see: 5xx responses, slow responses, traffic that stopped. */
import { metricCatalog } from '../telemetry/catalog.ts';
import {
  type AlertDefinition,
  bucketAbove,
  bucketSeries,
  caseAt,
  groupedRule,
  overridesOf,
  percent,
  quantileInBucket,
  type RuleContext,
  sel,
  selectorLabels,
  series,
  thresholdGroups,
  w,
} from './alert-definition.ts';
import { minute } from './profile.ts';
import { metric, num } from './promql.ts';

const requests = metric('requests');
const durationBucket = metric('requestDuration', '_bucket');
/** Requests per minute in the tests' healthy traffic (10/s). */
const perMinute = 600;

function firstRoute(ctx: RuleContext): string | undefined {
  return ctx.config.routes[0]?.name;
}

function routeThreshold(ctx: RuleContext, route: string, key: 'error_ratio' | 'latency_p95_seconds'): number {
  return ctx.config.alerts.routes[route]?.[key] ?? ctx.config.alerts[key];
}

export const routeErrorRatioHigh: AlertDefinition = {
  name: 'SluiceRouteErrorRatioHigh',
  severity: 'critical',
  summary: 'A route answers too many requests with a 5xx error.',
  description:
    'Route {{ $labels.route }}: {{ $value | humanizePercentage }} of responses over the last 5 minutes were 5xx (threshold {threshold}).',
  forSeconds: 5 * minute,
  rules(ctx) {
    const groups = thresholdGroups(
      'route',
      overridesOf(ctx.config.alerts.routes, 'error_ratio'),
      ctx.config.alerts.error_ratio,
    );
    const compare = (matcher: string, threshold: number) =>
      [
        `sum by (route) (rate(${requests}${sel(ctx, 'code=~"5.."', matcher)}[${w(ctx, 5 * minute)}]))`,
        '/',
        `sum by (route) (rate(${requests}${sel(ctx, matcher)}[${w(ctx, 5 * minute)}]))`,
        `> ${num(threshold)}`,
      ].join('\n');
    return [groupedRule(groups, compare, percent)];
  },
  tests(ctx) {
    const route = firstRoute(ctx);
    const labels = selectorLabels(ctx);
    if (route === undefined || labels === undefined) return [];
    const threshold = routeThreshold(ctx, route, 'error_ratio');
    const ratio = Math.min(0.9, threshold * 2);
    const failing = Math.max(1, Math.round((perMinute * ratio) / (1 - ratio)));
    const input = (errorsPerMinute: number) => [
      { series: series(requests, { ...labels, route, code: '200' }), values: `0+${perMinute}x40` },
      { series: series(requests, { ...labels, route, code: '500' }), values: `0+${errorsPerMinute}x40` },
    ];
    return [
      caseAt(`${route}: ${num(ratio * 100)}% 5xx for 20 minutes fires`, input(failing), 20, {
        labels: { severity: this.severity, route },
        value: failing / (perMinute + failing),
        threshold: this.rules(ctx)[0]?.threshold,
      }),
      caseAt(`${route}: no 5xx stays silent`, input(0), 20, undefined),
    ];
  },
};

export const routeLatencyHigh: AlertDefinition = {
  name: 'SluiceRouteLatencyHigh',
  severity: 'warning',
  summary: 'A route is slower than its latency threshold.',
  description:
    'Route {{ $labels.route }}: p95 request duration over the last 5 minutes is {{ $value | humanize }}s (threshold {threshold}). Streams count until their last byte.',
  forSeconds: 10 * minute,
  rules(ctx) {
    const groups = thresholdGroups(
      'route',
      overridesOf(ctx.config.alerts.routes, 'latency_p95_seconds'),
      ctx.config.alerts.latency_p95_seconds,
    );
    const compare = (matcher: string, threshold: number) =>
      `histogram_quantile(0.95, sum by (route, le) (rate(${durationBucket}${sel(ctx, matcher)}[${w(ctx, 5 * minute)}])))\n> ${num(threshold)}`;
    return [groupedRule(groups, compare, (threshold) => `${num(threshold)}s`)];
  },
  tests(ctx) {
    const route = firstRoute(ctx);
    const labels = selectorLabels(ctx);
    if (route === undefined || labels === undefined) return [];
    const buckets = metricCatalog.requestDuration.buckets;
    const threshold = routeThreshold(ctx, route, 'latency_p95_seconds');
    const slow = bucketAbove(buckets, threshold);
    if (slow === undefined) return [];
    return [
      caseAt(
        `${route}: every request slower than ${num(threshold)}s fires`,
        bucketSeries(durationBucket, buckets, { ...labels, route }, slow, perMinute),
        25,
        {
          labels: { severity: this.severity, route },
          value: quantileInBucket(buckets, slow, 0.95),
          threshold: this.rules(ctx)[0]?.threshold,
        },
      ),
      caseAt(
        `${route}: every request within ${buckets[0]}s stays silent`,
        bucketSeries(durationBucket, buckets, { ...labels, route }, buckets[0]!, perMinute),
        25,
        undefined,
      ),
    ];
  },
};

export const routeThroughputLow: AlertDefinition = {
  name: 'SluiceRouteThroughputLow',
  severity: 'warning',
  summary: 'A route serves fewer requests than its configured floor.',
  description:
    'Route {{ $labels.route }} served {{ $value | humanize }} requests/s over the last 10 minutes (floor {threshold}): its clients stopped sending, or Prometheus lost its series (scrape down, route renamed).',
  forSeconds: 15 * minute,
  rules(ctx) {
    return Object.entries(ctx.config.alerts.routes).flatMap(([route, settings]) => {
      const floor = settings?.min_requests_per_second;
      if (floor === undefined) return [];
      return [
        {
          // The zero stands in when the route has no series at all, and carries its name for the description.
          expr: `(sum by (route) (rate(${requests}${sel(ctx, `route="${route}"`)}[${w(ctx, 10 * minute)}])) or label_replace(vector(0), "route", "${route}", "", ""))\n< ${num(floor)}`,
          threshold: `${num(floor)}/s`,
        },
      ];
    });
  },
  tests(ctx) {
    const labels = selectorLabels(ctx);
    const entry = Object.entries(ctx.config.alerts.routes).find(
      ([, settings]) => settings?.min_requests_per_second !== undefined,
    );
    if (entry === undefined || labels === undefined) return [];
    const [route, settings] = entry;
    const healthy = Math.ceil(settings!.min_requests_per_second! * 2 * 60);
    const input = (perMinuteCount: number) => [
      { series: series(requests, { ...labels, route, code: '200' }), values: `0+${perMinuteCount}x40` },
    ];
    const floor = settings!.min_requests_per_second!;
    return [
      caseAt(`${route}: no requests for 30 minutes fires`, input(0), 30, {
        labels: { severity: this.severity, route },
        value: 0,
        threshold: `${num(floor)}/s`,
      }),
      caseAt(`${route}: twice the floor stays silent`, input(healthy), 30, undefined),
    ];
  },
};
