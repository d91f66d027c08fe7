import { readFile } from 'node:fs/promises';
import t from 'tap';
import { parseDocument } from 'yaml';
import type { RuleContext } from '../../src/ascode/alert-definition.ts';
import type { Dashboard, Panel, Target, TemplateVariable } from '../../src/ascode/dashboard-model.ts';
import { generateDashboards } from '../../src/ascode/dashboards.ts';
import { checkGenerated, lintGenerated } from '../../src/ascode/lint.ts';
import { expandVariables, lintDashboards, lintTargetExpr } from '../../src/ascode/lint-dashboards.ts';
import { lintRuleQueries, lintRules, recordedNames } from '../../src/ascode/lint-rules.ts';
import { profiles } from '../../src/ascode/profile.ts';
import {
  catalogSeries,
  checkQuery,
  knownSeries,
  metricNames,
  parseQuery,
} from '../../src/ascode/promql-check.ts';
import { generateRules } from '../../src/ascode/rule-files.ts';
import { type AlertRule, isAlert, type RecordingRule, type RuleGroup } from '../../src/ascode/rule-model.ts';
import { loadConfig, parseConfig } from '../../src/config/load.ts';

const exampleFile = 'config/sluice.example.yaml';
const known = knownSeries(['route_code:sluice_http_requests:rate5m']);
const check = (expr: string) => checkQuery(parseQuery(expr), known);

t.test(
  'metric names: identifiers, __name__ matchers and quoted names; histograms as their three series',
  async (t) => {
    t.same(metricNames('sum by (route) (rate(a_total{code=~"5.."}[5m])) / on (route) b'), ['a_total', 'b']);
    t.same(metricNames('{__name__="c", job="x"} + {"d.e"} + f{"__name__"="g"}'), ['c', 'd.e', 'f', 'g']);
    t.same(metricNames('route_code:sluice_http_requests:rate5m{code="200"}'), [
      'route_code:sluice_http_requests:rate5m',
    ]);
    const series = catalogSeries();
    t.equal(series.get('sluice_http_requests_total'), 'counter');
    t.equal(series.get('sluice_http_request_duration_seconds_bucket'), 'counter');
    t.equal(series.get('sluice_http_request_duration_seconds_count'), 'counter');
    t.equal(series.get('sluice_http_requests_in_flight'), 'gauge');
    t.notOk(
      series.has('sluice_http_request_duration_seconds'),
      'a classic histogram has no series of its bare name',
    );
  },
);

