/**
 * Alerts on upstream resilience: a target out of service, a breaker that keeps tripping, retries
 * refused because the retry budget is spent, and a route left without any target. The target
 * alerts exist only when an upstream has a breaker, outlier detection or health checks (nothing
 * else exports the state gauges); the budget alert only when a route retries or hedges.
 *
 * Every replica runs its own breakers and its own budget, so each alert says how it folds the
 * instances together, and why.
 */
import {
  type AlertDefinition,
  caseAt,
  groupedRule,
  overridesOf,
  type RuleContext,
  sel,
  selectorLabels,
  series,
  thresholdGroups,
  w,
} from './alert-definition.ts';
import { minute } from './profile.ts';
import { metric, num } from './promql.ts';
import { healthTrackedRoutes, resilientUpstreams, retryingRoutes, tracksHealth } from './resilience.ts';
import type { InputSeries } from './rule-model.ts';

const breakerState = metric('upstreamBreakerState');
const transitions = metric('upstreamBreakerTransitions');
const retriesDenied = metric('upstreamRetriesDenied');
const targetsAvailable = metric('routeTargetsAvailable');
const instances = ['sluice-0:9464', 'sluice-1:9464'];
const states = ['closed', 'open', 'half_open', 'ejected'] as const;
/** A trip from closed; re-opening after a failed probe (probe_failed) is a target still down, not a flap. */
const tripFromClosed = 'reason=~"error_rate|slow_calls"';

/** `n` one-minute samples alternating between `a` and `b`. */
const alternating = (a: number, b: number, n = 41) =>
  Array.from({ length: n }, (_, i) => (i % 2 === 0 ? a : b)).join(' ');

/** The first target of the first upstream that tracks target health. */
function firstTarget(ctx: RuleContext) {
  const [upstream] = resilientUpstreams(ctx);
  const target = upstream?.targets[0];
  return upstream === undefined || target === undefined ? undefined : { upstream: upstream.name, target };
}

export const upstreamBreakerOpen: AlertDefinition = {
  name: 'SluiceUpstreamBreakerOpen',
  severity: 'critical',
  summary: 'An upstream target has been out of service for over a minute.',
  description:
    'Upstream {{ $labels.upstream }}, target {{ $labels.target }}: out of service for over a minute on at least one instance (breaker open or on trial, or ejected). Its traffic goes to the other targets, or fails over, or gets 503.',
  forSeconds: minute,
  rules(ctx) {
    if (!tracksHealth(ctx)) return [];
    // Any state but closed: an open breaker goes half_open for its probes and an ejected target
    // returns on trial, so `state="open"` alone would reset the pending alert at every probe of a
    // target that is still down. Per instance (max): each replica's breaker sees its own traffic.
    return [{ expr: `max by (upstream, target) (${breakerState}${sel(ctx, 'state!="closed"')}) == 1` }];
  },
  tests(ctx) {
    const at = firstTarget(ctx);
    const labels = selectorLabels(ctx);
    if (at === undefined || labels === undefined) return [];
    const gauge = (instance: string, values: Partial<Record<(typeof states)[number], string>>) =>
      states.map((state) => ({
        series: series(breakerState, { ...labels, instance, ...at, state }),
        values: values[state] ?? '0x40',
      }));
    const healthy = gauge(instances[1]!, { closed: '1x40' });
    const expected = { labels: { severity: this.severity, ...at }, value: 1 };
    const what = `${at.upstream}/${at.target}`;
    return [
      caseAt(
        `${what}: breaker open on one of two instances fires`,
        [...gauge(instances[0]!, { open: '1x40' }), ...healthy],
        15,
        expected,
      ),
      caseAt(
        `${what}: open, then half_open for a probe that fails, minute after minute, fires`,
        [...gauge(instances[0]!, { open: alternating(1, 0), half_open: alternating(0, 1) }), ...healthy],
        15,
        expected,
      ),
      caseAt(
        `${what}: ejected for 15 minutes fires`,
        [...gauge(instances[0]!, { ejected: '1x40' }), ...healthy],
        15,
        expected,
      ),
      caseAt(
        `${what}: open for one scrape, closed again at the next, stays silent`,
        [...gauge(instances[0]!, { closed: '1x10 0 1x29', open: '0x10 1 0x29' }), ...healthy],
        15,
        undefined,
      ),
      caseAt(
        `${what}: closed everywhere stays silent`,
        [...gauge(instances[0]!, { closed: '1x40' }), ...healthy],
        15,
        undefined,
      ),
    ];
  },
};

