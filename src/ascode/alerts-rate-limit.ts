/**
 * Alerts on rate limiting: a route refusing a large share of its requests, and the shared (Redis)
 * store being down. Nothing is generated unless a route has `rate_limits`; the store alert only
 * when a policy decides in Redis.
 */
import {
  type AlertDefinition,
  caseAt,
  groupedRule,
  testInstance as instance,
  overridesOf,
  percent,
  sel,
  selectorLabels,
  series,
  thresholdGroups,
  w,
} from './alert-definition.ts';
import { minute } from './profile.ts';
import { metric, num } from './promql.ts';
import type { InputSeries } from './rule-model.ts';
import { decidedRate, rateLimitedRoutes, refusing, sharesLimits } from './traffic-control.ts';

const decisions = metric('rateLimitDecisions');
const storeUp = metric('rateLimitStoreUp');
/** Requests per minute reaching the rate limits in the tests' busy traffic (10/s). */
const perMinute = 600;

export const rateLimitRejectionsSurge: AlertDefinition = {
  name: 'SluiceRateLimitRejectionsSurge',
  severity: 'warning',
  summary: 'A route’s rate limits refuse a large share of its requests.',
  description:
    'Route {{ $labels.route }}: rate limits refused {{ $value | humanizePercentage }} of requests over the last 5 minutes (429, or 503 while Redis is away and a policy fails closed; threshold {threshold}).',
  forSeconds: 10 * minute,
  rules(ctx) {
    if (rateLimitedRoutes(ctx).length === 0) return [];
    const { alerts } = ctx.config;
    const groups = thresholdGroups(
      'route',
      overridesOf(alerts.routes, 'rate_limit_rejection_ratio'),
      alerts.rate_limit_rejection_ratio,
    );
    const win = w(ctx, 5 * minute);
    const compare = (matcher: string, threshold: number) => {
      const decided = decidedRate(
        'route',
        (sum) => `${sum} (rate(${decisions}${sel(ctx, matcher)}[${win}]))`,
      );
      return [
        `sum by (route) (rate(${decisions}${sel(ctx, refusing, matcher)}[${win}]))`,
        `/ ${decided}`,
        `> ${num(threshold)}`,
        // A share of a handful of requests says nothing: a quiet route must not fire.
        'and on (route)',
        `${decided} >= ${num(alerts.rate_limit_min_requests_per_second)}`,
      ].join('\n');
    };
    return [groupedRule(groups, compare, percent)];
  },
  tests(ctx) {
    const [route] = rateLimitedRoutes(ctx);
    const labels = selectorLabels(ctx);
    if (route === undefined || labels === undefined) return [];
    const { alerts } = ctx.config;
    const threshold =
      alerts.routes[route.name]?.rate_limit_rejection_ratio ?? alerts.rate_limit_rejection_ratio;
    const [first = 'default', ...later] = route.policies;
    const at = { ...labels, instance, route: route.name };
    const counter = (policy: string, result: string, increase: number): InputSeries => ({
      series: series(decisions, { ...at, policy, result }),
      values: `0+${num(increase)}x40`,
    });
    /** `total` requests a minute meet the first policy, which gives `result` to `refused` of them. */
    const input = (total: number, refused: number, result: string) => [
      counter(first, 'allowed', total - refused),
      ...(refused > 0 ? [counter(first, result, refused)] : []),
      // Later policies decide only on what the first let through: they must not count it twice.
      ...later.map((policy) => counter(policy, 'allowed', total - refused)),
    ];
    const ratio = Math.min(0.9, threshold * 2);
    const refused = Math.max(1, Math.round(perMinute * ratio));
    const expected = {
      labels: { severity: this.severity, route: route.name },
      value: refused / perMinute,
      threshold: this.rules(ctx)[0]?.threshold,
    };
    const quiet = (alerts.rate_limit_min_requests_per_second * 60) / 2;
    return [
      caseAt(
        `${route.name}: ${refused} of ${perMinute} requests a minute answered 429 fires`,
        input(perMinute, refused, 'rejected'),
        25,
        expected,
      ),
      caseAt(
        `${route.name}: ${refused} of ${perMinute} answered 503 by a fail_closed policy while Redis is away fires`,
        input(perMinute, refused, 'store_unavailable'),
        25,
        expected,
      ),
      caseAt(
        `${route.name}: ${refused} of ${perMinute} only rejected by a shadow policy stays silent`,
        input(perMinute, refused, 'shadow_rejected'),
        25,
        undefined,
      ),
      caseAt(
        `${route.name}: every request refused, but only ${num(quiet)} a minute, stays silent`,
        input(quiet, quiet, 'rejected'),
        25,
        undefined,
      ),
    ];
  },
};

export const rateLimitStoreDown: AlertDefinition = {
  name: 'SluiceRateLimitStoreDown',
  severity: 'warning',
  summary: 'The Redis rate-limit store is unavailable, so shared limits are not enforced as configured.',
  description:
    '{{ $labels.instance }}: the Redis rate-limit store (limits.redis) has been unavailable for 5 minutes. Policies with on_store_error: fail_open limit per replica (N replicas admit up to N times the limit); fail_closed ones answer 503.',
  forSeconds: 5 * minute,
  rules(ctx) {
    if (!sharesLimits(ctx)) return [];
    return [{ expr: `max by (instance) (${storeUp}${sel(ctx)}) == 0` }];
  },
  tests(ctx) {
    const labels = selectorLabels(ctx);
    if (labels === undefined) return [];
    const input = (values: string) => [{ series: series(storeUp, { ...labels, instance }), values }];
    return [
      caseAt('Redis unavailable for 15 minutes fires', input('0x40'), 15, {
        labels: { severity: this.severity, instance },
        value: 0,
      }),
      caseAt('Redis down for the last 3 minutes (a restart) stays silent', input('1x11 0x28'), 15, undefined),
      caseAt('Redis up stays silent', input('1x40'), 15, undefined),
    ];
  },
};
