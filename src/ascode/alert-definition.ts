/**
 * What every generated alert is made of, and the helpers the alert files share: the config's
 * selector, thresholds grouped so one rule covers every route (or upstream) that shares a value,
 * and the label set a promtool test case gives its series.
 */
import type { DeepReadonly } from '../config/freeze.ts';
import type { SluiceConfig } from '../config/types.generated.ts';
import { type Profile, window } from './profile.ts';
import { anyOf, num, selector } from './promql.ts';
import type { PromtoolTestCase, Severity } from './rule-model.ts';

export interface RuleContext {
  readonly config: DeepReadonly<SluiceConfig>;
  readonly profile: Profile;
}

export interface AlertInstance {
  readonly expr: string;
  /** Labels the expression cannot carry itself (a route named by a per-route rule). */
  readonly labels?: Readonly<Record<string, string>>;
  /** The threshold(s) this rule compares with, as the description's `{threshold}` shows them. */
  readonly threshold?: string;
}

/** An alert a test expects: its labels, and the value and threshold its description shows. */
export interface ExpectedFiring {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
  readonly threshold?: string;
}

/** A promtool case before the alert's annotations are rendered into it (see alerts.ts). */
export interface AlertCase {
  readonly name: string;
  readonly input_series: PromtoolTestCase['input_series'];
  readonly evalMinutes: number;
  /** The alert expected at `evalMinutes`, or none when the case shows it silent. */
  readonly firing: ExpectedFiring | undefined;
}

export interface AlertDefinition {
  readonly name: string;
  readonly severity: Severity;
  /** Static, one sentence, ending in a full stop. */
  readonly summary: string;
  /** Templated with `$labels` and `$value`; `{threshold}` is replaced per rule. */
  readonly description: string;
  readonly forSeconds: number;
  /** The rules for this config (several when thresholds differ); none when there is nothing to watch. */
  rules(ctx: RuleContext): readonly AlertInstance[];
  /** promtool cases on the production rules: the alert fires under its condition, and stays silent when healthy. */
  tests(ctx: RuleContext): readonly AlertCase[];
}

/** The config's selector plus more matchers, as `{…}`. */
export function sel(ctx: RuleContext, ...more: readonly string[]): string {
  return selector(ctx.config.alerts.selector, ...more);
}

/** A window under the context's profile (`5m` in production, `10s` in the test profile). */
export function w(ctx: RuleContext, seconds: number): string {
  return window(ctx.profile, seconds);
}

export interface ThresholdGroup {
  /** Matchers on the label, or '' for "every value". */
  readonly matcher: string;
  readonly threshold: number;
  /** The names with their own threshold; empty for a default group. */
  readonly names: readonly string[];
}

/**
 * One group per distinct threshold. The default group excludes the names that have their own
 * value, and nothing else, so a route or upstream added later is still covered by the default.
 */
export function thresholdGroups(
  label: string,
  overrides: ReadonlyMap<string, number>,
  fallback: number,
): ThresholdGroup[] {
  const byValue = new Map<number, string[]>();
  for (const [name, value] of overrides) {
    if (value === fallback) continue;
    byValue.set(value, [...(byValue.get(value) ?? []), name]);
  }
  const special = [...byValue.values()].flat();
  const groups: ThresholdGroup[] = [
    { matcher: special.length === 0 ? '' : `${label}!~"${anyOf(special)}"`, threshold: fallback, names: [] },
  ];
  for (const [threshold, names] of byValue)
    groups.push({ matcher: `${label}=~"${anyOf(names)}"`, threshold, names });
  return groups;
}

/**
 * One rule for every group, its comparisons joined with `or`: promtool flags two alerts of the
 * same name and labels as duplicates, and one rule keeps one pending state per series anyway.
 * The first group is the default; further groups without names (the default split over several
 * matchers) add nothing to the description.
 */
export function groupedRule(
  groups: readonly ThresholdGroup[],
  compare: (matcher: string, threshold: number) => string,
  format: (threshold: number) => string,
): AlertInstance {
  const [first, ...overrides] = groups;
  if (first === undefined) throw new Error('no threshold group');
  const indent = (text: string) => text.replace(/^/gm, '  ');
  const expr =
    overrides.length === 0
      ? compare(first.matcher, first.threshold)
      : groups.map((group) => `(\n${indent(compare(group.matcher, group.threshold))}\n)`).join('\nor\n');
  const threshold = [
    format(first.threshold),
    ...overrides
      .filter((group) => group.names.length > 0)
      .map((group) => `${group.names.join(', ')}: ${format(group.threshold)}`),
  ].join('; ');
  return { expr, threshold };
}

/** Per-name values of one key of `alerts.routes` / `alerts.upstreams`. */
export function overridesOf<T extends object>(
  section: Readonly<Record<string, T | undefined>>,
  key: keyof T,
): Map<string, number> {
  const values = new Map<string, number>();
  for (const [name, settings] of Object.entries(section)) {
    const value = settings?.[key];
    if (typeof value === 'number') values.set(name, value);
  }
  return values;
}

/**
 * The labels every test series carries so that the config's selector matches it. Only plain
 * `name="value"` selectors can be turned into labels; other selectors get no generated tests.
 */
export function selectorLabels(ctx: RuleContext): Record<string, string> | undefined {
  const text = ctx.config.alerts.selector.trim();
  const labels: Record<string, string> = {};
  if (text === '') return labels;
  for (const part of text.split(',')) {
    const match = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"([^"\\]*)"\s*$/.exec(part);
    if (!match) return undefined;
    labels[match[1]!] = match[2]!;
  }
  return labels;
}

/** A series name with labels, for promtool's `input_series`. */
export function series(name: string, labels: Readonly<Record<string, string>>): string {
  const body = Object.entries(labels)
    .map(([key, value]) => `${key}="${value}"`)
    .join(',');
  return `${name}{${body}}`;
}

export { num };

/** A ratio threshold as an alert description shows it: 0.05 → `5%`. */
export const percent = (ratio: number): string => `${num(ratio * 100)}%`;

/** The `instance` label of the series promtool cases feed in. */
export const testInstance = 'sluice-0:9464';

/** A case with 1-minute samples, evaluated once at `evalMinutes`. */
export function caseAt(
  name: string,
  input: PromtoolTestCase['input_series'],
  evalMinutes: number,
  firing: ExpectedFiring | undefined,
): AlertCase {
  return { name, input_series: input, evalMinutes, firing };
}

/** Bucket series of a histogram whose observations (`perMinute` of them) all fall in the bucket ending at `le`. */
export function bucketSeries(
  name: string,
  buckets: readonly number[],
  labels: Readonly<Record<string, string>>,
  le: number,
  perMinute: number,
): PromtoolTestCase['input_series'] {
  return [...buckets.map(String), '+Inf'].map((bound) => ({
    series: series(name, { ...labels, le: bound }),
    values: bound === '+Inf' || Number(bound) >= le ? `0+${perMinute}x40` : '0+0x40',
  }));
}

/** histogram_quantile's answer when every observation lies in the bucket ending at `le`: linear within it. */
export function quantileInBucket(buckets: readonly number[], le: number, quantile: number): number {
  const index = buckets.indexOf(le);
  const start = index > 0 ? buckets[index - 1]! : 0;
  return start + (le - start) * quantile;
}

/** The first bucket boundary whose lower neighbour is at or above `threshold`: all of it is slower. */
export function bucketAbove(buckets: readonly number[], threshold: number): number | undefined {
  return buckets.find((_, i) => i > 0 && buckets[i - 1]! >= threshold);
}
