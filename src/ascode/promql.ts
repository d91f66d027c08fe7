/**
 * PromQL for generated rules and panels. Metric names come only from the metric catalog (or from
 * recording rules generated here), so a renamed metric cannot leave an expression behind; every
 * expression is parsed and its names checked again in promql-check.ts.
 */
import { type MetricKey, metricCatalog } from '../telemetry/catalog.ts';

type Suffix = '' | '_bucket' | '_sum' | '_count';

/** A cataloged metric's series name; histograms take the suffix of the series they mean. */
export function metric(key: MetricKey, suffix: Suffix = ''): string {
  const spec = metricCatalog[key];
  if (suffix !== '' && spec.type !== 'histogram') throw new Error(`${spec.name} is not a histogram`);
  return spec.name + suffix;
}

/** Label matchers joined into a selector body, leaving out empty ones (an empty config selector). */
export function matchers(...parts: readonly (string | undefined)[]): string {
  return parts.filter((part) => part !== undefined && part !== '').join(',');
}

/** `{…}` for a series, or nothing when there are no matchers. */
export function selector(...parts: readonly (string | undefined)[]): string {
  const body = matchers(...parts);
  return body === '' ? '' : `{${body}}`;
}

/** A regular-expression alternation that matches exactly these label values. */
export function anyOf(values: readonly string[]): string {
  return values.map((value) => value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
}

/** Formats a number for PromQL and for YAML without exponent surprises (0.05, 1073741824). */
export function num(value: number): string {
  if (Number.isInteger(value)) return String(value);
  return String(Number(value.toPrecision(12)));
}
