import { existsSync } from 'node:fs';
import { Writable } from 'node:stream';
import t, { type Test } from 'tap';
import type { AdminConfig, SluiceConfig } from '../../src/config/types.generated.ts';
import type { AdminDeps, AdminServer } from '../../src/server/admin.ts';
import { createTelemetry } from '../../src/telemetry/telemetry.ts';
import { promtool, promtoolMissing } from '../support/promtool.ts';

type AdminModule = typeof import('../../src/server/admin.ts');

/** Stand-in for src/config/redact.ts, used only while that file does not exist yet. */
function redactStandIn(config: unknown): unknown {
  return JSON.parse(JSON.stringify(config), (key, value) =>
    (key === 'api_key' || key === 'token') && value !== '' ? '[redacted]' : value,
  );
}

const { startAdminServer }: AdminModule = existsSync(new URL('../../src/config/redact.ts', import.meta.url))
  ? await import('../../src/server/admin.ts')
  : await t.mockImport<AdminModule>('../../src/server/admin.ts', {
      '../../src/config/redact.ts': { redactConfig: redactStandIn },
    });

const upstreamKey = 'sk-upstream-secret-0123456789';
const adminToken = 'admin-token-9876543210';

/** A complete effective config, as the loader produces it, with an upstream secret and the admin token. */
function effectiveConfig(token: string): Readonly<SluiceConfig> {
  const config: SluiceConfig = {
    listener: {
      host: '127.0.0.1',
      port: 0,
      max_body_bytes: 10485760,
      max_header_bytes: 16384,
      headers_timeout_ms: 10000,
      request_timeout_ms: 60000,
      keep_alive_timeout_ms: 5000,
      trusted_hops: 0,
      server_timing: true,
    },
    admin: { enabled: true, host: '127.0.0.1', port: 0, token },
    upstreams: {
      openai: {
        url: 'https://api.openai.com/v1',
        api_key: upstreamKey,
        api_key_header: 'authorization',
        headers: {},
        timeouts: { connect_ms: 5000, headers_ms: 300000, body_idle_ms: 120000 },
        pool: { connections: 128, keep_alive_timeout_ms: 4000 },
        tls: { reject_unauthorized: true },
        prices: [],
        balance: { strategy: 'weighted-round-robin', cost_tolerance: 0, within_tier: 'least-loaded' },
        retry_budget: { ratio: 0.2, min_retries_per_second: 1, window_ms: 10000 },
      },
    },
    routes: [
      {
        name: 'chat',
        match: { path_prefix: '/v1' },
        upstream: 'openai',
        protocol: 'openai',
        websocket: false,
        ensure_stream_usage: false,
        dedupe: false,
      },
    ],
    llm: { accounting: true, model_labels: [], max_model_labels: 200, prices: [] },
    telemetry: { log_level: 'info', access_log: true, redact_headers: [], tracing: true },
    reload: { watch: false, debounce_ms: 250 },
    shutdown: { drain_timeout_ms: 30000 },
    alerts: {
      selector: 'job="sluice"',
      runbook_url: 'docs/runbooks/{alert}.md',
      disabled: [],
      error_ratio: 0.05,
      latency_p95_seconds: 120,
      upstream_error_ratio: 0.05,
      pool_utilization: 0.9,
      pool_wait_p95_seconds: 0.1,
      memory_bytes: 1073741824,
      event_loop_delay_seconds: 0.1,
      cache_l1_hit_ratio: 0.5,
      cache_l2_hit_ratio: 0.5,
      cache_hit_ratio: 0.3,
      cache_min_lookups_per_second: 0.1,
      cache_l1_utilization: 0.9,
      cache_l2_error_ratio: 0.05,
      rate_limit_rejection_ratio: 0.1,
      rate_limit_min_requests_per_second: 0.1,
      concurrency_queue_depth: 100,
      concurrency_queue_wait_p95_seconds: 5,
      breaker_trips_per_second: 0.005,
      compression_ratio: 0.5,
      compression_min_bytes_per_second: 10240,
      routes: {},
      upstreams: {},
    },
    slos: [],
    cache: { l1_max_bytes: 67108864, max_entry_bytes: 4194304 },
    limits: { default_output_tokens: 1024, priority_classes: ['interactive', 'default', 'batch'] },
  };
  return Object.freeze(config);
}

async function start(t: Test, options: { token?: string } = {}) {
  const logLines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logLines.push(String(chunk));
      done();
    },
  });
  const telemetry = createTelemetry(
    { log_level: 'debug', access_log: false, redact_headers: [], tracing: false },
    sink,
  );
  const state = { ready: true, draining: false, token: options.token ?? '' };
  const deps: AdminDeps = {
    telemetry,
    isReady: () => state.ready,
    isDraining: () => state.draining,
    adminConfig: (): AdminConfig => ({ enabled: true, host: '127.0.0.1', port: 0, token: state.token }),
    effectiveConfig: () => effectiveConfig(state.token),
  };
  const server: AdminServer = await startAdminServer({ host: '127.0.0.1', port: 0 }, deps);
  t.teardown(() => server.close());
  const get = (path: string, init?: RequestInit) => fetch(`${server.url}${path}`, init);
  return { server, telemetry, state, get, logLines };
}

t.test('healthz answers while the process runs', async (t) => {
  const { get } = await start(t);
  const res = await get('/healthz');
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type'), /^application\/json/);
  t.same(await res.json(), { status: 'ok' });
  const head = await get('/healthz', { method: 'HEAD' });
  t.equal(head.status, 200);
  t.equal(await head.text(), '');
});

