/**
 * Traffic-control settings that are wrong are config errors naming line:col and the key path:
 * adaptive bounds, priority classes, rate-limit policies (values, key sources, stores, names, units).
 */
import t from 'tap';
import { parseConfig } from '../../src/config/load.ts';
import { brief, issuesOf, minimal } from './helpers.ts';

const lines = (...l: string[]) => `${l.join('\n')}\n`;

/** `minimal` plus a route body (indented under `routes[0]`). */
const route = (...l: string[]) => minimal + lines(...l.map((line) => `    ${line}`));

t.test('adaptive concurrency: min_limit above max_limit', async (t) => {
  const issues = issuesOf(
    route(
      'concurrency:', //               7
      '  max_in_flight: 4', //         8
      '  adaptive:', //                9
      '    algorithm: aimd', //        10
      '    min_limit: 10', //          11
      '    max_limit: 5', //           12
    ),
  );
  t.same(issues.map(brief), ['11:9 routes[0].concurrency.adaptive.min_limit: 10 is above max_limit (5)']);
});

t.test('adaptive concurrency: max_in_flight (the starting limit) outside min..max', async (t) => {
  const upstream = lines(
    'upstreams:',
    '  main:',
    '    url: http://127.0.0.1:9000',
    '    concurrency:',
    '      max_in_flight: 50', //                                          5
    '      adaptive: { algorithm: gradient, min_limit: 2, max_limit: 20 }',
    'routes:',
    '  - name: all',
    '    upstream: main',
  );
  t.same(issuesOf(upstream).map(brief), [
    '5:7 upstreams.main.concurrency.max_in_flight: the adaptive limit starts here, so it must lie within min_limit..max_limit (2..20)',
  ]);
  // With the default bounds (1..1000), a start above 1000 is out of range.
  const onRoute = issuesOf(
    route(
      'concurrency:', //                 7
      '  max_in_flight: 1001', //        8
      '  adaptive: { algorithm: aimd }',
    ),
  );
  t.same(onRoute.map(brief), [
    '8:7 routes[0].concurrency.max_in_flight: the adaptive limit starts here, so it must lie within min_limit..max_limit (1..1000)',
  ]);
});

t.test('a priority class that limits.priority_classes does not list', async (t) => {
  const issues = issuesOf(
    lines(
      'limits:',
      '  priority_classes: [high, low]',
      'upstreams:',
      '  main:',
      '    url: http://127.0.0.1:9000',
      'routes:',
      '  - name: all',
      '    upstream: main',
      '    concurrency: { max_in_flight: 4 }',
      '    priority:',
      '      class: interactive', //   11
      '      header: x-priority',
      '      header_classes:',
      '        urgent: high',
      '        later: batch', //       15
    ),
  );
  t.same(issues.map(brief), [
    '11:14 routes[0].priority.class: "interactive" is not a priority class (limits.priority_classes: high, low)',
    '15:16 routes[0].priority.header_classes.later: "batch" is not a priority class (limits.priority_classes: high, low)',
  ]);
  // Without limits.priority_classes the defaults apply.
  t.same(issuesOf(route('concurrency: { max_in_flight: 4 }', 'priority: { class: urgent }')).map(brief), [
    '8:24 routes[0].priority.class: "urgent" is not a priority class (limits.priority_classes: interactive, default, batch)',
  ]);
  t.same(issuesOf(route('priority: { class: batch }')).map(brief), [
    '7:5 routes[0].priority: orders concurrency queues, but neither this route nor its upstream has concurrency',
  ]);
  t.same(
    issuesOf(
      route('concurrency: { max_in_flight: 4 }', 'priority: { header_classes: { high: interactive } }'),
    ).map(brief),
    ['8:17 routes[0].priority.header_classes: needs priority.header: the header whose values it maps'],
  );
});

