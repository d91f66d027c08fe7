/** Alerts on the backends: failing or unreachable upstreams, and connection pools running out. */
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

const upstreamErrors = metric('upstreamErrors');
const upstreamResponses = metric('upstreamDuration', '_count');
const poolConnections = metric('upstreamPoolConnections');
const poolMax = metric('upstreamPoolSize');
const poolWaitBucket = metric('upstreamPoolWait', '_bucket');
const perMinute = 600;

function firstUpstream(ctx: RuleContext): string | undefined {
  return Object.keys(ctx.config.upstreams)[0];
}

function upstreamSetting(
  ctx: RuleContext,
  upstream: string,
  key: 'error_ratio' | 'pool_utilization' | 'pool_wait_p95_seconds',
): number {
  const fallback = key === 'error_ratio' ? ctx.config.alerts.upstream_error_ratio : ctx.config.alerts[key];
  return ctx.config.alerts.upstreams[upstream]?.[key] ?? fallback;
}

export const upstreamErrorsHigh: AlertDefinition = {
  name: 'SluiceUpstreamErrorsHigh',
  severity: 'warning',
  summary: 'An upstream fails too many of the requests Sluice sends it.',
  description:
    'Upstream {{ $labels.upstream }}: {{ $value | humanizePercentage }} of attempts over the last 5 minutes failed (transport errors or 5xx; threshold {threshold}).',
  forSeconds: 5 * minute,
  rules(ctx) {
    const groups = thresholdGroups(
      'upstream',
      overridesOf(ctx.config.alerts.upstreams, 'error_ratio'),
      ctx.config.alerts.upstream_error_ratio,
    );
    const win = w(ctx, 5 * minute);
    const compare = (matcher: string, threshold: number) => {
      const failed = `sum by (upstream) (rate(${upstreamErrors}${sel(ctx, matcher)}[${win}]))`;
      const answered5xx = `sum by (upstream) (rate(${upstreamResponses}${sel(ctx, 'code=~"5.."', matcher)}[${win}]))`;
      const answered = `sum by (upstream) (rate(${upstreamResponses}${sel(ctx, matcher)}[${win}]))`;
      // Either side may have no series yet (no failure, or no answer ever): `or … * 0` stands in a zero.
      const failedOrZero = `(${failed} or ${answered} * 0)`;
      return [
        `(${failedOrZero} + (${answered5xx} or ${answered} * 0))`,
        '/',
        `(${failedOrZero} + (${answered} or ${failed} * 0))`,
        `> ${num(threshold)}`,
      ].join('\n');
    };
    return [groupedRule(groups, compare, percent)];
  },
  tests(ctx) {
    const upstream = firstUpstream(ctx);
    const labels = selectorLabels(ctx);
    if (upstream === undefined || labels === undefined) return [];
    const threshold = upstreamSetting(ctx, upstream, 'error_ratio');
    const ratio = Math.min(0.9, threshold * 2);
    const failing = Math.max(1, Math.round((perMinute * ratio) / (1 - ratio)));
    const at = { ...labels, upstream };
    const answered200 = {
      series: series(upstreamResponses, { ...at, code: '200' }),
      values: `0+${perMinute}x40`,
    };
    const failures = `0+${failing}x40`;
    const expected = {
      labels: { severity: this.severity, upstream },
      value: failing / (perMinute + failing),
      threshold: this.rules(ctx)[0]?.threshold,
    };
    return [
      caseAt(
        `${upstream}: ${num(ratio * 100)}% connection resets fires`,
        [
          answered200,
          { series: series(upstreamErrors, { ...at, error: 'upstream_connection_reset' }), values: failures },
        ],
        20,
        expected,
      ),
      caseAt(
        `${upstream}: ${num(ratio * 100)}% 503 answers, no transport error series at all, fires`,
        [answered200, { series: series(upstreamResponses, { ...at, code: '503' }), values: failures }],
        20,
        expected,
      ),
      caseAt(`${upstream}: every attempt answered 200 stays silent`, [answered200], 20, undefined),
    ];
  },
};

const connectErrors = 'error=~"upstream_connect_failed|upstream_connect_timeout"';

export const upstreamUnreachable: AlertDefinition = {
  name: 'SluiceUpstreamUnreachable',
  severity: 'critical',
  summary: 'A Sluice instance cannot connect to an upstream at all.',
  description:
    '{{ $labels.instance }}, upstream {{ $labels.upstream }}: attempts over the last 5 minutes failed to connect ({{ $value | humanize }} connect errors/s) and none was answered.',
  forSeconds: 2 * minute,
  rules(ctx) {
    const win = w(ctx, 5 * minute);
    // Per instance: one replica cut off from an upstream (its network, its DNS) is an outage for
    // its clients even while the other replicas still get answers.
    return [
      {
        expr: [
          `sum by (instance, upstream) (rate(${upstreamErrors}${sel(ctx, connectErrors)}[${win}])) > 0`,
          'unless on (instance, upstream)',
          `sum by (instance, upstream) (rate(${upstreamResponses}${sel(ctx)}[${win}])) > 0`,
        ].join('\n'),
      },
    ];
  },
  tests(ctx) {
    const upstream = firstUpstream(ctx);
    const labels = selectorLabels(ctx);
    if (upstream === undefined || labels === undefined) return [];
    const at = (instance: string) => ({ ...labels, instance, upstream });
    const refused = (instance: string) => ({
      series: series(upstreamErrors, { ...at(instance), error: 'upstream_connect_failed' }),
      values: '0+60x40',
    });
    const answered = (instance: string) => ({
      series: series(upstreamResponses, { ...at(instance), code: '200' }),
      values: `0+${perMinute}x40`,
    });
    return [
      caseAt(
        `${upstream}: one instance refused while another is answered fires for that instance`,
        [refused('sluice-0:9464'), answered('sluice-1:9464')],
        15,
        { labels: { severity: this.severity, instance: 'sluice-0:9464', upstream }, value: 1 },
      ),
      caseAt(
        `${upstream}: some connections refused while others are answered, on the same instance, stays silent`,
        [refused('sluice-0:9464'), answered('sluice-0:9464')],
        15,
        undefined,
      ),
    ];
  },
};

