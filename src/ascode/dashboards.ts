/**
 * The Grafana dashboards `sluice generate dashboards` writes, and their provisioning files. Each
 * dashboard is a list of row builders (dashboards/rows-*.ts): adding a row is writing a builder
 * and listing it here.
 *
 * Plain typed JSON rather than the Grafana Foundation SDK: the model we use is small and typed in
 * dashboard-model.ts, it keeps a dependency out, and the SDK's output would still need our lints.
 */
import { type RuleContext, sel } from './alert-definition.ts';
import type { Dashboard, GeneratedDashboards } from './dashboard-model.ts';
import {
  buildDashboard,
  type DashboardSpec,
  modelVariable,
  routeVariable,
  upstreamVariable,
} from './dashboards/dashboard.ts';
import { datasource, rateInterval } from './dashboards/panels.ts';
import { provisioning } from './dashboards/provisioning.ts';
import { cacheRow } from './dashboards/rows-cache.ts';
import { compressionRow } from './dashboards/rows-compression.ts';
import { llmCostRow, llmLatencyRow, llmResponsesRow, llmTokensRow } from './dashboards/rows-llm.ts';
import { resilienceRow } from './dashboards/rows-resilience.ts';
import { runtimeRow } from './dashboards/rows-runtime.ts';
import { sloRow } from './dashboards/rows-slo.ts';
import { latencyRow, overviewRow } from './dashboards/rows-traffic.ts';
import { trafficControlRow } from './dashboards/rows-traffic-control.ts';
import { overheadRow, upstreamRow } from './dashboards/rows-upstream.ts';
import { metric } from './promql.ts';

const overview: DashboardSpec = {
  uid: 'sluice-overview',
  title: 'Sluice / Overview',
  purpose:
    'Sluice traffic as clients see it, SLOs, the response cache, rate limits and concurrency limits, upstream resilience (retries, hedges, breakers, failover), response compression, the upstreams and their connection pools, Sluice’s own overhead and the Node.js runtime.',
  variables: [routeVariable, upstreamVariable],
  rows: [
    overviewRow,
    sloRow,
    latencyRow,
    cacheRow,
    trafficControlRow,
    resilienceRow,
    compressionRow,
    upstreamRow,
    overheadRow,
    runtimeRow,
  ],
  annotations: (ctx) => [
    {
      name: 'Config loads',
      datasource,
      enable: true,
      iconColor: 'blue',
      // The timestamp of the last successful load changes exactly when a load succeeds: a reload or a restart.
      expr: `changes(${metric('configLastReloadSuccess')}${sel(ctx)}[${rateInterval}]) > 0`,
      step: rateInterval,
      titleFormat: 'Config loaded (reload or restart)',
      textFormat: '{{instance}}',
    },
  ],
};

const llm: DashboardSpec = {
  uid: 'sluice-llm',
  title: 'Sluice / LLM',
  purpose:
    'LLM traffic on openai and anthropic routes by model: tokens, cost, time to first token, time per output token and how responses ended. Needs llm.accounting.',
  variables: [routeVariable, upstreamVariable, modelVariable],
  rows: [llmTokensRow, llmCostRow, llmLatencyRow, llmResponsesRow],
};

export const dashboardSpecs: readonly DashboardSpec[] = [overview, llm];

export function dashboardFile(dashboard: Dashboard): string {
  return `dashboards/${dashboard.uid}.json`;
}

export function generateDashboards(ctx: RuleContext, header: string): GeneratedDashboards {
  const dashboards = dashboardSpecs.map((spec) => buildDashboard(spec, ctx, header));
  const files = new Map<string, string>();
  for (const dashboard of dashboards)
    files.set(dashboardFile(dashboard), `${JSON.stringify(dashboard, null, 2)}\n`);
  for (const [path, text] of provisioning(header)) files.set(path, text);
  return { dashboards, files };
}
