/**
 * Label-bound series for the per-request hot path. prom-client hashes and validates the label set on
 * every inc/observe, even through a `labels()` child — about a tenth of Sluice's CPU per proxied
 * request in bench/ profiles. These children hash once, when created, and then update prom-client's
 * own series entry, so exposition, reset() and remove() stay prom-client's. They rely on the entry
 * layout of prom-client 15 (pinned in package.json); test/telemetry/hot-children.test.ts compares
 * their exposition with plain prom-client children and fails if that layout changes.
 */
import { createRequire } from 'node:module';
import type { Counter, Gauge, Histogram } from 'prom-client';

const require = createRequire(import.meta.url);
const { hashObject } = require('prom-client/lib/util') as {
  hashObject(labels: Record<string, string>, sortedLabelNames: readonly string[]): string;
};

interface MetricInternals<Entry> {
  readonly labelNames: readonly string[];
  readonly sortedLabelNames: readonly string[];
  /** Replaced wholesale by reset(), so it is read on every update rather than captured. */
  readonly hashMap: Record<string, Entry | undefined>;
}

interface HistogramEntry {
  sum: number;
  count: number;
  bucketValues: Record<string, number>;
}

interface ValueEntry {
  value: number;
}

export interface HotHistogram {
  observe(value: number): void;
}

export interface HotCounter {
  inc(value?: number): void;
}

export interface HotGauge {
  inc(value?: number): void;
  dec(value?: number): void;
}

function bind(internals: MetricInternals<unknown>, values: readonly string[]) {
  if (values.length !== internals.labelNames.length)
    throw new Error(`expected ${internals.labelNames.length} label values, got ${values.length}`);
  const labels: Record<string, string> = {};
  internals.labelNames.forEach((name, i) => {
    labels[name] = values[i]!;
  });
  return { labels, hash: hashObject(labels, internals.sortedLabelNames) };
}

export function hotHistogram<T extends string>(
  metric: Histogram<T>,
  values: readonly string[],
): HotHistogram {
  const internals = metric as unknown as MetricInternals<HistogramEntry> & { upperBounds: readonly number[] };
  const { labels, hash } = bind(internals, values);
  // prom-client validates the labels here, and creates the entry on the first observation.
  const slow = metric.labels(labels as Partial<Record<T, string>>);
  const bounds = internals.upperBounds;
  const bucketKeys = bounds.map(String);
  return {
    observe(value) {
      const entry = internals.hashMap[hash];
      if (entry === undefined || !Number.isFinite(value)) return slow.observe(value);
      entry.sum += value;
      entry.count += 1;
      for (let i = 0; i < bounds.length; i++) {
        if (value <= bounds[i]!) {
          entry.bucketValues[bucketKeys[i]!]! += 1;
          return;
        }
      }
    },
  };
}

export function hotCounter<T extends string>(metric: Counter<T>, values: readonly string[]): HotCounter {
  const internals = metric as unknown as MetricInternals<ValueEntry>;
  const { labels, hash } = bind(internals, values);
  const slow = metric.labels(labels as Partial<Record<T, string>>);
  return {
    inc(value = 1) {
      const entry = internals.hashMap[hash];
      if (entry === undefined || !(value >= 0 && Number.isFinite(value))) return slow.inc(value);
      entry.value += value;
    },
  };
}

export function hotGauge<T extends string>(metric: Gauge<T>, values: readonly string[]): HotGauge {
  const internals = metric as unknown as MetricInternals<ValueEntry>;
  const { labels, hash } = bind(internals, values);
  const slow = metric.labels(labels as Partial<Record<T, string>>);
  const add = (delta: number) => {
    const entry = internals.hashMap[hash];
    if (entry === undefined || !Number.isFinite(delta)) return slow.inc(delta);
    entry.value += delta;
  };
  return { inc: (value = 1) => add(value), dec: (value = 1) => add(-value) };
}
