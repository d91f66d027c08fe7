import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import t from 'tap';
import { hotCounter, hotGauge, hotHistogram } from '../../src/telemetry/hot-children.ts';

function pair() {
  const make = () => {
    const registry = new Registry();
    const labelNames = ['route', 'code'] as const;
    return {
      registry,
      histogram: new Histogram({
        name: 'h_seconds',
        help: 'h',
        labelNames,
        buckets: [0.005, 0.1, 1, 2.5],
        registers: [registry],
      }),
      counter: new Counter({ name: 'c_total', help: 'c', labelNames, registers: [registry] }),
      gauge: new Gauge({ name: 'g', help: 'g', labelNames, registers: [registry] }),
    };
  };
  return { plain: make(), hot: make() };
}

const observations = [0, 0.001, 0.005, 0.0051, 0.1, 0.7, 1, 2.5, 2.6, 1000];

t.test('hot children expose exactly what plain prom-client children do', async (t) => {
  const { plain, hot } = pair();
  for (const labels of [
    ['chat', '200'],
    ['chat', '500'],
    ['embed', '200'],
  ] as const) {
    const h = hotHistogram(hot.histogram, labels);
    const c = hotCounter(hot.counter, labels);
    const g = hotGauge(hot.gauge, labels);
    const plainH = plain.histogram.labels(...labels);
    const plainC = plain.counter.labels(...labels);
    const plainG = plain.gauge.labels(...labels);
    for (const value of observations) {
      h.observe(value);
      plainH.observe(value);
      c.inc();
      plainC.inc();
      c.inc(value);
      plainC.inc(value);
      g.inc(value);
      plainG.inc(value);
    }
    g.dec(3);
    plainG.dec(3);
  }
  t.equal(await hot.registry.metrics(), await plain.registry.metrics());
});

t.test(
  'reset() and remove() are prom-client semantics: the hot child keeps counting afterwards',
  async (t) => {
    const { plain, hot } = pair();
    const h = hotHistogram(hot.histogram, ['chat', '200']);
    const c = hotCounter(hot.counter, ['chat', '200']);
    const plainH = plain.histogram.labels('chat', '200');
    const plainC = plain.counter.labels('chat', '200');
    h.observe(0.2);
    plainH.observe(0.2);
    hot.registry.resetMetrics();
    plain.registry.resetMetrics();
    hot.counter.remove('chat', '200');
    plain.counter.remove('chat', '200');
    h.observe(0.3);
    plainH.observe(0.3);
    c.inc(2);
    plainC.inc(2);
    t.equal(await hot.registry.metrics(), await plain.registry.metrics());
  },
);

t.test('invalid input is rejected as prom-client rejects it', async (t) => {
  const { hot } = pair();
  t.throws(() => hotHistogram(hot.histogram, ['only-one']), /expected 2 label values/);
  const c = hotCounter(hot.counter, ['chat', '200']);
  c.inc();
  t.throws(() => c.inc(-1), /not possible to decrease a counter/);
  const h = hotHistogram(hot.histogram, ['chat', '200']);
  h.observe(1);
  t.throws(() => h.observe(Number.NaN), /not a valid number/);
});