t.test('readyz follows isReady and tells draining apart', async (t) => {
  const { get, state } = await start(t);
  let res = await get('/readyz');
  t.equal(res.status, 200);
  t.same(await res.json(), { status: 'ready' });
  state.ready = false;
  res = await get('/readyz');
  t.equal(res.status, 503);
  t.same(await res.json(), { status: 'not_ready' });
  state.draining = true;
  res = await get('/readyz');
  t.equal(res.status, 503);
  t.same(await res.json(), { status: 'draining' });
  t.equal((await get('/readyz', { method: 'HEAD' })).status, 503);
});

t.test('metrics: Prometheus text, OpenMetrics on request, hooks run first, no request log', async (t) => {
  const { get, telemetry, logLines } = await start(t);
  let hookRuns = 0;
  telemetry.beforeScrape.add(() => {
    hookRuns++;
    telemetry.metrics.requestsInFlight.set({ route: 'chat' }, 3);
  });
  telemetry.beforeScrape.add(() => {
    throw new Error('broken hook');
  });
  telemetry.metrics.requests.inc({ route: 'chat', upstream: 'openai', method: 'POST', code: '200' });

  const text = await get('/metrics');
  t.equal(text.status, 200);
  t.equal(text.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  const body = await text.text();
  t.equal(hookRuns, 1);
  t.match(body, 'sluice_http_requests_in_flight{route="chat"} 3');
  t.match(body, '# TYPE sluice_http_requests_total counter');
  t.match(body, 'nodejs_eventloop_lag_p99_seconds');

  const open = await get('/metrics', { headers: { accept: 'application/openmetrics-text; version=1.0.0' } });
  t.equal(open.status, 200);
  t.match(open.headers.get('content-type'), /^application\/openmetrics-text; version=1\.0\.0/);
  t.ok((await open.text()).endsWith('# EOF\n'));
  t.notOk(
    logLines.some((line) => line.includes('"path":"/metrics"')),
    'scrapes are not logged',
  );
  t.ok(
    logLines.some((line) => line.includes('beforeScrape hook failed')),
    'a failing hook is logged, not fatal',
  );
});

t.test('/admin/config is redacted and open when no token is set', async (t) => {
  const { get } = await start(t);
  const res = await get('/admin/config');
  t.equal(res.status, 200);
  const body = await res.text();
  t.notMatch(body, upstreamKey);
  t.match(JSON.parse(body), {
    upstreams: { openai: { url: 'https://api.openai.com/v1', api_key: '[redacted]' } },
  });
});

t.test('/admin/config enforces the bearer token', async (t) => {
  const { get, logLines } = await start(t, { token: adminToken });
  for (const authorization of [undefined, 'Bearer wrong', `Bearer ${adminToken}x`, `Basic ${adminToken}`]) {
    const res = await get('/admin/config', authorization ? { headers: { authorization } } : {});
    t.equal(res.status, 401, `${authorization ?? 'no header'} → 401`);
    t.match(res.headers.get('www-authenticate'), /^Bearer/);
    t.same(await res.json(), {
      error: {
        message: 'This admin endpoint needs `Authorization: Bearer <admin.token>`.',
        type: 'authentication_error',
        code: 'sluice_admin_unauthorized',
      },
    });
  }
  const res = await get('/admin/config', { headers: { authorization: `bearer ${adminToken}` } });
  t.equal(res.status, 200);
  const body = await res.text();
  t.notMatch(body, upstreamKey);
  t.notMatch(body, adminToken);
  t.notOk(logLines.join('').includes(adminToken), 'the token never reaches the log');
  t.equal((await get('/metrics')).status, 200, '/metrics stays open');
  t.equal((await get('/healthz')).status, 200, '/healthz stays open');
});

t.test('unknown paths get 404, wrong methods 405 with Allow', async (t) => {
  const { get } = await start(t);
  const missing = await get('/nope');
  t.equal(missing.status, 404);
  t.match(await missing.json(), { error: { code: 'sluice_admin_not_found' } });
  const post = await get('/metrics', { method: 'POST', body: 'x' });
  t.equal(post.status, 405);
  t.equal(post.headers.get('allow'), 'GET');
  t.match(await post.json(), { error: { code: 'sluice_admin_method_not_allowed' } });
  const del = await get('/healthz', { method: 'DELETE' });
  t.equal(del.status, 405);
  t.equal(del.headers.get('allow'), 'GET, HEAD');
  t.equal((await get('/healthz?probe=1')).status, 200, 'a query string does not change the path');
});

t.test('promtool check metrics passes on a real scrape', { skip: promtoolMissing }, async (t) => {
  const { get, telemetry } = await start(t);
  const { metrics } = telemetry;
  const labels = { route: 'chat', upstream: 'openai', method: 'POST', code: '200' };
  metrics.requests.inc(labels);
  metrics.requestDuration.observe(labels, 1.2);
  metrics.overhead.observe({ route: 'chat' }, 0.0004);
  metrics.stageDuration.observe({ route: 'chat', stage: 'upstream' }, 1.1);
  metrics.upstreamTimeToHeaders.observe({ upstream: 'openai', code: '200' }, 0.4);
  metrics.upstreamDuration.observe({ upstream: 'openai', code: '200' }, 1.1);
  metrics.upstreamPoolWait.observe({ upstream: 'openai' }, 0.002);
  metrics.upstreamErrors.inc({ upstream: 'openai', error: 'upstream_connect_failed' });
  metrics.configReloads.inc({ result: 'success' });
  metrics.configLastReloadSuccess.setToCurrentTime();
  metrics.configLastReloadSuccessful.set(1);

  const scrape = await (await get('/metrics')).text();
  const check = promtool(['check', 'metrics'], scrape);
  t.equal(check.status, 0, 'promtool exits 0');
  t.equal(check.output, '', 'promtool reports no lint problems');
});
