import t from 'tap';
import { parseConfig } from '../../src/config/load.ts';
import { brief, issuesOf } from '../config/helpers.ts';

const lines = (...text: string[]) => `${text.join('\n')}\n`;

t.test('cache needs an LLM route; Redis takes one topology', async (t) => {
  const text = lines(
    'upstreams:',
    '  main: { url: "http://127.0.0.1:9000" }',
    'routes:',
    '  - name: files',
    '    upstream: main',
    '    cache: { ttl_seconds: 60 }', //                                   6
    'cache:',
    '  redis:', //                                                         8
    '    url: redis://127.0.0.1:6379',
    '    cluster: [{ host: 127.0.0.1, port: 7000 }]',
    '    sentinel_name: main', //                                          11
  );
  t.same(issuesOf(text).map(brief), [
    '6:5 routes[0].cache: caches LLM answers, so it needs protocol: openai or anthropic (use dedupe: true to share identical calls in flight)',
    '8:3 cache.redis: give one of url, sentinels or cluster, not url and cluster',
    '11:5 cache.redis.sentinel_name: sentinels and sentinel_name go together',
  ]);
});

t.test('dedupe and http_cache do not mix', async (t) => {
  const text = lines(
    'upstreams:',
    '  main: { url: "http://127.0.0.1:9000" }',
    'routes:',
    '  - name: models',
    '    upstream: main',
    '    http_cache: {}',
    '    dedupe: true', //                                                   7
  );
  t.same(issuesOf(text).map(brief), [
    '7:5 routes[0].dedupe: cannot be combined with http_cache: requests that differ only in a Vary header would share one answer',
  ]);
});

t.test('a route cache gets its defaults; dedupe is off unless asked for', async (t) => {
  const { config } = parseConfig(
    lines(
      'upstreams:',
      '  main: { url: "http://127.0.0.1:9000" }',
      'routes:',
      '  - { name: chat, upstream: main, protocol: openai, cache: { ttl_seconds: 60 } }',
    ),
    'test.yaml',
    {},
  );
  t.same(config.routes[0]?.cache, {
    ttl_seconds: 60,
    ignore_fields: ['user', 'metadata'],
    when: {},
    follower_retry: false,
    allow_client_bypass: true,
  });
  t.equal(config.routes[0]?.dedupe, false);
});

t.test('across_replicas needs cache.redis, and a wait within (0, 600] seconds', async (t) => {
  const route = (across: string) =>
    lines(
      'upstreams:',
      '  main: { url: "http://127.0.0.1:9000" }',
      'routes:',
      '  - name: chat',
      '    upstream: main',
      '    protocol: openai',
      '    cache:',
      '      ttl_seconds: 60',
      `      across_replicas: ${across}`, //                                   9
    );
  t.same(issuesOf(route('{}')).map(brief), [
    '9:7 routes[0].cache.across_replicas: needs cache.redis: the replicas find each other through it',
  ]);
  const withRedis = (across: string) =>
    `${route(across)}cache:\n  redis: { url: "redis://127.0.0.1:6379" }\n`;
  t.match(issuesOf(withRedis('{ wait_seconds: 0 }')).map(brief), [
    /^9:\d+ routes\[0\]\.cache\.across_replicas\.wait_seconds: /,
  ]);
  t.match(issuesOf(withRedis('{ wait_seconds: 601 }')).map(brief), [
    /^9:\d+ routes\[0\]\.cache\.across_replicas\.wait_seconds: /,
  ]);
  t.same(parseConfig(withRedis('{}'), 'test.yaml', {}).config.routes[0]?.cache?.across_replicas, {
    wait_seconds: 30,
  });
  t.same(
    parseConfig(withRedis('{ wait_seconds: 0.5 }'), 'test.yaml', {}).config.routes[0]?.cache?.across_replicas,
    { wait_seconds: 0.5 },
  );
});