t.test('PromQL: parse errors, unknown names, counters outside rate()', async (t) => {
  t.same(check('sum by (route) (rate(sluice_http_requests_total{job="sluice"}[5m] offset 1h))'), []);
  t.same(
    check('histogram_quantile(0.95, sum by (le) (rate(sluice_upstream_pool_wait_seconds_bucket[5m])))'),
    [],
  );
  t.same(
    check('sum(route_code:sluice_http_requests:rate5m) > 0 and up == 1'),
    [],
    'recorded names and gauges',
  );
  t.match(check('sum(rate(sluice_http_requests_total[5m])'), [
    /^does not parse: line 1, column \d+.*: sum\(rate/,
  ]);
  t.match(check('sum by (route) (x) without (y)'), [/^does not parse/], 'by and without at once');
  t.match(check(''), [/empty/]);
  t.match(check('rate(sluice_http_requests_totl[5m])'), [
    /reads sluice_http_requests_totl, which is neither/,
  ]);
  t.match(check('sluice_http_request_duration_seconds{job="x"}'), [
    /reads sluice_http_request_duration_seconds,/,
  ]);
  t.match(check('sum(sluice_http_requests_total)'), [
    /reads counter sluice_http_requests_total outside rate/,
  ]);
  t.match(check('delta(sluice_http_requests_total[5m])'), [/outside rate\(\), irate\(\) or increase\(\)/]);
  t.match(check('sluice_overhead_seconds_sum / sluice_overhead_seconds_count'), [
    /_sum outside/,
    /_count outside/,
  ]);
  t.match(check('{__name__=~"sluice_.*"}'), [/__name__ pattern/]);
  t.match(check('{job="sluice"}'), [/without a metric name/]);
});

const alert: AlertRule = {
  alert: 'SluiceRouteErrorRatioHigh',
  expr: 'sum by (route) (rate(sluice_http_requests_total{code=~"5.."}[5m])) > 0.05',
  for: '5m',
  labels: { severity: 'critical' },
  annotations: {
    summary: 'A route answers too many requests with a 5xx error.',
    description: 'Route {{ $labels.route }}: {{ $value | humanizePercentage }} of responses were 5xx.',
    runbook_url: 'docs/runbooks/SluiceRouteErrorRatioHigh.md',
  },
};
const recording: RecordingRule = {
  record: 'route_code:sluice_http_requests:rate5m',
  expr: 'sum by (route, code) (rate(sluice_http_requests_total[5m]))',
};
const lintOne = (rule: AlertRule | RecordingRule) => lintRules([{ name: 'g', rules: [rule] }]);

t.test('rules: mixtool guidelines and Sluice conventions', async (t) => {
  t.same(lintOne(alert), []);
  t.same(lintOne(recording), []);
  t.match(lintOne({ ...alert, alert: 'sluice_route_errors' }), [/alert-name-camelcase/, /alert-name-prefix/]);
  t.match(lintOne({ ...alert, alert: 'RouteErrorRatioHigh' }), [/does not start with Sluice/]);
  const page = { ...alert, labels: { severity: 'page' } } as unknown as AlertRule;
  t.match(lintOne(page), [/alert-severity-rule.*is "page"/]);
  const templated = { ...alert.annotations, summary: 'Route {{ $labels.route }} fails.' };
  t.match(lintOne({ ...alert, annotations: templated }), [/alert-summary-templating/]);
  const unstyled = { ...alert.annotations, summary: 'a route answers 5xx' };
  t.match(lintOne({ ...alert, annotations: unstyled }), [/alert-summary-style/]);
  const bare = { ...alert.annotations, description: 'Too many 5xx.' };
  t.match(lintOne({ ...alert, annotations: bare }), [/alert-description-templating/]);
  const { description: _, runbook_url: __, ...summaryOnly } = alert.annotations;
  t.match(lintOne({ ...alert, annotations: summaryOnly } as unknown as AlertRule), [
    /group g, alert SluiceRouteErrorRatioHigh: \[alert-description-missing-rule\]/,
    /alert-runbook-url-missing/,
  ]);
  t.match(lintOne({ ...alert, for: '5 minutes' }), [/for: "5 minutes" is not a Prometheus duration/]);
  t.same(lintOne({ ...alert, for: '1h30m' }), []);
  t.match(lintOne({ ...recording, record: 'route:sluice_http_requests_rate5m' }), [
    /level:metric:operations/,
  ]);
  t.match(lintOne({ ...recording, record: 'a:b:c:d' }), [/level:metric:operations/]);
  t.match(lintOne({ ...recording, record: 'route::rate5m' }), [/level:metric:operations/]);
});

t.test('rules: groups and duplicates', async (t) => {
  // Same name and labels collide even when the expressions differ: thresholds go into one rule with `or`.
  const perThreshold = { ...alert, expr: alert.expr.replace('code=~"5.."', 'code=~"5..",route="chat"') };
  t.match(lintRules([{ name: 'g', rules: [alert, perThreshold] }]), [
    /rule group g, alert SluiceRouteErrorRatioHigh: another rule in the group has the same name and labels/,
  ]);
  t.same(
    lintRules([{ name: 'g', rules: [alert, { ...perThreshold, labels: { severity: 'warning' } }] }]),
    [],
  );
  t.match(lintRules([{ name: 'g', rules: [recording, { ...recording, expr: 'vector(1)' }] }]), [
    /recording rule route_code:sluice_http_requests:rate5m: another rule/,
  ]);
  t.same(
    lintRules([
      { name: 'g', rules: [alert] },
      { name: 'h', rules: [alert] },
    ]),
    [],
    'other groups may repeat',
  );
  t.match(
    lintRules([
      { name: 'g', rules: [] },
      { name: 'g', rules: [] },
    ]),
    [/rule group g: another group/],
  );
  t.match(lintRules([{ name: 'g', interval: '1 s', rules: [] }]), [/interval "1 s" is not/]);
});

t.test('rule expressions: every name known, recordings included', async (t) => {
  const groups: RuleGroup[] = [
    { name: 'r', rules: [recording] },
    {
      name: 'a',
      rules: [{ ...alert, expr: 'sum(route_code:sluice_http_requests:rate5m{code=~"5.."}) > 1' }],
    },
  ];
  const names = knownSeries(recordedNames(groups));
  t.same(lintRuleQueries(groups, names), []);
  t.same(lintRuleQueries(groups, catalogSeries()), [
    'rule group a, alert SluiceRouteErrorRatioHigh: reads route_code:sluice_http_requests:rate5m, which is neither in the metric catalog nor recorded: sum(route_code:sluice_http_requests:rate5m{code=~"5.."}) > 1',
  ]);
  const broken: RuleGroup = {
    name: 'b',
    rules: [{ ...recording, expr: 'sum(rate(sluice_http_requests_total[5m]' }],
  };
  t.match(lintRuleQueries([broken], names), [/rule group b, recording rule .*: does not parse/]);
});

const ds = { type: 'prometheus', uid: `\${datasource}` } as const;
const target = (expr: string, refId = 'A'): Target => ({
  refId,
  expr,
  legendFormat: '{{route}}',
  datasource: ds,
});
const panel = (id: number, targets: readonly Target[], unit = 'reqps'): Panel => ({
  id,
  type: 'timeseries',
  title: 'Requests per second',
  description: 'Requests answered to clients, per route.',
  datasource: ds,
  gridPos: { h: 8, w: 12, x: 0, y: 0 },
  targets,
  fieldConfig: { defaults: { unit }, overrides: [] },
});
const datasourceVariable: TemplateVariable = {
  name: 'datasource',
  label: 'Data source',
  type: 'datasource',
  query: 'prometheus',
  current: {},
  hide: 0,
  options: [],
};
const routeVariable: TemplateVariable = {
  name: 'route',
  label: 'Route',
  type: 'query',
  query: { query: 'label_values(sluice_http_requests_total{job="sluice"}, route)', refId: 'route' },
  datasource: ds,
  current: {},
  hide: 0,
  includeAll: true,
  multi: true,
  options: [],
};
const rate = 'sum by (route) (rate(sluice_http_requests_total{route=~"$route"}[$__rate_interval]))';
const dashboard = (overrides: Partial<Dashboard> = {}): Dashboard => ({
  uid: 'sluice-overview',
  title: 'Sluice / Overview',
  description: 'Traffic, errors and latency per route.',
  tags: ['sluice'],
  schemaVersion: 41,
  version: 1,
  editable: false,
  graphTooltip: 1,
  time: { from: 'now-6h', to: 'now' },
  refresh: '30s',
  timezone: 'browser',
  templating: { list: [datasourceVariable, routeVariable] },
  annotations: { list: [] },
  links: [],
  panels: [
    {
      id: 1,
      type: 'row',
      title: 'Traffic',
      collapsed: false,
      gridPos: { h: 1, w: 24, x: 0, y: 0 },
      panels: [],
    },
    panel(2, [target(rate)]),
    panel(3, [target('sum(increase(sluice_llm_cost_usd_total[$__range]))')], 'currencyUSD'),
  ],
  ...overrides,
});
const lintBoard = (board: Dashboard) => lintDashboards([board], known);

t.test('Grafana variables: placeholders outside strings, untouched inside them', async (t) => {
  t.same(expandVariables(`rate(x{route=~"$route|\${route:regex}"}[$__rate_interval])`), {
    text: `rate(x{route=~"$route|\${route:regex}"}[9001s])`,
    unknown: [],
  });
  t.same(expandVariables(`increase(x[\${__range}]) / $__range_s`).text, 'increase(x[9003s]) / 9006');
  t.same(expandVariables('topk($count, x)').unknown, ['$count']);
});

t.test('dashboards: a well-formed dashboard passes', async (t) => {
  t.same(lintBoard(dashboard()), []);
});

t.test('dashboards: panels explain themselves and read the datasource variable', async (t) => {
  const board = dashboard({
    panels: [
      panel(1, [target(rate)], ''),
      { ...panel(2, [target(rate)]), title: '', description: '' },
      { ...panel(3, [{ ...target(rate), datasource: { type: 'prometheus', uid: 'prom' } }]), datasource: ds },
      { ...panel(4, []), datasource: { type: 'prometheus', uid: 'prom' } },
    ],
  });
  t.same(lintBoard(board), [
    'dashboard sluice-overview: panel 1 "Requests per second": [panel-units-rule] no unit',
    'dashboard sluice-overview: panel 2 "": [panel-title-description-rule] no title',
    'dashboard sluice-overview: panel 2 "": [panel-title-description-rule] no description',
    `dashboard sluice-overview: panel 3 "Requests per second": target A: [target-datasource-rule] datasource is prom, not \${datasource}`,
    `dashboard sluice-overview: panel 4 "Requests per second": [panel-datasource-rule] datasource is prom, not \${datasource}`,
    'dashboard sluice-overview: panel 4 "Requests per second": [panel-no-targets-rule] no queries',
  ]);
  t.match(lintBoard(dashboard({ templating: { list: [routeVariable] } })), [/no "datasource" variable/]);
  const custom = { ...datasourceVariable, type: 'custom' } as const;
  t.match(lintBoard(dashboard({ templating: { list: [custom] } })), [/not a Prometheus datasource variable/]);
});

t.test('dashboards: target expressions', async (t) => {
  const lint = (expr: string) => lintTargetExpr(expr, known);
  t.same(lint(rate), []);
  t.same(lint('sum(route_code:sluice_http_requests:rate5m{route=~"$route"})'), []);
  t.match(lint('sum(rate(sluice_http_requests_total[5m]))'), [
    /\[target-rate-interval-rule\] rate\(\) over \[5m\]: use \[\$__rate_interval\]/,
  ]);
  t.match(lint('sum(rate(sluice_http_requests_total[$__interval]))'), [/rate\(\) over \[\$__interval\]/]);
  t.match(lint('sum(increase(sluice_http_requests_total[1h]))'), [
    /use \[\$__rate_interval\] or \[\$__range\]/,
  ]);
  t.match(lint('sum(sluice_http_requests_total{route=~"$route"})'), [
    /reads counter sluice_http_requests_total/,
  ]);
  t.match(lint('sum(rate(sluice_http_requests_totl[$__rate_interval]))'), [
    /reads sluice_http_requests_totl/,
  ]);
  t.match(lint('sum(rate(sluice_http_requests_total[$__rate_interval])'), [/does not parse/]);
  t.match(lint('topk($n, sluice_http_requests_in_flight)'), [/uses \$n outside a string/]);
  const board = dashboard({ panels: [panel(1, [target('sum(nope)'), target(rate, 'A')])] });
  t.match(lintBoard(board), [
    /panel 1 .*target A: reads nope, which is neither/,
    /refId A is used by two queries/,
  ]);
  const badVariable = { ...routeVariable, query: 'label_values(sluice_requests_total, route)' };
  t.match(lintBoard(dashboard({ templating: { list: [datasourceVariable, badVariable] } })), [
    /variable route: reads sluice_requests_total/,
  ]);
});

t.test('dashboards: uids and panel ids', async (t) => {
  t.match(lintBoard(dashboard({ uid: 'x'.repeat(41) })), [/uid must be 1 to 40/]);
  t.match(lintBoard(dashboard({ uid: '' })), [/uid must be/]);
  t.match(lintDashboards([dashboard(), dashboard({ title: 'Copy' })], known), [
    /sluice-overview: another dashboard/,
  ]);
  const repeated = dashboard({ panels: [panel(1, [target(rate)]), panel(1, [target(rate)])] });
  t.match(lintBoard(repeated), [/panel id 1 is used by more than one panel/]);
});

async function contextFor(text?: string): Promise<RuleContext> {
  const config =
    text === undefined ? (await loadConfig(exampleFile)).config : parseConfig(text, exampleFile).config;
  return { config, profile: profiles.production };
}

t.test('what sluice generate writes for the example config passes every lint', async (t) => {
  for (const profile of [profiles.production, profiles.test]) {
    const ctx = { ...(await contextFor()), profile };
    const rules = generateRules(ctx, 'test');
    t.ok(rules.alertGroups.flatMap((group) => group.rules).length > 0, 'there are rules to lint');
    // Dashboards are linted as far as generateDashboards writes them.
    const dashboards = generateDashboards(ctx, 'test');
    t.same(lintGenerated(rules, dashboards), [], `${profile.name} profile: zero problems`);
    t.doesNotThrow(() => checkGenerated(rules, dashboards));
  }
});

t.test('per-route thresholds and SLOs of every kind lint clean too', async (t) => {
  const document = parseDocument(await readFile(exampleFile, 'utf8'));
  document.setIn(['alerts', 'routes', 'openai'], {
    error_ratio: 0.1,
    latency_p95_seconds: 30,
    min_requests_per_second: 1,
  });
  document.setIn(['alerts', 'upstreams', 'openai'], { error_ratio: 0.2, pool_utilization: 0.8 });
  document.setIn(
    ['slos'],
    [
      { name: 'chat', route: 'openai', sli: 'availability', objective: 99.5 },
      { name: 'chat-latency', route: 'openai', sli: 'latency', objective: 99, latency_threshold_seconds: 10 },
    ],
  );
  const ctx = await contextFor(document.toString());
  const rules = generateRules(ctx, 'test');
  const errorAlerts = rules.alertGroups
    .flatMap((group) => group.rules)
    .filter((rule) => isAlert(rule) && rule.alert === 'SluiceRouteErrorRatioHigh');
  t.equal(
    errorAlerts.length,
    1,
    'thresholds per route are one rule, not rules with the same name and labels',
  );
  t.ok(rules.sloGroups.length > 0, 'there are SLO rules to lint');
  t.same(lintGenerated(rules, generateDashboards(ctx, 'test')), []);
});

t.test('checkGenerated throws one Error listing every problem', async (t) => {
  const ctx = await contextFor();
  const rules = generateRules(ctx, 'test');
  const broken = {
    ...rules,
    alertGroups: [
      ...rules.alertGroups,
      { name: 'extra', rules: [{ ...alert, alert: 'bad_name' }, recording] },
    ],
  };
  t.throws(() => checkGenerated(broken, { dashboards: [dashboard({ uid: '' })], files: new Map() }), {
    message:
      /fail their lint \(\d+ problems\):\n {2}- rule group extra, alert bad_name: \[alert-name-camelcase\][\s\S]*uid must be/,
  });
});
