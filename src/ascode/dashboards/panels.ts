/**
 * What the dashboard rows are written with: series of cataloged metrics filtered by the dashboard's
 * variables, the few PromQL shapes the panels repeat, and panel builders that cannot leave out a
 * unit or a description. Rows hand back drafts (a panel and its size); layout.ts places them.
 */
import { type MetricKey, metricCatalog } from '../../telemetry/catalog.ts';
import { type RuleContext, sel } from '../alert-definition.ts';
import type { DatasourceRef, Panel, Target } from '../dashboard-model.ts';
import { metric, num } from '../promql.ts';

/** Every panel, target and variable reads the dashboard's datasource variable. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, meant literally.
export const datasource: DatasourceRef = { type: 'prometheus', uid: '${datasource}' };

/** Grafana's range for rate(): at least four scrapes, so a panel never goes blank when zoomed in. */
export const rateInterval = '$__rate_interval';

/** A dashboard variable that filters on one label of Sluice's series. */
export interface LabelVariable {
  /** The variable name (`$route`). */
  readonly name: string;
  readonly title: string;
  /** The label it matches. */
  readonly label: string;
  /** The metric whose label values fill the dropdown. */
  readonly source: MetricKey;
}

/** The rule context plus the variables of the dashboard being built. */
export interface PanelContext extends RuleContext {
  readonly variables: readonly LabelVariable[];
}

type Suffix = NonNullable<Parameters<typeof metric>[1]>;

/**
 * A cataloged metric's series, selected by the config's selector, by every dashboard variable whose
 * label the metric carries (so no panel can forget a filter), and by `extra` matchers.
 */
export function series(ctx: PanelContext, key: MetricKey, suffix: Suffix = '', ...extra: string[]): string {
  const labels: readonly string[] = metricCatalog[key].labels;
  const filters = ctx.variables
    .filter((variable) => labels.includes(variable.label))
    .map((variable) => `${variable.label}=~"$${variable.name}"`);
  return `${metric(key, suffix)}${sel(ctx, ...filters, ...extra)}`;
}

export function rate(selected: string): string {
  return `rate(${selected}[${rateInterval}])`;
}

/** `sum by (a, b) (rate(…))`, or `sum(rate(…))` with nothing to group by. */
export function sumRate(by: readonly string[], selected: string): string {
  return by.length === 0 ? `sum(${rate(selected)})` : `sum by (${by.join(', ')}) (${rate(selected)})`;
}

/** The `q` quantile of a histogram's `_bucket` series, per `by`. */
export function quantile(q: number, by: readonly string[], buckets: string): string {
  return `histogram_quantile(${num(q)}, ${sumRate([...by, 'le'], buckets)})`;
}

/** `p95` for 0.95. */
export function percentile(q: number): string {
  return `p${num(q * 100)}`;
}

/** The mean of a histogram per `by`: rate of its `_sum` over rate of its `_count`. */
export function mean(by: readonly string[], sums: string, counts: string): string {
  return `${sumRate(by, sums)}\n/\n${sumRate(by, counts)}`;
}

/**
 * `part / whole` per `by`, both summed rates. A group whose part has no series yet (no 5xx ever)
 * shows 0 rather than disappearing from the panel.
 */
export function shareOf(by: readonly string[], part: string, whole: string): string {
  const wholeRate = sumRate(by, whole);
  const partRate = sumRate(by, part);
  return `(${partRate} or ${wholeRate} * 0)\n/\n${wholeRate}`;
}

export interface Query {
  readonly expr: string;
  readonly legend: string;
}

export interface ThresholdStep {
  readonly color: string;
  readonly value: number | null;
}

/** Green below `value`, red from it on: an alert threshold drawn on the panel. */
export function redFrom(value: number): readonly ThresholdStep[] {
  return [
    { color: 'green', value: null },
    { color: 'red', value },
  ];
}

interface PanelOptions {
  readonly title: string;
  readonly description: string;
  readonly unit: string;
  readonly queries: readonly Query[];
  /** Grid columns out of 24; 12 unless told. */
  readonly width?: number;
  /** Grid rows; 8 unless told. */
  readonly height?: number;
  readonly min?: number;
  readonly max?: number;
  readonly thresholds?: readonly ThresholdStep[];
}

export interface TimeseriesOptions extends PanelOptions {
  /** Stack the series: their sum means something (requests by status code, tokens by type). */
  readonly stacked?: boolean;
}

/** A panel without its id and place, which layout.ts gives it. */
export interface PanelDraft {
  readonly width: number;
  readonly height: number;
  readonly panel: Omit<Panel, 'id' | 'gridPos'>;
}

function targets(queries: readonly Query[]): Target[] {
  return queries.map((query, index) => ({
    refId: String.fromCharCode(65 + index),
    expr: query.expr,
    legendFormat: query.legend,
    datasource,
  }));
}

function defaults(options: PanelOptions, custom?: Readonly<Record<string, unknown>>): Panel['fieldConfig'] {
  return {
    defaults: {
      unit: options.unit,
      ...(options.min === undefined ? {} : { min: options.min }),
      ...(options.max === undefined ? {} : { max: options.max }),
      thresholds: { mode: 'absolute', steps: options.thresholds ?? [{ color: 'green', value: null }] },
      ...(custom ? { custom } : {}),
    },
    overrides: [],
  };
}

function draft(options: PanelOptions, panel: Omit<Panel, 'id' | 'gridPos'>): PanelDraft {
  if (options.queries.length === 0) throw new Error(`panel "${options.title}" has no query`);
  return { width: options.width ?? 12, height: options.height ?? 8, panel };
}

export function timeseries(options: TimeseriesOptions): PanelDraft {
  const custom = {
    drawStyle: 'line',
    lineWidth: 1,
    fillOpacity: options.stacked ? 30 : 10,
    showPoints: 'never',
    spanNulls: false,
    stacking: { mode: options.stacked ? 'normal' : 'none', group: 'A' },
    thresholdsStyle: { mode: options.thresholds ? 'dashed' : 'off' },
  };
  return draft(options, {
    type: 'timeseries',
    title: options.title,
    description: options.description,
    datasource,
    targets: targets(options.queries),
    fieldConfig: defaults(options, custom),
    options: {
      legend: { displayMode: 'list', placement: 'bottom', showLegend: true },
      tooltip: { mode: 'multi', sort: 'desc' },
    },
  });
}

/** The latest value, large, with a sparkline: for the numbers on-call reads first. */
export function stat(options: PanelOptions): PanelDraft {
  return draft(options, {
    type: 'stat',
    title: options.title,
    description: options.description,
    datasource,
    targets: targets(options.queries),
    fieldConfig: defaults(options),
    options: {
      reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
      colorMode: 'value',
      graphMode: 'area',
      justifyMode: 'auto',
      orientation: 'auto',
      textMode: 'auto',
    },
  });
}