t.test('rate-limit policies: bad values, key sources, stores, names and units', async (t) => {
  t.same(
    issuesOf(route('rate_limits:', '  - name: p', '    limit: -5', '    window_seconds: 60')).map(brief),
    ['9:16 routes[0].rate_limits[0].limit: must be a number > 0, got -5'],
    'negative limit',
  );
  t.same(
    issuesOf(route('rate_limits:', '  - { name: p, limit: 5, window_seconds: 0 }')).map(brief),
    ['8:46 routes[0].rate_limits[0].window_seconds: must be a number > 0, got 0'],
    'zero window',
  );
  t.same(
    issuesOf(
      route(
        'rate_limits:',
        '  - name: p',
        '    key: [credential, cookie]',
        '    limit: 5',
        '    window_seconds: 60',
      ),
    ).map(brief),
    [
      '9:27 routes[0].rate_limits[0].key[1]: must be one of credential, client_ip, route, model or header:<name>, got "cookie"',
    ],
    'unknown key source',
  );
  t.same(
    issuesOf(route('rate_limits:', '  - { name: p, limit: 5, window_seconds: 60, store: redis }')).map(brief),
    ['8:50 routes[0].rate_limits[0].store: redis needs limits.redis: the replicas share it'],
    'store: redis without limits.redis',
  );
  t.same(
    issuesOf(
      route(
        'rate_limits:',
        '  - { name: p, limit: 5, window_seconds: 60 }',
        '  - { name: p, limit: 50, window_seconds: 3600 }',
      ),
    ).map(brief),
    ['9:11 routes[0].rate_limits[1].name: "p" is already a policy of this route'],
    'duplicate policy names',
  );
  t.same(
    issuesOf(
      route('rate_limits:', '  - name: p', '    unit: tokens', '    limit: 5000', '    window_seconds: 60'),
    ).map(brief),
    [
      '9:9 routes[0].rate_limits[0].unit: tokens are read from the request and the usage the provider reports: they need protocol openai or anthropic and llm.accounting',
    ],
    'unit: tokens on a passthrough route',
  );
  t.same(
    issuesOf(
      `llm: { accounting: false }\n${route('protocol: openai', 'rate_limits:', '  - { name: p, unit: tokens, limit: 5, window_seconds: 60 }')}`,
    ).map(brief),
    [
      '10:20 routes[0].rate_limits[0].unit: tokens are read from the request and the usage the provider reports: they need protocol openai or anthropic and llm.accounting',
    ],
    'unit: tokens with llm.accounting off',
  );
  t.same(
    issuesOf(
      route('rate_limits:', '  - { name: p, key: [model], limit: 5, window_seconds: 60, burst: 9 }'),
    ).map(brief),
    [
      '8:20 routes[0].rate_limits[0].key: model is read from the request body: it needs protocol openai or anthropic',
      '8:64 routes[0].rate_limits[0].burst: applies to algorithm: token_bucket only',
    ],
    'key model on passthrough, burst without token_bucket',
  );
});

t.test('the same settings, valid, load', async (t) => {
  const config = parseConfig(
    lines(
      'limits:',
      '  priority_classes: [high, low]',
      'upstreams:',
      '  main:',
      '    url: http://127.0.0.1:9000',
      '    concurrency: { max_in_flight: 20, adaptive: { algorithm: gradient, min_limit: 2, max_limit: 20 } }',
      'routes:',
      '  - name: all',
      '    upstream: main',
      '    protocol: openai',
      '    priority: { class: low, header: x-priority, header_classes: { urgent: high } }',
      '    concurrency: { max_in_flight: 4, queue: { max_size: 0 } }',
      '    rate_limits:',
      '      - { name: p, key: [credential, model], unit: tokens, limit: 5000, window_seconds: 60 }',
      '      - { name: q, algorithm: token_bucket, limit: 5, burst: 10, window_seconds: 1 }',
    ),
    'test.yaml',
    {},
  );
  const [first] = config.config.routes;
  t.match(first?.concurrency, { max_in_flight: 4, queue: { max_size: 0, timeout_ms: 10000 } });
  t.equal(first?.rate_limits?.[1]?.store, 'memory');
});
