/** Pools across reloads: kept while what they are built from is unchanged, closed when unused. */
import t from 'tap';
import { parseConfig } from '../../src/config/load.ts';
import type { UpstreamConfig } from '../../src/config/types.generated.ts';
import { UpstreamRegistry } from '../../src/server/generation.ts';

function upstream(lines: string[]) {
  const text = [
    'upstreams:',
    '  u:',
    ...lines.map((line) => `    ${line}`),
    'routes:',
    '  - { name: r, upstream: u }',
  ];
  const config = parseConfig(text.join('\n'), 'test.yaml', {}).config.upstreams['u'] as UpstreamConfig;
  return { config, target: config.targets![0]! };
}

t.test('a target keeps its pool when only its weight, key or mapping changes', async (t) => {
  const registry = new UpstreamRegistry();
  const before = upstream(['targets: [{ name: a, url: "http://127.0.0.1:1/v1", weight: 1 }]']);
  const after = upstream([
    'targets: [{ name: a, url: "http://127.0.0.1:1/v2", weight: 5, api_key: k, models: { x: y } }]',
  ]);
  const slower = upstream([
    'timeouts: { connect_ms: 1 }',
    'targets: [{ name: a, url: "http://127.0.0.1:1" }]',
  ]);
  const first = registry.acquire('u', before.config, before.target, before.target.url);
  const second = registry.acquire('u', after.config, after.target, after.target.url);
  const third = registry.acquire('u', slower.config, slower.target, slower.target.url);
  t.equal(second.pool, first.pool, 'same origin and connection settings: same pool');
  t.equal(second.weight, 5, 'but the new runtime has the new settings');
  t.equal(second.basePath, '/v2');
  t.not(third.pool, first.pool, 'other timeouts: another pool');
  t.equal([...registry.all()].length, 2, 'one runtime per pool for the gauges');
  await registry.release(first);
  t.notOk(second.pool.closed, 'still used by the newer runtime');
  await registry.release(second);
  t.ok(first.pool.closed, 'closed once nothing uses it');
  await registry.release(third);
  t.ok(third.pool.closed);
});
