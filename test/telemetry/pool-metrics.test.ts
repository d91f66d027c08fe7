import { once } from 'node:events';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import t from 'tap';
import { Pool } from 'undici';
import { registerMetrics } from '../../src/telemetry/metrics.ts';
import { type PoolSource, poolStatsHook } from '../../src/telemetry/pool-metrics.ts';

/** A backend that holds every response until told to answer, so requests stay running. */
async function holdingServer() {
  const held: ServerResponse[] = [];
  const server = createServer((_req, res) => {
    held.push(res);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const releaseAll = () => {
    for (const res of held.splice(0)) res.end('ok');
  };
  return { server, origin, held, releaseAll };
}

async function until(condition: () => boolean) {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
}

async function gaugeValues(metrics: ReturnType<typeof registerMetrics>) {
  const series = new Map<string, number>();
  for (const v of (await metrics.upstreamPoolConnections.get()).values) {
    series.set(`${v.labels.upstream}/${v.labels.state}`, v.value);
  }
  for (const v of (await metrics.upstreamPoolSize.get()).values) {
    series.set(`${v.labels.upstream}/max`, v.value);
  }
  return series;
}

t.test('pool gauges follow undici stats and drop upstreams that are gone', async (t) => {
  const backend = await holdingServer();
  t.teardown(() => backend.server.close());
  const pool = new Pool(backend.origin, { connections: 2 });
  const spare = new Pool(backend.origin, { connections: 4 });
  t.teardown(() => Promise.all([pool.destroy(), spare.destroy()]));

  const metrics = registerMetrics(new Registry());
  let sources: PoolSource[] = [
    { name: 'primary', pool, maxConnections: 2 },
    { name: 'spare', pool: spare, maxConnections: 4 },
  ];
  const refresh = poolStatsHook(metrics, () => sources);

  // Three requests on two connections: two run, one waits in the pool's queue.
  const responses = [1, 2, 3].map(() => pool.request({ path: '/', method: 'GET' }));
  await until(() => backend.held.length === 2);
  refresh();
  let values = await gaugeValues(metrics);
  t.equal(values.get('primary/connected'), 2);
  t.equal(values.get('primary/running'), 2);
  t.equal(values.get('primary/free'), 0);
  t.equal(values.get('primary/queued'), 1);
  t.equal(values.get('primary/max'), 2);
  t.equal(values.get('spare/connected'), 0);
  t.equal(values.get('spare/max'), 4);

  await until(() => {
    backend.releaseAll();
    return pool.stats.running === 0 && pool.stats.queued === 0 && pool.stats.free === 2;
  });
  await Promise.all(responses.map(async (r) => (await r).body.text()));
  refresh();
  values = await gaugeValues(metrics);
  t.equal(values.get('primary/running'), 0);
  t.equal(values.get('primary/free'), 2);

  // A config reload removed the spare upstream.
  sources = sources.filter((s) => s.name !== 'spare');
  refresh();
  values = await gaugeValues(metrics);
  t.same(
    [...values.keys()].filter((key) => key.startsWith('spare/')),
    [],
    'the removed upstream has no series left',
  );
  t.equal(values.get('primary/max'), 2);
});
