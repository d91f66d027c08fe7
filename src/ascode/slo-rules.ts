/**
 * SLO rules in the shape Sloth generates (sloth.dev): SLI error ratios recorded over the
 * multi-window multi-burn-rate windows of the Google SRE workbook, the objective and budget
 * recorded beside them, and a page and a ticket alert on burn rate. Recording names follow
 * `level:metric:operations` (`slo:sli_error:ratio_rate5m`), so Sloth's dashboards read them too.
 */

import type { DeepReadonly } from '../config/freeze.ts';
import type { SloConfig } from '../config/types.generated.ts';
import { type RuleContext, sel, w } from './alert-definition.ts';
import { day, hour, minute, promDuration } from './profile.ts';
import { metric, num } from './promql.ts';
import type { AlertRule, RecordingRule, RuleGroup } from './rule-model.ts';

/** The SLI windows: every one the burn-rate alerts read. */
const windows = [5 * minute, 30 * minute, hour, 2 * hour, 6 * hour, day, 3 * day] as const;

/** Burn-rate alerts: (factor, short window, long window) pairs, either of which fires. */
const pageBurns = [
  { factor: 14.4, short: 5 * minute, long: hour },
  { factor: 6, short: 30 * minute, long: 6 * hour },
] as const;
const ticketBurns = [
  { factor: 3, short: 2 * hour, long: day },
  { factor: 1, short: 6 * hour, long: 3 * day },
] as const;

export const sloAlertNames = { page: 'SluiceSloErrorBudgetBurnFast', ticket: 'SluiceSloErrorBudgetBurnSlow' };

type Slo = DeepReadonly<SloConfig>;

/** The name of a recorded SLI ratio for a production window (`ratio_rate5m`); names do not change with the profile. */
export function sliRecord(seconds: number): string {
  return `slo:sli_error:ratio_rate${promDuration(seconds)}`;
}

function sloLabels(slo: Slo): Record<string, string> {
  return { sloth_service: 'sluice', sloth_slo: slo.name, sloth_id: `sluice-${slo.name}`, route: slo.route };
}

function idSelector(slo: Slo): string {
  return `{sloth_id="sluice-${slo.name}", sloth_service="sluice", sloth_slo="${slo.name}"}`;
}

/** The share of bad requests over `range`, as one expression. */
function errorRatio(ctx: RuleContext, slo: Slo, range: string): string {
  const route = `route="${slo.route}"`;
  if (slo.sli === 'availability') {
    const requests = metric('requests');
    return [
      `(sum(rate(${requests}${sel(ctx, route, 'code=~"5.."')}[${range}])) or vector(0))`,
      '/',
      `sum(rate(${requests}${sel(ctx, route)}[${range}]))`,
    ].join('\n');
  }
  const count = metric('requestDuration', '_count');
  const bucket = metric('requestDuration', '_bucket');
  const le = `le="${num(slo.latency_threshold_seconds ?? 0)}"`;
  return [
    `(sum(rate(${count}${sel(ctx, route)}[${range}])) - sum(rate(${bucket}${sel(ctx, route, le)}[${range}])))`,
    '/',
    `sum(rate(${count}${sel(ctx, route)}[${range}]))`,
  ].join('\n');
}

function sliRecordings(ctx: RuleContext, slo: Slo): RecordingRule[] {
  const labels = sloLabels(slo);
  const recordings: RecordingRule[] = windows.map((seconds) => ({
    record: sliRecord(seconds),
    expr: errorRatio(ctx, slo, w(ctx, seconds)),
    labels: { ...labels, sloth_window: promDuration(seconds) },
  }));
  const period = slo.period_days * day;
  const short = `${sliRecord(5 * minute)}${idSelector(slo)}`;
  recordings.push({
    record: sliRecord(period),
    expr: `sum_over_time(${short}[${w(ctx, period)}])\n/ ignoring (sloth_window)\ncount_over_time(${short}[${w(ctx, period)}])`,
    labels: { ...labels, sloth_window: promDuration(period) },
  });
  return recordings;
}

