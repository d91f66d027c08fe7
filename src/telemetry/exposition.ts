/**
 * Renders a registry as Prometheus text or OpenMetrics, chosen per scrape from the Accept header.
 *
 * prom-client picks the format from the registry's content type, and its OpenMetrics rendering
 * strips `_total` from each counter's `name` in place, so switching the shared registry (or
 * registering its metrics in an OpenMetrics registry) would break concurrent and later Prometheus
 * scrapes. Instead each OpenMetrics scrape renders a throwaway registry of thin views that carry
 * their own name and read values from the real metrics.
 */
import {
  type Metric,
  type MetricObject,
  type OpenMetricsContentType,
  openMetricsContentType,
  Registry,
} from 'prom-client';

export interface Exposition {
  readonly contentType: string;
  readonly body: string;
}

interface MediaRange {
  readonly type: string;
  readonly q: number;
}

function parseAccept(accept: string): MediaRange[] {
  return accept.split(',').map((part) => {
    const [type = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    const qParam = params.find((p) => p.startsWith('q='));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    return { type, q: Number.isFinite(q) ? q : 0 };
  });
}

/** True when the client prefers OpenMetrics at least as much as the classic text format. */
export function prefersOpenMetrics(accept: string | undefined): boolean {
  if (!accept) return false;
  const ranges = parseAccept(accept);
  const best = (type: string) => Math.max(0, ...ranges.filter((r) => r.type === type).map((r) => r.q));
  const openMetrics = best('application/openmetrics-text');
  return openMetrics > 0 && openMetrics >= best('text/plain');
}

interface MetricView {
  readonly name: string;
  readonly help: string;
  readonly type: MetricObject['type'];
  get(): Promise<unknown>;
}

/** A view with its own `name`, which prom-client may rewrite freely without touching the metric. */
function viewOf(metric: MetricObject): MetricView {
  // getMetricsAsArray() is typed as plain data, but its entries are the metric instances.
  const inner = metric as MetricObject & { get(): Promise<object> };
  const view: MetricView = {
    name: inner.name,
    help: inner.help,
    type: inner.type,
    // Histograms name each value (`_bucket`, `_sum`, `_count`); counters and gauges use the view's name.
    get: async () => ({ ...(await inner.get()), name: view.name }),
  };
  return view;
}

async function renderOpenMetrics(registry: Registry): Promise<string> {
  const scrape = new Registry<OpenMetricsContentType>();
  scrape.setContentType(openMetricsContentType);
  for (const metric of registry.getMetricsAsArray()) {
    scrape.registerMetric(viewOf(metric) as unknown as Metric);
  }
  return scrape.metrics();
}

export async function expose(registry: Registry, accept: string | undefined): Promise<Exposition> {
  if (prefersOpenMetrics(accept)) {
    return { contentType: openMetricsContentType, body: await renderOpenMetrics(registry) };
  }
  return { contentType: registry.contentType, body: await registry.metrics() };
}