export const upstreamPoolSaturated: AlertDefinition = {
  name: 'SluiceUpstreamPoolSaturated',
  severity: 'warning',
  summary: 'An upstream connection pool is nearly full.',
  description:
    '{{ $labels.instance }}, upstream {{ $labels.upstream }}: {{ $value | humanizePercentage }} of the pool’s connections are busy (threshold {threshold}); requests will soon wait for one.',
  forSeconds: 10 * minute,
  rules(ctx) {
    const groups = thresholdGroups(
      'upstream',
      overridesOf(ctx.config.alerts.upstreams, 'pool_utilization'),
      ctx.config.alerts.pool_utilization,
    );
    const compare = (matcher: string, threshold: number) =>
      [
        '(',
        `  sum by (instance, upstream) (${poolConnections}${sel(ctx, 'state="connected"', matcher)})`,
        `  - sum by (instance, upstream) (${poolConnections}${sel(ctx, 'state="free"', matcher)})`,
        ')',
        `/ sum by (instance, upstream) (${poolMax}${sel(ctx, matcher)})`,
        `> ${num(threshold)}`,
      ].join('\n');
    return [groupedRule(groups, compare, percent)];
  },
  tests(ctx) {
    const upstream = firstUpstream(ctx);
    const labels = selectorLabels(ctx);
    if (upstream === undefined || labels === undefined) return [];
    const threshold = upstreamSetting(ctx, upstream, 'pool_utilization');
    const max = 100;
    const at = { ...labels, instance: 'sluice-0:9464', upstream };
    const input = (busy: number) => [
      { series: series(poolConnections, { ...at, state: 'connected' }), values: `${max}x40` },
      { series: series(poolConnections, { ...at, state: 'free' }), values: `${max - busy}x40` },
      { series: series(poolMax, at), values: `${max}x40` },
    ];
    const busy = Math.min(max, Math.ceil(threshold * max) + 1);
    return [
      caseAt(`${upstream}: ${busy} of ${max} connections busy fires`, input(busy), 15, {
        labels: { severity: this.severity, instance: at.instance, upstream },
        value: busy / max,
        threshold: this.rules(ctx)[0]?.threshold,
      }),
      caseAt(`${upstream}: half the pool busy stays silent`, input(max / 2), 15, undefined),
    ];
  },
};

export const upstreamPoolWaitHigh: AlertDefinition = {
  name: 'SluiceUpstreamPoolWaitHigh',
  severity: 'warning',
  summary: 'Requests wait too long for an upstream connection.',
  description:
    'Upstream {{ $labels.upstream }}: p95 wait for a connection over the last 5 minutes is {{ $value | humanizeDuration }} (threshold {threshold}).',
  forSeconds: 10 * minute,
  rules(ctx) {
    const groups = thresholdGroups(
      'upstream',
      overridesOf(ctx.config.alerts.upstreams, 'pool_wait_p95_seconds'),
      ctx.config.alerts.pool_wait_p95_seconds,
    );
    const compare = (matcher: string, threshold: number) =>
      `histogram_quantile(0.95, sum by (upstream, le) (rate(${poolWaitBucket}${sel(ctx, matcher)}[${w(ctx, 5 * minute)}])))\n> ${num(threshold)}`;
    return [groupedRule(groups, compare, (threshold) => `${num(threshold * 1000)}ms`)];
  },
  tests(ctx) {
    const upstream = firstUpstream(ctx);
    const labels = selectorLabels(ctx);
    if (upstream === undefined || labels === undefined) return [];
    const buckets = metricCatalog.upstreamPoolWait.buckets;
    const threshold = upstreamSetting(ctx, upstream, 'pool_wait_p95_seconds');
    const slow = bucketAbove(buckets, threshold);
    if (slow === undefined) return [];
    const input = (le: number) =>
      bucketSeries(poolWaitBucket, buckets, { ...labels, upstream }, le, perMinute);
    return [
      caseAt(`${upstream}: every request waits over ${num(threshold)}s fires`, input(slow), 25, {
        labels: { severity: this.severity, upstream },
        value: quantileInBucket(buckets, slow, 0.95),
        threshold: this.rules(ctx)[0]?.threshold,
      }),
      caseAt(`${upstream}: no waiting stays silent`, input(buckets[0]!), 25, undefined),
    ];
  },
};
