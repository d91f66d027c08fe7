import { openMetricsContentType, prometheusContentType, Registry } from 'prom-client';
import t from 'tap';
import { expose, prefersOpenMetrics } from '../../src/telemetry/exposition.ts';
import { registerMetrics } from '../../src/telemetry/metrics.ts';

/** What Prometheus 2.x sends when it can take OpenMetrics. */
const prometheusAccept =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

t.test('content negotiation', async (t) => {
  t.equal(prefersOpenMetrics(prometheusAccept), true);
  t.equal(prefersOpenMetrics('application/openmetrics-text; version=1.0.0'), true);
  t.equal(prefersOpenMetrics(undefined), false);
  t.equal(prefersOpenMetrics('*/*'), false);
  t.equal(prefersOpenMetrics('text/plain'), false);
  t.equal(prefersOpenMetrics('text/plain;q=1, application/openmetrics-text;q=0.5'), false);
  t.equal(prefersOpenMetrics('application/openmetrics-text;q=0'), false);
});

function setup() {
  const registry = new Registry();
  const metrics = registerMetrics(registry);
  metrics.requests.inc({ route: 'chat', upstream: 'openai', method: 'POST', code: '200' });
  metrics.requestDuration.observe({ route: 'chat', upstream: 'openai', method: 'POST', code: '200' }, 0.3);
  return registry;
}

t.test('Prometheus text by default', async (t) => {
  const { contentType, body } = await expose(setup(), undefined);
  t.equal(contentType, prometheusContentType);
  t.match(body, '# TYPE sluice_http_requests_total counter');
  t.match(body, 'sluice_http_requests_total{route="chat",upstream="openai",method="POST",code="200"} 1');
  t.notMatch(body, '# EOF');
});

t.test('OpenMetrics when asked, without renaming counters for later text scrapes', async (t) => {
  const registry = setup();
  const open = await expose(registry, prometheusAccept);
  t.equal(open.contentType, openMetricsContentType);
  t.match(open.body, '# TYPE sluice_http_requests counter');
  t.match(open.body, 'sluice_http_requests_total{route="chat",upstream="openai",method="POST",code="200"} 1');
  t.match(open.body, 'sluice_http_request_duration_seconds_bucket{le="0.5",');
  t.notMatch(open.body, '_total_total');
  t.ok(open.body.endsWith('# EOF\n'));

  // prom-client's own OpenMetrics mode strips `_total` from the shared metric; ours must not.
  const text = await expose(registry, 'text/plain');
  t.match(text.body, '# TYPE sluice_http_requests_total counter');

  const both = await Promise.all([expose(registry, prometheusAccept), expose(registry, undefined)]);
  t.match(both[0].body, '# TYPE sluice_http_requests counter');
  t.match(both[1].body, '# TYPE sluice_http_requests_total counter');
});
