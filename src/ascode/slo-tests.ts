/**
 * promtool cases for the SLO alerts of the first SLO: a fast burn pages (and tickets), a slow burn
 * only tickets, and traffic without bad requests is silent.
 */
import { type RuleContext, selectorLabels, series } from './alert-definition.ts';
import { renderAnnotation } from './go-template.ts';
import { metric, num } from './promql.ts';
import type { PromtoolTestCase } from './rule-model.ts';
import { sloAlertNames, sloAnnotations, sloSeverity } from './slo-rules.ts';

const perMinute = 600;

export function sloTests(ctx: RuleContext): PromtoolTestCase[] {
  const slo = ctx.config.slos[0];
  const labels = selectorLabels(ctx);
  if (slo === undefined || labels === undefined) return [];
  const disabled = new Set(ctx.config.alerts.disabled);
  const budget = 1 - slo.objective / 100;
  const at = { ...labels, route: slo.route };
  const input = (badRatio: number): PromtoolTestCase['input_series'] => {
    const bad = Math.round(perMinute * badRatio);
    if (slo.sli === 'availability') {
      return [
        { series: series(metric('requests'), { ...at, code: '200' }), values: `0+${perMinute - bad}x180` },
        { series: series(metric('requests'), { ...at, code: '500' }), values: `0+${bad}x180` },
      ];
    }
    const le = num(slo.latency_threshold_seconds ?? 0);
    return [
      { series: series(metric('requestDuration', '_count'), at), values: `0+${perMinute}x180` },
      {
        series: series(metric('requestDuration', '_bucket'), { ...at, le }),
        values: `0+${perMinute - bad}x180`,
      },
    ];
  };
  const identity = {
    sloth_id: `sluice-${slo.name}`,
    sloth_service: 'sluice',
    sloth_slo: slo.name,
    route: slo.route,
  };
  const expect = (kind: 'page' | 'ticket', badRatio: number | undefined) => {
    const alertname = sloAlertNames[kind];
    if (disabled.has(alertname)) return [];
    const labels = { ...identity, severity: sloSeverity[kind], sloth_severity: kind };
    const annotations = sloAnnotations(ctx, slo, kind);
    const rendered = (value: number) =>
      Object.fromEntries(
        Object.entries(annotations).map(([key, text]) => [key, renderAnnotation(text, labels, value)]),
      );
    return [
      {
        eval_time: '2h',
        alertname,
        exp_alerts:
          badRatio === undefined ? [] : [{ exp_labels: labels, exp_annotations: rendered(badRatio) }],
      },
    ];
  };
  const both = (badRatio: number, page: boolean, ticket: boolean) => [
    ...expect('page', page ? badRatio : undefined),
    ...expect('ticket', ticket ? badRatio : undefined),
  ];
  // The bad share as Prometheus computes it from the whole-number counts of the input series.
  const observed = (badRatio: number) => Math.round(perMinute * badRatio) / perMinute;
  // Bad ratios chosen against the burn factors: 20× the budget is over 14.4×; 4× is over 3× only.
  const fast = Math.min(0.99, 20 * budget);
  const slow = 4 * budget;
  return [
    {
      name: `${slo.name}: ${num(fast * 100)}% bad requests page and ticket`,
      interval: '1m',
      input_series: input(fast),
      alert_rule_test: both(observed(fast), true, true),
    },
    {
      name: `${slo.name}: ${num(slow * 100)}% bad requests ticket without paging`,
      interval: '1m',
      input_series: input(slow),
      alert_rule_test: both(observed(slow), false, true),
    },
    {
      name: `${slo.name}: no bad request is silent`,
      interval: '1m',
      input_series: input(0),
      alert_rule_test: both(0, false, false),
    },
  ];
}
