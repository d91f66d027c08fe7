/**
 * Registers every metric of the catalog in one prom-client Registry and hands out typed handles.
 * Nothing else calls `new Counter/Gauge/Histogram`: a metric that is not in the catalog cannot exist.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { type MetricKey, type MetricSpec, metricCatalog } from './catalog.ts';

type Catalog = typeof metricCatalog;
type InternalKey = { [K in MetricKey]: Catalog[K] extends { external: string } ? never : K }[MetricKey];
type LabelsOf<K extends MetricKey> = Catalog[K]['labels'][number];
type HandleOf<K extends MetricKey> = Catalog[K]['type'] extends 'counter'
  ? Counter<LabelsOf<K>>
  : Catalog[K]['type'] extends 'gauge'
    ? Gauge<LabelsOf<K>>
    : Histogram<LabelsOf<K>>;

export type Metrics = { readonly [K in InternalKey]: HandleOf<K> };

function create(spec: MetricSpec, registry: Registry): Counter | Gauge | Histogram {
  const common = { name: spec.name, help: spec.help, labelNames: [...spec.labels], registers: [registry] };
  switch (spec.type) {
    case 'counter':
      return new Counter(common);
    case 'gauge':
      return new Gauge(common);
    case 'histogram':
      return new Histogram({ ...common, buckets: [...(spec.buckets ?? [])] });
  }
}

export function registerMetrics(registry: Registry): Metrics {
  const handles: Record<string, Counter | Gauge | Histogram> = {};
  for (const [key, spec] of Object.entries(metricCatalog) as [MetricKey, MetricSpec][]) {
    if (!spec.external) handles[key] = create(spec, registry);
  }
  return handles as unknown as Metrics;
}

/** Stable label values for HTTP methods: anything outside the standard set is `OTHER`, so clients cannot grow the series. */
const knownMethods = new Set([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'PATCH',
  'DELETE',
  'OPTIONS',
  'CONNECT',
  'TRACE',
]);
export function methodLabel(method: string | undefined): string {
  return method !== undefined && knownMethods.has(method) ? method : 'OTHER';
}
