import t from 'tap';
import { type MetricSpec, metricCatalog } from '../../src/telemetry/catalog.ts';
import { renderMetricReference } from '../../src/telemetry/reference.ts';

t.test('the metric reference lists every metric with its labels and buckets', async (t) => {
  const doc = renderMetricReference(metricCatalog, 'generated — do not edit');
  t.ok(doc.startsWith('<!-- generated — do not edit -->\n'));
  for (const spec of Object.values(metricCatalog) as MetricSpec[]) {
    const row = doc.split('\n').find((line) => line.startsWith(`| \`${spec.name}\` | ${spec.type} |`));
    t.ok(row, `${spec.name} has a row`);
    for (const label of spec.labels) t.match(row, `\`${label}\``, `${spec.name} lists label ${label}`);
    if (spec.buckets) {
      t.match(doc, `| \`${spec.name}\` | ${spec.buckets.join(', ')} |`, `${spec.name} buckets`);
    }
  }
});

t.test('pipes in help text do not break the table', async (t) => {
  const doc = renderMetricReference(
    { x: { name: 'sluice_x_total', type: 'counter', help: 'a | b', unit: '', labels: [] } },
    'banner',
  );
  t.match(doc, '| `sluice_x_total` | counter | — | — | a \\| b |');
});
