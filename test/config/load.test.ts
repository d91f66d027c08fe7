import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ConfigError } from '../../src/config/errors.ts';
import { loadConfig, parseConfig } from '../../src/config/load.ts';
import { brief, minimal } from './helpers.ts';

const example = new URL('../../config/sluice.example.yaml', import.meta.url).pathname;

t.test('defaults fill every key not written', async (t) => {
  const { config, file } = parseConfig(minimal, 'min.yaml', {});
  t.equal(file, 'min.yaml');
  t.same(config.listener, {
    host: '0.0.0.0',
    port: 8080,
    max_body_bytes: 10485760,
    max_header_bytes: 16384,
    headers_timeout_ms: 10000,
    request_timeout_ms: 60000,
    keep_alive_timeout_ms: 5000,
    trusted_hops: 0,
    server_timing: true,
  });
  t.same(config.admin, { enabled: true, host: '127.0.0.1', port: 9464, token: '' });
  t.match(config.upstreams['main'], {
    url: 'http://127.0.0.1:9000',
    api_key: '',
    api_key_header: 'authorization',
    headers: {},
    timeouts: { connect_ms: 5000, headers_ms: 300000, body_idle_ms: 300000 },
    pool: { connections: 128, keep_alive_timeout_ms: 30000 },
    tls: { reject_unauthorized: true },
    prices: [],
  });
  t.same(config.routes[0], {
    name: 'all',
    upstream: 'main',
    match: {},
    protocol: 'passthrough',
    websocket: false,
    ensure_stream_usage: false,
    dedupe: false,
  });
  t.same(config.cache, { l1_max_bytes: 67108864, max_entry_bytes: 4194304 });
  t.match(config.llm, { accounting: true, max_model_labels: 200, prices: [] });
  t.ok(config.llm.model_labels.includes('claude-*'), 'well-known model families are labelled by default');
  t.same(config.reload, { watch: false, debounce_ms: 250 });
  t.same(config.shutdown, { drain_timeout_ms: 30000 });
  t.equal(config.telemetry.log_level, 'info');
});

t.test('defaults are not shared between configs or upstreams', async (t) => {
  const two = minimal.replace('upstreams:', 'upstreams:\n  other: { url: http://x }');
  const { config } = parseConfig(two, 'a.yaml', {});
  t.not(config.upstreams['main']?.headers, config.upstreams['other']?.headers);
  t.not(parseConfig(minimal, 'a.yaml', {}).config.telemetry.redact_headers, config.telemetry.redact_headers);
});

t.test('the effective config is deep-frozen', async (t) => {
  const loaded = parseConfig(minimal, 'a.yaml', {});
  const { config } = loaded;
  t.ok(Object.isFrozen(loaded));
  for (const part of [
    config,
    config.listener,
    config.upstreams,
    config.upstreams['main'],
    config.routes,
    config.routes[0]?.match,
    config.telemetry.redact_headers,
  ]) {
    t.ok(Object.isFrozen(part));
  }
  t.throws(() => {
    (config.listener as { port: number }).port = 1;
  }, TypeError);
});

t.test('the example config is valid, with and without its environment variables', async (t) => {
  const { config } = await loadConfig(example, {});
  t.equal(config.listener.port, 8080);
  t.equal(config.admin.port, 9464);
  t.equal(config.upstreams['openai']?.url, 'mock://local');
  t.equal(config.upstreams['openai']?.api_key, '');
  t.same(
    config.routes.map((r) => [r.name, r.protocol, r.upstream]),
    [
      ['anthropic-messages', 'anthropic', 'openai'],
      ['openai', 'openai', 'openai'],
    ],
  );
  t.equal(config.routes[1]?.websocket, true);
  const env = {
    SLUICE_PORT: '18080',
    SLUICE_ADMIN_PORT: '19464',
    SLUICE_UPSTREAM_URL: 'https://api.openai.com',
    SLUICE_UPSTREAM_API_KEY: 'sk-1',
  };
  const custom = (await loadConfig(example, env)).config;
  t.equal(custom.listener.port, 18080);
  t.equal(custom.admin.port, 19464);
  t.match(custom.upstreams['openai'], { url: 'https://api.openai.com', api_key: 'sk-1' });
  const text = readFileSync(example, 'utf8');
  t.match(text.split('\n')[0], /^# yaml-language-server: \$schema=\.\/schema\.json$/);
  const variables = new Set([...text.replace(/^\s*#.*$/gm, '').matchAll(/\$\{([A-Z_]+)/g)].map((m) => m[1]));
  t.same([...variables].sort(), [
    'SLUICE_ADMIN_PORT',
    'SLUICE_PORT',
    'SLUICE_UPSTREAM_API_KEY',
    'SLUICE_UPSTREAM_URL',
  ]);
});

t.test('TLS files are resolved against the config directory and must be readable', async (t) => {
  const dir = t.testdir({ certs: { 'ca.pem': 'not really a cert' }, nested: {} });
  const tlsConfig = (caFile: string) =>
    minimal.replace('url: http://127.0.0.1:9000', `url: https://x\n    tls:\n      ca_file: ${caFile}`);
  const good = join(dir, 'good.yaml');
  writeFileSync(good, tlsConfig('certs/ca.pem'));
  t.equal((await loadConfig(good, {})).config.upstreams['main']?.tls.ca_file, join(dir, 'certs/ca.pem'));

  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, tlsConfig('certs/missing.pem'));
  const error = (await loadConfig(bad, {}).catch((e: unknown) => e)) as ConfigError;
  t.type(error, ConfigError);
  t.same(error.issues.map(brief), [
    `5:16 upstreams.main.tls.ca_file: "${join(dir, 'certs/missing.pem')}" does not exist`,
  ]);

  writeFileSync(bad, tlsConfig('nested'));
  const dirError = (await loadConfig(bad, {}).catch((e: unknown) => e)) as ConfigError;
  t.match(dirError.issues[0]?.message, /is not a regular file$/);

  t.doesNotThrow(
    () => parseConfig(tlsConfig('certs/missing.pem'), bad, {}),
    'parseConfig does not touch the disk',
  );
});

t.test('a file that cannot be read is a plain error naming it', async (t) => {
  const error = (await loadConfig('/nonexistent/sluice.yaml', {}).catch((e: unknown) => e)) as Error;
  t.notOk(error instanceof ConfigError);
  t.match(error.message, /^cannot read config file \/nonexistent\/sluice\.yaml: ENOENT/);
});
