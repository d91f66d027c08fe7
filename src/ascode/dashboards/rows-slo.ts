/**
 * One line of panels per configured SLO, read from the recordings of rules/sluice.slo.rules.yaml:
 * the error budget left, how fast it burns, and the SLI against its objective. No row at all
 * when the config has no SLOs.
 */

import type { DeepReadonly } from '../../config/freeze.ts';
import type { SloConfig } from '../../config/types.generated.ts';
import { minute } from '../profile.ts';
import { num, selector } from '../promql.ts';
import { sliRecord } from '../slo-rules.ts';
import type { RowBuilder } from './layout.ts';
import { type PanelContext, type PanelDraft, redFrom, stat, timeseries } from './panels.ts';

type Slo = DeepReadonly<SloConfig>;

/** The labels every SLO recording carries besides sloth_id and sloth_window (see slo-rules.ts). */
const sloRecordingLabels = ['sloth_service', 'sloth_slo', 'route'];

/**
 * A recording of one SLO. Not filtered by the config's selector: the recordings sum the scraped
 * series, so the scrape job's labels are gone; the `sloth_*` labels identify them instead.
 */
function recorded(ctx: PanelContext, name: string, slo: Slo): string {
  const filters = ctx.variables
    .filter((variable) => sloRecordingLabels.includes(variable.label))
    .map((variable) => `${variable.label}=~"$${variable.name}"`);
  return `${name}${selector('sloth_service="sluice"', `sloth_slo="${slo.name}"`, ...filters)}`;
}

/** What the SLO promises, in words: `99.9% of requests on route chat answered without a 5xx, over 30 days`. */
function promise(slo: Slo): string {
  const good =
    slo.sli === 'availability'
      ? 'answered without a 5xx'
      : `answered within ${num(slo.latency_threshold_seconds ?? 0)}s`;
  const why = slo.description ? ` (${slo.description})` : '';
  return `${num(slo.objective)}% of requests on route ${slo.route} ${good}, over ${slo.period_days} days${why}.`;
}

function sloPanels(ctx: PanelContext, slo: Slo): PanelDraft[] {
  const promised = promise(slo);
  return [
    stat({
      title: `${slo.name}: error budget remaining`,
      description: `Share of the error budget left over the SLO period; below 0 the objective is missed. ${promised}`,
      unit: 'percentunit',
      width: 6,
      thresholds: [
        { color: 'red', value: null },
        { color: 'orange', value: 0 },
        { color: 'green', value: 0.25 },
      ],
      queries: [{ expr: recorded(ctx, 'slo:period_error_budget_remaining:ratio', slo), legend: 'remaining' }],
    }),
    timeseries({
      title: `${slo.name}: burn rate`,
      description: `How fast the error budget burns: 1 spends it exactly over the period, above 1 it runs out early; the burn-rate alerts fire on sustained multiples of 1. Current (5m) and over the whole period. ${promised}`,
      unit: 'short',
      width: 9,
      thresholds: redFrom(1),
      queries: [
        { expr: recorded(ctx, 'slo:current_burn_rate:ratio', slo), legend: 'current' },
        { expr: recorded(ctx, 'slo:period_burn_rate:ratio', slo), legend: 'period' },
      ],
    }),
    timeseries({
      title: `${slo.name}: SLI error ratio`,
      description: `Share of bad requests over 5 minutes, against the share the objective allows (1 − objective). ${promised}`,
      unit: 'percentunit',
      width: 9,
      min: 0,
      queries: [
        { expr: recorded(ctx, sliRecord(5 * minute), slo), legend: 'errors (5m)' },
        { expr: `1 - ${recorded(ctx, 'slo:objective:ratio', slo)}`, legend: 'allowed' },
      ],
    }),
  ];
}

export const sloRow: RowBuilder = (ctx) => {
  if (ctx.config.slos.length === 0) return undefined;
  return { title: 'SLOs and error budget', panels: ctx.config.slos.flatMap((slo) => sloPanels(ctx, slo)) };
};
