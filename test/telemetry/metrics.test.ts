import { Registry } from 'prom-client';
import t from 'tap';
import { methodLabel, registerMetrics } from '../../src/telemetry/metrics.ts';

t.test('methodLabel keeps standard methods and folds everything else into OTHER', async (t) => {
  for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'CONNECT', 'TRACE']) {
    t.equal(methodLabel(method), method);
  }
  for (const method of ['get', 'PROPFIND', 'PURGE', 'X'.repeat(1000), '', undefined]) {
    t.equal(methodLabel(method), 'OTHER', `${String(method).slice(0, 20)} → OTHER`);
  }
});

t.test('a flood of invented methods adds one series, not one per method', async (t) => {
  const registry = new Registry();
  const metrics = registerMetrics(registry);
  for (let i = 0; i < 500; i++) {
    metrics.requests.inc({ route: 'r', upstream: 'u', method: methodLabel(`M${i}`), code: '200' });
  }
  const { values } = await metrics.requests.get();
  t.equal(values.length, 1);
  t.equal(values[0]?.labels.method, 'OTHER');
  t.equal(values[0]?.value, 500);
});
