/**
 * The rule lint: mixtool's alert guidelines (monitoring.mixins.dev, `mixtool lint`; its rule ids
 * are kept in brackets so a message can be looked up there), Sluice's own conventions (ids of the
 * same shape), and every expression parsed with its names checked against catalog and recordings.
 */
import { checkQuery, type KnownSeries, parseQuery } from './promql-check.ts';
import { type AlertRule, isAlert, type RecordingRule, type RuleGroup } from './rule-model.ts';

// mixtool's own patterns.
const camelCase = /^([A-Z]+[a-z0-9]+)+$/;
const goTemplate = /\{\{.+\}\}/;
const sentence = /^[A-Z].+\.$/;

const severities: ReadonlySet<string> = new Set(['critical', 'warning', 'info']);
const alertPrefix = 'Sluice';

/** Prometheus' duration syntax (model.ParseDuration): units largest first, each at most once. */
const promDuration = /^(?:(?:\d+y)?(?:\d+w)?(?:\d+d)?(?:\d+h)?(?:\d+m)?(?:\d+s)?(?:\d+ms)?|0)$/;

export function isPromDuration(text: string): boolean {
  return text !== '' && promDuration.test(text);
}

/** `level:metric:operations`, each part a valid name fragment. */
const recordingName = /^[a-zA-Z_][a-zA-Z0-9_]*:[a-zA-Z_][a-zA-Z0-9_]*:[a-zA-Z_][a-zA-Z0-9_]*$/;

/** What an annotation or label map really holds: the lint reads what is there, not what the type promises. */
type Present = Readonly<Record<string, string | undefined>>;

function filled(value: string | undefined): value is string {
  return value !== undefined && value.trim() !== '';
}

export function lintAlert(rule: AlertRule): string[] {
  const problems: string[] = [];
  const name = rule.alert;
  if (!camelCase.test(name)) problems.push('[alert-name-camelcase] the name is not in CamelCase');
  if (!name.startsWith(alertPrefix)) {
    problems.push(`[alert-name-prefix] the name does not start with ${alertPrefix}`);
  }
  const labels: Present = rule.labels;
  if (!severities.has(labels['severity'] ?? '')) {
    problems.push(
      `[alert-severity-rule] severity must be critical, warning or info, is "${labels['severity'] ?? ''}"`,
    );
  }
  const annotations: Present = rule.annotations;
  const summary = annotations['summary'];
  if (!filled(summary)) {
    problems.push('[alert-summary-missing-rule] no summary annotation');
  } else {
    // Summaries group alerts in notifications, so they stay the same for every firing series.
    if (goTemplate.test(summary) || /\$(labels|value)\b/.test(summary)) {
      problems.push(
        '[alert-summary-templating] the summary uses a template; templates belong in the description',
      );
    }
    if (!sentence.test(summary)) {
      problems.push(
        '[alert-summary-style] the summary must start with a capital letter and end with a full stop',
      );
    }
  }
  const description = annotations['description'];
  if (!filled(description)) {
    problems.push('[alert-description-missing-rule] no description annotation');
  } else if (!goTemplate.test(description)) {
    problems.push(
      '[alert-description-templating] the description does not say which series fired ({{ $labels… }})',
    );
  }
  if (!filled(annotations['runbook_url'])) {
    problems.push('[alert-runbook-url-missing] no runbook_url annotation');
  }
  if (rule.for !== undefined && !isPromDuration(rule.for)) {
    problems.push(`[alert-for-duration] for: "${rule.for}" is not a Prometheus duration`);
  }
  return problems.map((problem) => `alert ${name || '(unnamed)'}: ${problem}`);
}

export function lintRecording(rule: RecordingRule): string[] {
  if (recordingName.test(rule.record)) return [];
  return [`recording rule ${rule.record || '(unnamed)'}: the name does not follow level:metric:operations`];
}

function labelKey(labels: Present | undefined): string {
  return JSON.stringify(Object.entries(labels ?? {}).sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * Two rules of one group with the same name and labels, as `promtool check rules` finds them: their
 * series collide, so Prometheus keeps one pending state (or one recorded sample) for two rules.
 * Per-threshold alerts are one rule with `or` for this reason.
 */
function duplicates(group: RuleGroup): string[] {
  const seen = new Set<string>();
  const problems: string[] = [];
  for (const rule of group.rules) {
    const name = isAlert(rule) ? `alert ${rule.alert}` : `recording rule ${rule.record}`;
    const key = JSON.stringify([name, labelKey(rule.labels)]);
    if (seen.has(key)) problems.push(`${name}: another rule in the group has the same name and labels`);
    seen.add(key);
  }
  return problems;
}

/** The style lint of every rule and group; group names are unique across all, as one PrometheusRule holds them. */
export function lintRules(groups: readonly RuleGroup[]): string[] {
  const problems: string[] = [];
  const groupNames = new Set<string>();
  for (const group of groups) {
    const where = `rule group ${group.name || '(unnamed)'}`;
    if (group.name.trim() === '') problems.push(`${where}: the group has no name`);
    if (groupNames.has(group.name)) problems.push(`${where}: another group has the same name`);
    groupNames.add(group.name);
    if (group.interval !== undefined && !isPromDuration(group.interval)) {
      problems.push(`${where}: interval "${group.interval}" is not a Prometheus duration`);
    }
    for (const rule of group.rules) {
      const ruleProblems = isAlert(rule) ? lintAlert(rule) : lintRecording(rule);
      problems.push(...ruleProblems.map((problem) => `${where}, ${problem}`));
    }
    problems.push(...duplicates(group).map((problem) => `${where}, ${problem}`));
  }
  return problems;
}

/** The names the groups' recording rules write. */
export function recordedNames(groups: readonly RuleGroup[]): string[] {
  return groups.flatMap((group) => group.rules.flatMap((rule) => (isAlert(rule) ? [] : [rule.record])));
}

/** Every rule expression parsed, its names known and its counters read through rate(). */
export function lintRuleQueries(groups: readonly RuleGroup[], known: KnownSeries): string[] {
  return groups.flatMap((group) =>
    group.rules.flatMap((rule) => {
      const name = isAlert(rule) ? `alert ${rule.alert}` : `recording rule ${rule.record}`;
      return checkQuery(parseQuery(rule.expr), known).map(
        (problem) => `rule group ${group.name}, ${name}: ${problem}`,
      );
    }),
  );
}
