/**
 * The dashboard lint, ported from grafana/dashboard-linter (rule ids kept in brackets): panels that
 * explain themselves (title, description, unit), one datasource variable every query goes through,
 * ranges that follow the scrape interval, counters read through rate(), and uids Grafana accepts.
 * Expressions hold Grafana variables, so they are expanded to parseable placeholders first.
 */
import {
  type Dashboard,
  type Panel,
  queryPanels,
  type Target,
  type TemplateVariable,
} from './dashboard-model.ts';
import {
  checkNames,
  checkQuery,
  type KnownSeries,
  nodesNamed,
  oneLine,
  type ParsedQuery,
  parseQuery,
  rangeFunction,
  textOf,
} from './promql-check.ts';

const datasourceVariable = 'datasource';
/** How panels and targets name the variable: `${datasource}`. */
const datasourceRef = `\${${datasourceVariable}}`;

/**
 * Grafana's built-in variables that stand for a duration or a number, with the placeholder each is
 * parsed as. The durations are odd on purpose: a range read back from the tree maps to the variable
 * it came from, and a literal `[5m]` can never pass for `$__rate_interval`.
 */
const builtinPlaceholders: Readonly<Record<string, string>> = {
  __rate_interval: '9001s',
  __interval: '9002s',
  __range: '9003s',
  __interval_ms: '9004',
  __range_ms: '9005',
  __range_s: '9006',
};
const variableOfPlaceholder = new Map(
  Object.entries(builtinPlaceholders).map(([name, placeholder]) => [placeholder, `$${name}`]),
);

/** Grafana's three variable syntaxes: `$name`, `${name}` / `${name:format}`, `[[name]]`. */
const variablePattern = /\$\{(\w+)(?::[^}]*)?\}|\$(\w+)|\[\[(\w+)(?::[^\]]*)?\]\]/g;
/** PromQL string literals, where a variable is just text (`route=~"$route"`) and stays as it is. */
const stringLiteral = /"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g;

export interface ExpandedQuery {
  readonly text: string;
  /** Variables outside strings that have no placeholder: the expression cannot be checked. */
  readonly unknown: readonly string[];
}

/** Replaces Grafana variables outside string literals by placeholders PromQL can parse. */
export function expandVariables(expr: string): ExpandedQuery {
  const unknown: string[] = [];
  const expand = (code: string) =>
    code.replace(variablePattern, (variable, braced?: string, plain?: string, bracketed?: string) => {
      const name = braced ?? plain ?? bracketed ?? '';
      const placeholder = builtinPlaceholders[name];
      if (placeholder === undefined) unknown.push(variable);
      return placeholder ?? variable;
    });
  let text = '';
  let last = 0;
  for (const match of expr.matchAll(stringLiteral)) {
    text += expand(expr.slice(last, match.index)) + match[0];
    last = match.index + match[0].length;
  }
  text += expand(expr.slice(last));
  return { text, unknown };
}

/** Ranges must follow the scrape interval and the zoom; fixed ones show gaps or smear spikes. */
function rangeProblems(query: ParsedQuery): string[] {
  const problems: string[] = [];
  for (const matrix of nodesNamed(query, 'MatrixSelector')) {
    const fn = rangeFunction(query, matrix);
    if (fn !== 'rate' && fn !== 'irate' && fn !== 'increase') continue;
    const duration = matrix.getChild('DurationExpr');
    const range = duration ? textOf(query, duration) : '';
    const variable = variableOfPlaceholder.get(range);
    // increase() over the whole time picker range is how a stat panel shows "in this period".
    const allowed = fn === 'increase' ? ['$__rate_interval', '$__range'] : ['$__rate_interval'];
    if (variable !== undefined && allowed.includes(variable)) continue;
    problems.push(
      `[target-rate-interval-rule] ${fn}() over [${variable ?? range}]: use [${allowed.join('] or [')}]`,
    );
  }
  return problems;
}

/** One target's expression: parsed, names known, counters under rate(), ranges from Grafana. */
export function lintTargetExpr(expr: string, known: KnownSeries): string[] {
  const expanded = expandVariables(expr);
  if (expanded.unknown.length > 0) {
    return [`uses ${expanded.unknown.join(', ')} outside a string, so it cannot be parsed: ${oneLine(expr)}`];
  }
  const query = parseQuery(expanded.text);
  const problems = checkQuery(query, known);
  if (problems.length > 0) return problems;
  return rangeProblems(query).map((problem) => `${problem}: ${oneLine(expr)}`);
}

function datasourceOf(ref: { readonly uid?: string } | undefined): string {
  return ref?.uid ?? '(none)';
}

function lintTarget(target: Target, known: KnownSeries): string[] {
  const problems: string[] = [];
  if (target.datasource?.uid !== datasourceRef) {
    problems.push(
      `[target-datasource-rule] datasource is ${datasourceOf(target.datasource)}, not ${datasourceRef}`,
    );
  }
  problems.push(...lintTargetExpr(target.expr ?? '', known));
  return problems.map((problem) => `target ${target.refId || '(no refId)'}: ${problem}`);
}

