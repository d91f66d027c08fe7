import { Registry } from 'prom-client';
import t from 'tap';
import type { TelemetryConfig } from '../../src/config/types.generated.ts';
import { type MetricSpec, metricCatalog } from '../../src/telemetry/catalog.ts';
import { registerMetrics } from '../../src/telemetry/metrics.ts';
import { createTelemetry } from '../../src/telemetry/telemetry.ts';

const snakeCase = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;
/** Non-base units Prometheus asks us not to use: convert to seconds and bytes instead. */
const nonBaseUnits = [
  'milliseconds',
  'ms',
  'microseconds',
  'minutes',
  'hours',
  'kilobytes',
  'megabytes',
  'percent',
];
const unitSuffixes = ['seconds', 'bytes', 'ratio'];
/** Labels whose values would be unbounded or secret; they go through allow-lists or not at all. */
const unboundedLabels = [
  'user',
  'user_id',
  'api_key',
  'key',
  'token',
  'prompt',
  'path',
  'url',
  'request_id',
  'client_ip',
  'ip',
];

/** Prometheus naming conventions, as `promtool check metrics` and the Prometheus docs state them. */
function namingProblems(spec: MetricSpec): string[] {
  const problems: string[] = [];
  const { name, type, unit, labels } = spec;
  if (!snakeCase.test(name)) problems.push('name is not snake_case');
  if (!spec.external && !spec.convention && !name.startsWith('sluice_'))
    problems.push('name lacks the sluice_ prefix');
  if (spec.convention === 'opentelemetry-genai' && !name.startsWith('gen_ai_'))
    problems.push('a GenAI convention name starts with gen_ai_');
  if (type === 'counter' && !name.endsWith('_total')) problems.push('counter name does not end in _total');
  if (type !== 'counter' && name.endsWith('_total')) problems.push('non-counter name ends in _total');
  const base = type === 'counter' ? name.replace(/_total$/, '') : name;
  if (unit !== '' && !base.endsWith(`_${unit}`)) problems.push(`unit ${unit} is not the name's suffix`);
  if (unit === '' && unitSuffixes.some((u) => base.endsWith(`_${u}`)))
    problems.push('name has a unit suffix but unit is empty');
  if (nonBaseUnits.some((u) => base.split('_').includes(u))) problems.push('name uses a non-base unit');
  if (/_(bucket|count|sum|created|info_total)$/.test(name)) problems.push('name ends in a reserved suffix');
  if (spec.help.trim() === '') problems.push('help is empty');
  if (new Set(labels).size !== labels.length) problems.push('labels repeat');
  for (const label of labels) {
    if (!snakeCase.test(label)) problems.push(`label ${label} is not snake_case`);
    if (label === 'le' || label === 'quantile') problems.push(`label ${label} is reserved`);
    if (unboundedLabels.includes(label)) problems.push(`label ${label} is unbounded or secret`);
  }
  if (type === 'histogram') {
    const buckets = spec.buckets ?? [];
    if (buckets.length === 0) problems.push('histogram has no buckets');
    if (buckets.some((b, i) => i > 0 && b <= buckets[i - 1]!)) problems.push('buckets are not increasing');
  } else if (spec.buckets !== undefined) {
    problems.push('only histograms have buckets');
  }
  return problems;
}

const silent: TelemetryConfig = {
  log_level: 'silent',
  access_log: false,
  redact_headers: [],
  tracing: false,
};

t.test('the naming check catches bad entries', async (t) => {
  const good: MetricSpec = {
    name: 'sluice_x_seconds',
    type: 'histogram',
    help: 'x',
    unit: 'seconds',
    labels: ['route'],
    buckets: [0.1, 1],
  };
  t.same(namingProblems(good), []);
  const bad: [Partial<MetricSpec>, string][] = [
    [
      { name: 'sluice_things', type: 'counter', unit: '', buckets: undefined },
      'counter name does not end in _total',
    ],
    [
      { name: 'sluice_things_total', type: 'gauge', unit: '', buckets: undefined },
      'non-counter name ends in _total',
    ],
    [{ name: 'sluice_latency_ms' }, "unit seconds is not the name's suffix"],
    [{ name: 'sluice_latency_milliseconds', unit: '' }, 'name uses a non-base unit'],
    [{ name: 'sluiceLatencySeconds' }, 'name is not snake_case'],
    [{ name: 'http_latency_seconds' }, 'name lacks the sluice_ prefix'],
    [
      { name: 'llm_latency_seconds', convention: 'opentelemetry-genai' },
      'a GenAI convention name starts with gen_ai_',
    ],
    [
      { name: 'sluice_size_bytes', unit: '', type: 'gauge', buckets: undefined },
      'name has a unit suffix but unit is empty',
    ],
    [{ labels: ['route', 'route'] }, 'labels repeat'],
    [{ labels: ['le'] }, 'label le is reserved'],
    [{ labels: ['user_id'] }, 'label user_id is unbounded or secret'],
    [{ labels: ['upstreamName'] }, 'label upstreamName is not snake_case'],
    [{ buckets: [] }, 'histogram has no buckets'],
    [{ buckets: [1, 0.5] }, 'buckets are not increasing'],
    [{ type: 'gauge' }, 'only histograms have buckets'],
    [{ help: ' ' }, 'help is empty'],
  ];
  for (const [change, problem] of bad) {
    t.ok(namingProblems({ ...good, ...change }).includes(problem), `${JSON.stringify(change)} → ${problem}`);
  }
});

t.test('every catalog entry follows the naming conventions', async (t) => {
  for (const spec of Object.values(metricCatalog) as MetricSpec[]) {
    t.same(namingProblems(spec), [], spec.name);
  }
  const names = Object.values(metricCatalog).map((spec) => spec.name);
  t.equal(new Set(names).size, names.length, 'no name is declared twice');
});

t.test('every catalog entry is registered exactly once, as declared', async (t) => {
  const { registry } = createTelemetry(silent);
  const registered = registry.getMetricsAsArray() as unknown as {
    name: string;
    type: string;
    labelNames: string[];
    upperBounds?: number[];
  }[];
  for (const spec of Object.values(metricCatalog) as MetricSpec[]) {
    // Prometheus writes these itself for every scrape.
    if (spec.external === 'prometheus') continue;
    const matches = registered.filter((metric) => metric.name === spec.name);
    t.equal(matches.length, 1, `${spec.name} is registered once`);
    const metric = matches[0];
    if (!metric) continue;
    t.equal(metric.type, spec.type, `${spec.name} type`);
    // prom-client's own collectors may add labels Sluice does not use; Sluice's must match exactly.
    if (!spec.external) t.same(metric.labelNames, spec.labels, `${spec.name} labels`);
    if (spec.type === 'histogram') t.same(metric.upperBounds, spec.buckets, `${spec.name} buckets`);
  }
  const declared = new Set<string>(Object.values(metricCatalog).map((spec) => spec.name));
  const stray = registered.filter(
    (metric) => metric.name.startsWith('sluice_') && !declared.has(metric.name),
  );
  t.same(
    stray.map((metric) => metric.name),
    [],
    'no sluice_ metric exists outside the catalog',
  );
});

t.test('registering the catalog twice in one registry fails loudly', async (t) => {
  const registry = new Registry();
  registerMetrics(registry);
  t.throws(() => registerMetrics(registry), /already been registered/);
});
