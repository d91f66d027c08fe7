/**
 * Checks of the `alerts` and `slos` sections the schema cannot make: names that must refer to a
 * route, an upstream or an alert, unique SLO names, and latency and queue-wait thresholds that
 * their histograms can answer.
 */
import { alertNames } from '../ascode/alert-names.ts';
import { metricCatalog } from '../telemetry/catalog.ts';
import type { ConfigIssue } from './errors.ts';
import { isRecord, type Loose } from './loose.ts';
import type { ConfigSource } from './source.ts';
import { didYouMean } from './suggest.ts';

function unknownName(kind: string, name: string, known: readonly string[]): string {
  const list = known.length > 0 ? `; ${kind}s are: ${known.join(', ')}` : '';
  return `unknown ${kind} "${name}"${didYouMean(name, known)}${list}`;
}

/** A latency SLI counts `le` buckets, so its threshold must be one of the histogram's boundaries. */
export const latencyBuckets: readonly number[] = metricCatalog.requestDuration.buckets;

/** An alert threshold on a histogram's p95, and where it may be set: the default and per name. */
interface QuantileThreshold {
  readonly key: string;
  readonly metric: { readonly name: string; readonly buckets: readonly number[] };
  readonly sections: readonly ('routes' | 'upstreams')[];
}

const quantileThresholds: readonly QuantileThreshold[] = [
  { key: 'latency_p95_seconds', metric: metricCatalog.requestDuration, sections: ['routes'] },
  {
    key: 'concurrency_queue_wait_p95_seconds',
    metric: metricCatalog.concurrencyQueueWait,
    sections: ['routes', 'upstreams'],
  },
];

/** histogram_quantile never answers more than the largest finite bucket, so such a threshold never fires. */
function checkQuantileThreshold(source: ConfigSource, alerts: Loose, threshold: QuantileThreshold) {
  const largest = threshold.metric.buckets.at(-1) ?? Number.POSITIVE_INFINITY;
  const paths: (readonly string[])[] = [[threshold.key]];
  for (const section of threshold.sections) {
    const named = alerts[section];
    if (isRecord(named)) for (const name of Object.keys(named)) paths.push([section, name, threshold.key]);
  }
  const issues: ConfigIssue[] = [];
  for (const path of paths) {
    let value: unknown = alerts;
    for (const key of path) value = isRecord(value) ? value[key] : undefined;
    if (typeof value === 'number' && value >= largest)
      issues.push(
        source.valueIssue(
          ['alerts', ...path],
          `${value} is at or above the largest finite bucket of ${threshold.metric.name} (${largest}s), so p95 can never exceed it; use a smaller threshold`,
        ),
      );
  }
  return issues;
}

function checkAlerts(source: ConfigSource, alerts: unknown, routes: string[], upstreams: string[]) {
  const issues: ConfigIssue[] = [];
  if (!isRecord(alerts)) return issues;
  const byName = [
    ['routes', 'route', routes],
    ['upstreams', 'upstream', upstreams],
  ] as const;
  for (const [key, kind, known] of byName) {
    const section = alerts[key];
    if (!isRecord(section)) continue;
    for (const name of Object.keys(section))
      if (!known.includes(name))
        issues.push(source.keyIssue(['alerts', key, name], unknownName(kind, name, known)));
  }
  for (const threshold of quantileThresholds)
    issues.push(...checkQuantileThreshold(source, alerts, threshold));
  const disabled = alerts['disabled'];
  if (Array.isArray(disabled)) {
    disabled.forEach((name: unknown, index) => {
      if (typeof name === 'string' && !alertNames.includes(name))
        issues.push(source.valueIssue(['alerts', 'disabled', index], unknownName('alert', name, alertNames)));
    });
  }
  return issues;
}

function checkSlo(source: ConfigSource, slo: Loose, index: number, routes: string[]): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const route = slo['route'];
  if (typeof route === 'string' && !routes.includes(route))
    issues.push(source.valueIssue(['slos', index, 'route'], unknownName('route', route, routes)));
  const threshold = slo['latency_threshold_seconds'];
  if (slo['sli'] === 'latency') {
    if (threshold === undefined)
      issues.push(source.keyIssue(['slos', index, 'sli'], 'a latency SLI needs latency_threshold_seconds'));
    else if (typeof threshold === 'number' && !latencyBuckets.includes(threshold))
      issues.push(
        source.valueIssue(
          ['slos', index, 'latency_threshold_seconds'],
          `${threshold} is not a bucket boundary of sluice_http_request_duration_seconds, so the SLI could not be counted exactly; use one of ${latencyBuckets.join(', ')}`,
        ),
      );
  } else if (threshold !== undefined && slo['sli'] === 'availability') {
    issues.push(
      source.keyIssue(
        ['slos', index, 'latency_threshold_seconds'],
        'only latency SLIs have a threshold (this SLO is sli: availability)',
      ),
    );
  }
  return issues;
}

export function checkAsCode(source: ConfigSource, data: Loose): ConfigIssue[] {
  const routes = Array.isArray(data['routes'])
    ? data['routes'].flatMap((route: unknown) =>
        isRecord(route) && typeof route['name'] === 'string' ? [route['name']] : [],
      )
    : [];
  const upstreams = isRecord(data['upstreams']) ? Object.keys(data['upstreams']) : [];
  const issues = checkAlerts(source, data['alerts'], routes, upstreams);
  const slos = data['slos'];
  if (!Array.isArray(slos)) return issues;
  const firstIndexOf = new Map<string, number>();
  slos.forEach((slo: unknown, index) => {
    if (!isRecord(slo)) return;
    const name = slo['name'];
    if (typeof name === 'string') {
      const first = firstIndexOf.get(name);
      if (first === undefined) firstIndexOf.set(name, index);
      else
        issues.push(
          source.valueIssue(
            ['slos', index, 'name'],
            `duplicate SLO name "${name}" (also slos[${first}].name)`,
          ),
        );
    }
    issues.push(...checkSlo(source, slo, index, routes));
  });
  return issues;
}