function metaRecordings(slo: Slo): RecordingRule[] {
  const labels = sloLabels(slo);
  const id = idSelector(slo);
  const on = 'on (sloth_id, sloth_slo, sloth_service) group_left';
  const objective = slo.objective / 100;
  return [
    { record: 'slo:objective:ratio', expr: `vector(${num(objective)})`, labels },
    { record: 'slo:error_budget:ratio', expr: `vector(1 - ${num(objective)})`, labels },
    { record: 'slo:time_period:days', expr: `vector(${slo.period_days})`, labels },
    {
      record: 'slo:current_burn_rate:ratio',
      expr: `${sliRecord(5 * minute)}${id}\n/ ${on}\nslo:error_budget:ratio${id}`,
      labels,
    },
    {
      record: 'slo:period_burn_rate:ratio',
      expr: `${sliRecord(slo.period_days * day)}${id}\n/ ${on}\nslo:error_budget:ratio${id}`,
      labels,
    },
    {
      record: 'slo:period_error_budget_remaining:ratio',
      expr: `1 - slo:period_burn_rate:ratio${id}`,
      labels,
    },
  ];
}

function burnExpr(slo: Slo, burns: readonly { factor: number; short: number; long: number }[]): string {
  const budget = 1 - slo.objective / 100;
  const id = idSelector(slo);
  const over = (seconds: number, factor: number) =>
    `max(${sliRecord(seconds)}${id} > (${num(factor)} * ${num(budget)})) without (sloth_window)`;
  return burns
    .map(({ factor, short, long }) => `(\n  ${over(short, factor)}\n  and\n  ${over(long, factor)}\n)`)
    .join('\nor\n');
}

type BurnKind = 'page' | 'ticket';

const burnsOf: Readonly<Record<BurnKind, typeof pageBurns | typeof ticketBurns>> = {
  page: pageBurns,
  ticket: ticketBurns,
};

/** The annotations of an SLO alert, as templates (promtool cases render them with a value). */
export function sloAnnotations(ctx: RuleContext, slo: Slo, kind: BurnKind) {
  const alert = sloAlertNames[kind];
  const promise = slo.description ? ` (${slo.description})` : '';
  const sli =
    slo.sli === 'availability'
      ? 'non-5xx responses'
      : `responses within ${num(slo.latency_threshold_seconds ?? 0)}s`;
  const factors = burnsOf[kind].map((burn) => `${num(burn.factor)}×`).join(' or ');
  return {
    summary:
      kind === 'page'
        ? 'An SLO is burning its error budget fast enough to exhaust it within days.'
        : 'An SLO is burning its error budget faster than it can last the period.',
    description: `SLO {{ $labels.sloth_slo }} on route {{ $labels.route }}${promise}: ${num(slo.objective)}% ${sli} over ${slo.period_days} days. {{ $value | humanizePercentage }} of requests are bad, burning the budget at over ${factors} the rate that lasts the period.`,
    runbook_url: ctx.config.alerts.runbook_url.replaceAll('{alert}', alert),
  };
}

export const sloSeverity: Readonly<Record<BurnKind, 'critical' | 'warning'>> = {
  page: 'critical',
  ticket: 'warning',
};

function sloAlerts(ctx: RuleContext, slo: Slo): AlertRule[] {
  const disabled = new Set(ctx.config.alerts.disabled);
  return (['page', 'ticket'] as const)
    .filter((kind) => !disabled.has(sloAlertNames[kind]))
    .map((kind) => ({
      alert: sloAlertNames[kind],
      expr: burnExpr(slo, burnsOf[kind]),
      // sloth_slo (also on the series) keeps the alerts of several SLOs apart for promtool's duplicate check.
      labels: { severity: sloSeverity[kind], sloth_severity: kind, sloth_slo: slo.name },
      annotations: sloAnnotations(ctx, slo, kind),
    }));
}

/** Three groups per SLO: SLI recordings, meta recordings, alerts. */
export function sloRuleGroups(ctx: RuleContext): RuleGroup[] {
  const interval = ctx.profile.name === 'test' ? { interval: '1s' } : {};
  return ctx.config.slos.flatMap((slo) => [
    { name: `sluice-slo-sli-recordings-${slo.name}`, ...interval, rules: sliRecordings(ctx, slo) },
    { name: `sluice-slo-meta-recordings-${slo.name}`, ...interval, rules: metaRecordings(slo) },
    { name: `sluice-slo-alerts-${slo.name}`, ...interval, rules: sloAlerts(ctx, slo) },
  ]);
}
