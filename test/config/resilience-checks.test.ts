/** The resilience settings' config checks: each points at the key or value, with file:line:col. */
import t from 'tap';
import { parseConfig } from '../../src/config/load.ts';
import { brief, issuesOf } from './helpers.ts';

const lines = (...l: string[]) => `${l.join('\n')}\n`;

t.test('an upstream takes url or targets; target names are unique and URLs usable', async (t) => {
  const issues = issuesOf(
    lines(
      'upstreams:', //                                          1
      '  both:', //                                             2
      '    url: http://a', //                                   3
      '    targets: [{ name: x, url: http://x }]', //            4
      '  neither: {}', //                                       5
      '  group:', //                                            6
      '    targets:', //                                        7
      '      - { name: a, url: http://a }', //                  8
      '      - { name: a, url: "http://b?x=1" }', //            9
      'routes:',
      '  - { name: r, upstream: group }',
    ),
  );
  t.same(issues.map(brief), [
    '4:5 upstreams.both.targets: give either url or targets, not both',
    '5:3 upstreams.neither: needs url (one backend) or targets (several)',
    '9:17 upstreams.group.targets[1].name: duplicate target name (also targets[0])',
    '9:25 upstreams.group.targets[1].url: must not have a query or fragment (it is a base URL for paths)',
  ]);
});

t.test(
  'failover names other known upstreams; two-key ranges hold; bad values are schema errors',
  async (t) => {
    const issues = issuesOf(
      lines(
        'upstreams:', //                                                   1
        '  main:', //                                                      2
        '    url: http://a', //                                            3
        '    breaker: { window_ms: 5, window_buckets: 10 }', //            4
        '    outlier_detection: { base_ejection_ms: 9000, max_ejection_ms: 10 }', // 5
        '  backup: { url: http://b }', //                                  6
        'routes:', //                                                      7
        '  - name: r', //                                                  8
        '    upstream: main', //                                           9
        '    failover: [main, bakcup]', //                                 10
        '    retry: { base_delay_ms: 500, max_delay_ms: 100, attempts: 0 }', // 11
        '    hedge: { quantile: 1.5 }', //                                 12
      ),
    );
    t.same(issues.map(brief), [
      '4:27 upstreams.main.breaker.window_ms: must be at least window_buckets (10)',
      '5:67 upstreams.main.outlier_detection.max_ejection_ms: must be at least base_ejection_ms (9000)',
      '10:16 routes[0].failover[0]: "main" is the route\'s own upstream; list the ones tried after it',
      '10:22 routes[0].failover[1]: unknown upstream "bakcup" (did you mean "backup"?); upstreams are: main, backup',
      '11:48 routes[0].retry.max_delay_ms: must be at least base_delay_ms (500)',
      '11:63 routes[0].retry.attempts: must be an integer between 1 and 10, got 0',
      '12:24 routes[0].hedge.quantile: must be a number < 1, got 1.5',
    ]);
  },
);

t.test('a group of targets gets its defaults', async (t) => {
  const { config } = parseConfig(
    lines(
      'upstreams:',
      '  group:',
      '    targets: [{ name: a, url: http://a }, { name: b, url: http://b, weight: 3 }]',
      'routes:',
      '  - { name: r, upstream: group, retry: {} }',
    ),
    'sluice.yaml',
    {},
  );
  const group = config.upstreams['group']!;
  t.match(group.targets, [
    { name: 'a', weight: 1, priority: 0, models: {} },
    { name: 'b', weight: 3 },
  ]);
  t.same(group.balance.strategy, 'weighted-round-robin');
  t.same(group.retry_budget, { ratio: 0.2, min_retries_per_second: 1, window_ms: 10000 });
  t.equal(group.breaker, undefined, 'no breaker unless configured');
  t.match(config.routes[0]!.retry, { attempts: 3, statuses: [502, 503, 504], rate_limited: true });
});
