/**
 * Alerts on concurrency limiters: a long queue in front of one, and long waits for its slots. A
 * limiter is a route's or an upstream's `concurrency` (labels `scope` and `name`); nothing is
 * generated without one. Both look at the whole deployment: every instance and priority class.
 */
import { metricCatalog } from '../telemetry/catalog.ts';
import {
  type AlertDefinition,
  bucketAbove,
  bucketSeries,
  caseAt,
  groupedRule,
  quantileInBucket,
  sel,
  selectorLabels,
  series,
  w,
} from './alert-definition.ts';
import { minute } from './profile.ts';
import { metric, num } from './promql.ts';
import { concurrencyLimiters, limiterGroups, limiterThreshold } from './traffic-control.ts';

const queueDepth = metric('concurrencyQueued');
const waitBucket = metric('concurrencyQueueWait', '_bucket');
/** Requests per minute through the limiter in the tests' busy traffic (10/s). */
const perMinute = 600;
const instances = ['sluice-0:9464', 'sluice-1:9464'];

export const concurrencyQueueBacklog: AlertDefinition = {
  name: 'SluiceConcurrencyQueueBacklog',
  severity: 'warning',
  summary: 'Many requests wait in the queue of a concurrency limiter.',
  description:
    '{{ $labels.scope }} {{ $labels.name }}: {{ $value | humanize }} requests wait for a concurrency slot, summed over instances and priority classes (threshold {threshold}). They are served late, or get 503 when the queue is full or their wait times out.',
  forSeconds: 5 * minute,
  rules(ctx) {
    if (concurrencyLimiters(ctx).length === 0) return [];
    const compare = (matcher: string, threshold: number) =>
      `sum by (scope, name) (${queueDepth}${sel(ctx, matcher)}) > ${num(threshold)}`;
    return [groupedRule(limiterGroups(ctx, 'concurrency_queue_depth'), compare, num)];
  },
  tests(ctx) {
    const [limiter] = concurrencyLimiters(ctx);
    const labels = selectorLabels(ctx);
    if (limiter === undefined || labels === undefined) return [];
    const threshold = limiterThreshold(ctx, limiter, 'concurrency_queue_depth');
    const classes = ctx.config.limits.priority_classes.slice(0, 2);
    const count = instances.length * classes.length;
    const input = (perSeries: number, values: (depth: number) => string) =>
      instances.flatMap((instance) =>
        classes.map((priorityClass) => ({
          series: series(queueDepth, { ...labels, instance, ...limiter, class: priorityClass }),
          values: values(perSeries),
        })),
      );
    // Each queue alone may stay under the threshold: the backlog is theirs together.
    const deep = Math.floor(threshold / count) + 1;
    const what = `${limiter.scope} ${limiter.name}`;
    return [
      caseAt(
        `${what}: ${deep} waiting in each of ${count} queues (${instances.length} instances × ${classes.length} classes) fires`,
        input(deep, (depth) => `${depth}x40`),
        15,
        {
          labels: { severity: this.severity, ...limiter },
          value: deep * count,
          threshold: this.rules(ctx)[0]?.threshold,
        },
      ),
      caseAt(
        `${what}: the same backlog for the last 3 minutes only (a burst) stays silent`,
        input(deep, (depth) => `0x11 ${depth}x28`),
        15,
        undefined,
      ),
      caseAt(
        `${what}: half the threshold waiting stays silent`,
        input(Math.floor(threshold / (2 * count)), (depth) => `${depth}x40`),
        15,
        undefined,
      ),
    ];
  },
};

export const concurrencyQueueWaitHigh: AlertDefinition = {
  name: 'SluiceConcurrencyQueueWaitHigh',
  severity: 'warning',
  summary: 'Requests wait too long for a slot of a concurrency limiter.',
  description:
    '{{ $labels.scope }} {{ $labels.name }}: p95 wait for a concurrency slot over the last 5 minutes is {{ $value | humanizeDuration }}, every instance and priority class together, waits that timed out included (threshold {threshold}).',
  forSeconds: 10 * minute,
  rules(ctx) {
    if (concurrencyLimiters(ctx).length === 0) return [];
    const compare = (matcher: string, threshold: number) =>
      `histogram_quantile(0.95, sum by (scope, name, le) (rate(${waitBucket}${sel(ctx, matcher)}[${w(ctx, 5 * minute)}])))\n> ${num(threshold)}`;
    return [
      groupedRule(
        limiterGroups(ctx, 'concurrency_queue_wait_p95_seconds'),
        compare,
        (threshold) => `${num(threshold)}s`,
      ),
    ];
  },
  tests(ctx) {
    const [limiter] = concurrencyLimiters(ctx);
    const labels = selectorLabels(ctx);
    if (limiter === undefined || labels === undefined) return [];
    const buckets = metricCatalog.concurrencyQueueWait.buckets;
    const threshold = limiterThreshold(ctx, limiter, 'concurrency_queue_wait_p95_seconds');
    const slow = bucketAbove(buckets, threshold);
    if (slow === undefined) return [];
    const [priorityClass = 'default'] = ctx.config.limits.priority_classes;
    const input = (le: number) =>
      bucketSeries(waitBucket, buckets, { ...labels, ...limiter, class: priorityClass }, le, perMinute);
    const what = `${limiter.scope} ${limiter.name}`;
    return [
      caseAt(`${what}: every request waits over ${num(threshold)}s fires`, input(slow), 25, {
        labels: { severity: this.severity, ...limiter },
        value: quantileInBucket(buckets, slow, 0.95),
        threshold: this.rules(ctx)[0]?.threshold,
      }),
      caseAt(`${what}: slots free at once stays silent`, input(buckets[0]!), 25, undefined),
    ];
  },
};