export function lintPanel(panel: Panel, known: KnownSeries): string[] {
  const problems: string[] = [];
  if (!panel.title?.trim()) problems.push('[panel-title-description-rule] no title');
  if (!panel.description?.trim()) problems.push('[panel-title-description-rule] no description');
  if (!panel.fieldConfig?.defaults?.unit?.trim()) problems.push('[panel-units-rule] no unit');
  if (panel.datasource?.uid !== datasourceRef) {
    problems.push(
      `[panel-datasource-rule] datasource is ${datasourceOf(panel.datasource)}, not ${datasourceRef}`,
    );
  }
  const targets = panel.targets ?? [];
  if (targets.length === 0) problems.push('[panel-no-targets-rule] no queries');
  const refIds = new Set<string>();
  for (const target of targets) {
    if (refIds.has(target.refId)) problems.push(`refId ${target.refId} is used by two queries`);
    refIds.add(target.refId);
    problems.push(...lintTarget(target, known));
  }
  return problems.map((problem) => `panel ${panel.id} "${panel.title ?? ''}": ${problem}`);
}

/** `label_values(selector, label)`, the query form a variable reads its values with. */
const labelValues = /^\s*label_values\(\s*(.*),\s*(\w+)\s*\)\s*$/s;

function lintVariable(variable: TemplateVariable, known: KnownSeries): string[] {
  if (variable.type !== 'query') return [];
  const problems: string[] = [];
  if (variable.datasource?.uid !== datasourceRef) {
    problems.push(
      `[template-datasource-rule] datasource is ${datasourceOf(variable.datasource)}, not ${datasourceRef}`,
    );
  }
  const query = typeof variable.query === 'string' ? variable.query : variable.query.query;
  const selector = labelValues.exec(query)?.[1];
  if (selector !== undefined) problems.push(...checkNames(parseQuery(expandVariables(selector).text), known));
  return problems.map((problem) => `variable ${variable.name}: ${problem}`);
}

function lintTemplating(dashboard: Dashboard, known: KnownSeries): string[] {
  const variables = dashboard.templating?.list ?? [];
  const datasource = variables.find((variable) => variable.name === datasourceVariable);
  const problems: string[] = [];
  if (datasource === undefined) {
    problems.push(`[template-datasource-rule] no "${datasourceVariable}" variable`);
  } else if (datasource.type !== 'datasource' || datasource.query !== 'prometheus') {
    problems.push(
      `[template-datasource-rule] "${datasourceVariable}" is not a Prometheus datasource variable`,
    );
  }
  return [...problems, ...variables.flatMap((variable) => lintVariable(variable, known))];
}

/** Grafana's own limits on a uid (the API rejects longer ones, links break on other characters). */
const uidPattern = /^[a-zA-Z0-9_-]{1,40}$/;

function panelIdProblems(dashboard: Dashboard): string[] {
  const ids = (dashboard.panels ?? []).flatMap((panel) => [
    panel.id,
    ...(panel.type === 'row' ? panel.panels.map((inner) => inner.id) : []),
  ]);
  const repeated = [...new Set(ids.filter((id, index) => ids.indexOf(id) !== index))];
  return repeated.map((id) => `panel id ${id} is used by more than one panel`);
}

export function lintDashboard(dashboard: Dashboard, known: KnownSeries): string[] {
  const problems: string[] = [];
  if (!dashboard.title?.trim()) problems.push('no title');
  if (!uidPattern.test(dashboard.uid ?? '')) {
    problems.push('uid must be 1 to 40 letters, digits, "-" or "_", so links to the dashboard keep working');
  }
  problems.push(...lintTemplating(dashboard, known));
  problems.push(...panelIdProblems(dashboard));
  for (const row of dashboard.panels ?? []) {
    if (row.type === 'row' && !row.title?.trim()) problems.push(`row ${row.id}: no title`);
  }
  for (const panel of queryPanels(dashboard)) problems.push(...lintPanel(panel, known));
  return problems.map((problem) => `dashboard ${dashboard.uid || dashboard.title || '(no uid)'}: ${problem}`);
}

/** Every dashboard's lint, and uids unique across them: Grafana keeps one dashboard per uid. */
export function lintDashboards(dashboards: readonly Dashboard[], known: KnownSeries): string[] {
  const problems: string[] = [];
  const uids = new Set<string>();
  for (const dashboard of dashboards) {
    if (uids.has(dashboard.uid)) {
      problems.push(`dashboard ${dashboard.uid}: another dashboard has the same uid`);
    }
    uids.add(dashboard.uid);
    problems.push(...lintDashboard(dashboard, known));
  }
  return problems;
}
