/**
 * The alert and recording rules of rules/sluice.rules.yaml, from the config's `alerts` section.
 * Every alert has a runbook (docs/runbooks/<name>.md) and promtool cases that show it firing
 * under its condition and silent when healthy.
 */
import type { AlertCase, AlertDefinition, RuleContext } from './alert-definition.ts';
import { sel, w } from './alert-definition.ts';
import {
  cacheHitRatioLow,
  cacheL1Full,
  cacheL1HitRatioLow,
  cacheL2Failing,
  cacheL2HitRatioLow,
} from './alerts-cache.ts';
import { compressionRatioLow } from './alerts-compression.ts';
import { concurrencyQueueBacklog, concurrencyQueueWaitHigh } from './alerts-concurrency.ts';
import {
  configReloadFailing,
  eventLoopDelayHigh,
  llmUnpricedModel,
  memoryHigh,
  targetDown,
  targetMissing,
} from './alerts-process.ts';
import { rateLimitRejectionsSurge, rateLimitStoreDown } from './alerts-rate-limit.ts';
import {
  routeAllTargetsDown,
  upstreamBreakerFlapping,
  upstreamBreakerOpen,
  upstreamRetryBudgetExhausted,
} from './alerts-resilience.ts';
import { routeErrorRatioHigh, routeLatencyHigh, routeThroughputLow } from './alerts-route.ts';
import {
  upstreamErrorsHigh,
  upstreamPoolSaturated,
  upstreamPoolWaitHigh,
  upstreamUnreachable,
} from './alerts-upstream.ts';
import { cacheRecordings } from './cache-recordings.ts';
import { renderAnnotation } from './go-template.ts';
import { minute, window } from './profile.ts';
import { metric } from './promql.ts';
import type { AlertRule, PromtoolTestCase, RecordingRule, RuleGroup } from './rule-model.ts';

export const alertDefinitions: readonly AlertDefinition[] = [
  routeErrorRatioHigh,
  routeLatencyHigh,
  routeThroughputLow,
  cacheL1HitRatioLow,
  cacheL2HitRatioLow,
  cacheHitRatioLow,
  cacheL1Full,
  cacheL2Failing,
  upstreamErrorsHigh,
  upstreamUnreachable,
  upstreamPoolSaturated,
  upstreamPoolWaitHigh,
  upstreamBreakerOpen,
  upstreamBreakerFlapping,
  upstreamRetryBudgetExhausted,
  routeAllTargetsDown,
  rateLimitRejectionsSurge,
  rateLimitStoreDown,
  concurrencyQueueBacklog,
  concurrencyQueueWaitHigh,
  compressionRatioLow,
  targetDown,
  targetMissing,
  configReloadFailing,
  memoryHigh,
  eventLoopDelayHigh,
  llmUnpricedModel,
];

function enabled(ctx: RuleContext): AlertDefinition[] {
  const disabled = new Set(ctx.config.alerts.disabled);
  return alertDefinitions.filter((definition) => !disabled.has(definition.name));
}

function annotations(ctx: RuleContext, definition: AlertDefinition, threshold: string | undefined) {
  return {
    summary: definition.summary,
    description: definition.description.replaceAll('{threshold}', threshold ?? ''),
    runbook_url: ctx.config.alerts.runbook_url.replaceAll('{alert}', definition.name),
  };
}

function alertRules(ctx: RuleContext, definition: AlertDefinition): AlertRule[] {
  return definition.rules(ctx).map((instance) => ({
    alert: definition.name,
    expr: instance.expr,
    ...(definition.forSeconds > 0 ? { for: window(ctx.profile, definition.forSeconds) } : {}),
    labels: { severity: definition.severity, ...instance.labels },
    annotations: annotations(ctx, definition, instance.threshold),
  }));
}

/**
 * Per-route request rates and durations, recorded once for the dashboards' overview rows (a
 * dashboard refresh then reads a few series instead of every instance's buckets), and the cache's
 * hit ratios when a route caches.
 */
function recordings(ctx: RuleContext): RecordingRule[] {
  const win = w(ctx, 5 * minute);
  return [
    {
      record: 'route_code:sluice_http_requests:rate5m',
      expr: `sum by (route, code) (rate(${metric('requests')}${sel(ctx)}[${win}]))`,
    },
    {
      record: 'route:sluice_http_request_errors:ratio_rate5m',
      expr: 'sum by (route) (route_code:sluice_http_requests:rate5m{code=~"5.."})\n/\nsum by (route) (route_code:sluice_http_requests:rate5m)',
    },
    {
      record: 'route_le:sluice_http_request_duration_seconds_bucket:rate5m',
      expr: `sum by (route, le) (rate(${metric('requestDuration', '_bucket')}${sel(ctx)}[${win}]))`,
    },
    ...cacheRecordings(ctx),
  ];
}

export function alertRuleGroups(ctx: RuleContext): RuleGroup[] {
  const interval = ctx.profile.name === 'test' ? { interval: '1s' } : {};
  return [
    { name: 'sluice-recordings', ...interval, rules: recordings(ctx) },
    {
      name: 'sluice-alerts',
      ...interval,
      rules: enabled(ctx).flatMap((definition) => alertRules(ctx, definition)),
    },
  ];
}

/** A case as promtool reads it: the expected alert with its labels and its annotations rendered. */
function promtoolCase(ctx: RuleContext, definition: AlertDefinition, alertCase: AlertCase): PromtoolTestCase {
  const { firing } = alertCase;
  const expected = firing && {
    exp_labels: firing.labels,
    exp_annotations: Object.fromEntries(
      Object.entries(annotations(ctx, definition, firing.threshold)).map(([key, text]) => [
        key,
        renderAnnotation(text, firing.labels, firing.value),
      ]),
    ),
  };
  return {
    name: alertCase.name,
    interval: '1m',
    input_series: alertCase.input_series,
    alert_rule_test: [
      {
        eval_time: `${alertCase.evalMinutes}m`,
        alertname: definition.name,
        exp_alerts: expected ? [expected] : [],
      },
    ],
  };
}

/** The promtool cases of every enabled alert that has rules under this config. */
export function alertTests(ctx: RuleContext): { alert: string; cases: readonly PromtoolTestCase[] }[] {
  return enabled(ctx)
    .filter((definition) => definition.rules(ctx).length > 0)
    .map((definition) => ({
      alert: definition.name,
      cases: definition.tests(ctx).map((alertCase) => promtoolCase(ctx, definition, alertCase)),
    }));
}
