/**
 * A dashboard from its spec: the datasource and label variables, the settings every Sluice
 * dashboard shares, and its rows laid out.
 */
import type { RuleContext } from '../alert-definition.ts';
import { sel } from '../alert-definition.ts';
import type { Annotation, Dashboard, DashboardLink, TemplateVariable } from '../dashboard-model.ts';
import { metric } from '../promql.ts';
import { layoutRows, type RowBuilder, type RowSpec } from './layout.ts';
import { datasource, type LabelVariable, type PanelContext } from './panels.ts';

/** Grafana's current classic dashboard schema. */
export const schemaVersion = 41;
/** Grafana's limit on a dashboard uid. */
const maxUidLength = 40;

export interface DashboardSpec {
  /** Stable across configs and versions, so links and bookmarks keep working. */
  readonly uid: string;
  readonly title: string;
  /** One sentence on what the dashboard answers; the generated-file header follows it. */
  readonly purpose: string;
  readonly variables: readonly LabelVariable[];
  readonly rows: readonly RowBuilder[];
  readonly annotations?: (ctx: RuleContext) => readonly Annotation[];
}

export const routeVariable: LabelVariable = {
  name: 'route',
  title: 'Route',
  label: 'route',
  source: 'requests',
};
/** Pool gauges exist for every configured upstream from the first scrape on, traffic or not. */
export const upstreamVariable: LabelVariable = {
  name: 'upstream',
  title: 'Upstream',
  label: 'upstream',
  source: 'upstreamPoolSize',
};
export const modelVariable: LabelVariable = {
  name: 'model',
  title: 'Model',
  label: 'gen_ai_request_model',
  source: 'llmTokens',
};

export const tag = 'sluice';

const datasourceVariable: TemplateVariable = {
  name: 'datasource',
  label: 'Data source',
  type: 'datasource',
  query: 'prometheus',
  current: {},
  hide: 0,
  refresh: 1,
  regex: '',
  options: [],
};

function labelVariable(ctx: RuleContext, variable: LabelVariable): TemplateVariable {
  const query = `label_values(${metric(variable.source)}${sel(ctx)}, ${variable.label})`;
  return {
    name: variable.name,
    label: variable.title,
    type: 'query',
    datasource,
    query: { query, refId: 'PrometheusVariableQueryEditor-VariableQuery' },
    definition: query,
    current: { selected: true, text: ['All'], value: ['$__all'] },
    hide: 0,
    includeAll: true,
    multi: true,
    // `.*`, not Grafana's list of the values it has seen: it also matches series that carry the
    // label empty (a request Sluice answered itself has no upstream).
    allValue: '.*',
    // On every time-range change: routes and upstreams come and go with config reloads.
    refresh: 2,
    regex: '',
    sort: 1,
    options: [],
  };
}

/** Switching between Sluice dashboards keeps the time range and the variables' values. */
const sluiceDashboards: DashboardLink = {
  type: 'dashboards',
  title: 'Sluice',
  tags: [tag],
  asDropdown: true,
  includeVars: true,
  keepTime: true,
};

export function buildDashboard(spec: DashboardSpec, ruleCtx: RuleContext, header: string): Dashboard {
  if (spec.uid.length > maxUidLength)
    throw new Error(`dashboard uid ${spec.uid} is over ${maxUidLength} characters`);
  const ctx: PanelContext = { ...ruleCtx, variables: spec.variables };
  const rows = spec.rows.map((row) => row(ctx)).filter((row): row is RowSpec => row !== undefined);
  return {
    uid: spec.uid,
    title: spec.title,
    description: `${spec.purpose}\n${header}`,
    tags: [tag],
    schemaVersion,
    version: 1,
    // Provisioning overwrites any change saved in Grafana; changes belong in the config or the generator.
    editable: false,
    graphTooltip: 1,
    time: { from: 'now-6h', to: 'now' },
    refresh: '1m',
    timezone: 'browser',
    templating: {
      list: [datasourceVariable, ...spec.variables.map((variable) => labelVariable(ruleCtx, variable))],
    },
    annotations: { list: spec.annotations?.(ruleCtx) ?? [] },
    links: [sluiceDashboards],
    panels: layoutRows(rows),
  };
}