export const upstreamBreakerFlapping: AlertDefinition = {
  name: 'SluiceUpstreamBreakerFlapping',
  severity: 'warning',
  summary: 'An upstream target’s breaker keeps tripping: it recovers and fails again.',
  description:
    'Upstream {{ $labels.upstream }}, target {{ $labels.target }}: its breaker tripped from closed {{ $value | humanize }} times per second over the last 15 minutes, summed over instances (threshold {threshold}). Requests that reach it between trips fail or are retried.',
  forSeconds: 5 * minute,
  rules(ctx) {
    if (!tracksHealth(ctx)) return [];
    const { alerts } = ctx.config;
    const groups = thresholdGroups(
      'upstream',
      overridesOf(alerts.upstreams, 'breaker_trips_per_second'),
      alerts.breaker_trips_per_second,
    );
    // 15 minutes: trips are rare events (at most one per reset timeout per instance), and a
    // 5-minute window holds too few of them for a steady rate.
    const win = w(ctx, 15 * minute);
    const compare = (matcher: string, threshold: number) =>
      `sum by (upstream, target) (rate(${transitions}${sel(ctx, 'to="open"', tripFromClosed, matcher)}[${win}]))\n> ${num(threshold)}`;
    return [groupedRule(groups, compare, (threshold) => `${num(threshold)}/s`)];
  },
  tests(ctx) {
    const at = firstTarget(ctx);
    const labels = selectorLabels(ctx);
    if (at === undefined || labels === undefined) return [];
    const { alerts } = ctx.config;
    const threshold =
      alerts.upstreams[at.upstream]?.breaker_trips_per_second ?? alerts.breaker_trips_per_second;
    // Trips per minute well over the threshold, whole so the counter stays an integer.
    const perMinute = Math.max(1, Math.ceil(threshold * 60 * 2));
    const counter = (reason: string, values: string): InputSeries => ({
      series: series(transitions, { ...labels, instance: instances[0]!, ...at, to: 'open', reason }),
      values,
    });
    const what = `${at.upstream}/${at.target}`;
    return [
      caseAt(
        `${what}: ${perMinute} trips a minute on error_rate fires`,
        [counter('error_rate', `0+${perMinute}x40`)],
        25,
        {
          labels: { severity: this.severity, ...at },
          value: perMinute / 60,
          threshold: this.rules(ctx)[0]?.threshold,
        },
      ),
      caseAt(
        `${what}: a breaker held open, re-opening after every failed probe, stays silent`,
        [counter('error_rate', '0x10 1x30'), counter('probe_failed', `0x10 0+${perMinute}x30`)],
        25,
        undefined,
      ),
      caseAt(`${what}: one trip stays silent`, [counter('error_rate', '0x10 1x30')], 25, undefined),
    ];
  },
};

export const upstreamRetryBudgetExhausted: AlertDefinition = {
  name: 'SluiceUpstreamRetryBudgetExhausted',
  severity: 'warning',
  summary: 'Retries to an upstream are refused because its retry budget is spent.',
  description:
    'Upstream {{ $labels.upstream }}: {{ $value | humanize }} failed attempts per second were not retried over the last 5 minutes because the retry budget is spent (summed over instances). Clients get the failure the retry would have hidden.',
  forSeconds: 5 * minute,
  rules(ctx) {
    if (retryingRoutes(ctx).length === 0) return [];
    return [
      {
        expr: `sum by (upstream) (rate(${retriesDenied}${sel(ctx, 'reason="budget_exhausted"')}[${w(ctx, 5 * minute)}])) > 0`,
      },
    ];
  },
  tests(ctx) {
    const [route] = retryingRoutes(ctx);
    const labels = selectorLabels(ctx);
    if (route === undefined || labels === undefined) return [];
    const { upstream } = route;
    const denied = (reason: string, values: string): InputSeries => ({
      series: series(retriesDenied, { ...labels, instance: instances[0]!, upstream, reason }),
      values,
    });
    return [
      caseAt(
        `${upstream}: 6 retries a minute refused by the budget fires`,
        [denied('budget_exhausted', '0+6x40')],
        20,
        {
          labels: { severity: this.severity, upstream },
          value: 0.1,
        },
      ),
      caseAt(
        `${upstream}: retries refused at max_attempts only stays silent`,
        [denied('max_attempts', '0+6x40')],
        20,
        undefined,
      ),
      caseAt(
        `${upstream}: the budget spent for one minute stays silent`,
        [denied('budget_exhausted', '0x10 5x30')],
        20,
        undefined,
      ),
    ];
  },
};

export const routeAllTargetsDown: AlertDefinition = {
  name: 'SluiceRouteAllTargetsDown',
  severity: 'critical',
  summary: 'No target of a route may take traffic: its requests get 503.',
  description:
    'Route {{ $labels.route }}: no target of its upstream or its failover chain may take traffic on any instance for over a minute (breakers open, targets ejected or failing health checks).',
  forSeconds: minute,
  rules(ctx) {
    if (!tracksHealth(ctx)) return [];
    // max, not min, over instances: each replica runs its own breakers on its own traffic, so one
    // replica that lost its targets (its own network path, a burst it alone saw) answers 503 only
    // for its share, which SluiceUpstreamBreakerOpen names per target. The route is down when no
    // replica has a target left. A replica with no traffic keeps its targets available and can
    // hide an outage from this alert; SluiceRouteErrorRatioHigh still sees the 503s.
    return [{ expr: `max by (route) (${targetsAvailable}${sel(ctx)}) == 0` }];
  },
  tests(ctx) {
    const labels = selectorLabels(ctx);
    const route = healthTrackedRoutes(ctx)[0] ?? ctx.config.routes[0]?.name;
    if (route === undefined || labels === undefined) return [];
    const gauge = (instance: string, values: string): InputSeries => ({
      series: series(targetsAvailable, { ...labels, instance, route }),
      values,
    });
    return [
      caseAt(
        `${route}: no target left on either instance fires`,
        [gauge(instances[0]!, '2x5 0x35'), gauge(instances[1]!, '2x5 0x35')],
        15,
        { labels: { severity: this.severity, route }, value: 0 },
      ),
      caseAt(
        `${route}: no target left on one instance only stays silent`,
        [gauge(instances[0]!, '0x40'), gauge(instances[1]!, '1x40')],
        15,
        undefined,
      ),
      caseAt(
        `${route}: every target out for one scrape stays silent`,
        [gauge(instances[0]!, '2x10 0 2x29'), gauge(instances[1]!, '2x10 0 2x29')],
        15,
        undefined,
      ),
    ];
  },
};
