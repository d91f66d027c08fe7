import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parse, stringify } from 'yaml';
import { series } from '../../src/ascode/alert-definition.ts';
import { alertNames } from '../../src/ascode/alert-names.ts';
import { alertTests } from '../../src/ascode/alerts.ts';
import { generateFiles, staleFiles, writeFiles } from '../../src/ascode/generate.ts';
import { profiles } from '../../src/ascode/profile.ts';
import { metric } from '../../src/ascode/promql.ts';
import type { PromtoolTestCase, RuleGroup } from '../../src/ascode/rule-model.ts';
import { loadConfig, parseConfig } from '../../src/config/load.ts';
import { promtool, promtoolMissing } from '../support/promtool.ts';
import { withResilience } from '../support/resilience-config.ts';

/**
 * Every knob the generators read: overrides, a throughput floor, a disabled alert, both SLI kinds,
 * a cached route with both cache tiers, a route with two rate-limit policies (one in Redis), and
 * concurrency limiters on a route and an upstream, a compressing route; and (see below) breakers, retries and hedges.
 */
const fixture = `
upstreams:
  openai: { url: "http://127.0.0.1:9001" }
  vllm: { url: "http://127.0.0.1:9002", concurrency: { max_in_flight: 8 } }
routes:
  - name: chat
    upstream: openai
    protocol: openai
    cache: { ttl_seconds: 60 }
    concurrency: { max_in_flight: 16 }
    rate_limits:
      - { name: per-key, limit: 60, window_seconds: 60, store: redis }
      - { name: tokens, unit: tokens, limit: 100000, window_seconds: 60 }
  - { name: local, upstream: vllm, protocol: openai, match: { path_prefix: /local/ }, compression: {} }
cache:
  redis: { url: "redis://127.0.0.1:6379" }
limits:
  redis: { url: "redis://127.0.0.1:6379" }
alerts:
  selector: 'job="sluice-test",env="ci"'
  runbook_url: https://runbooks.example.com/{alert}
  disabled: [SluiceMemoryHigh]
  cache_l2_error_ratio: 0.1
  rate_limit_min_requests_per_second: 0.5
  routes:
    chat:
      error_ratio: 0.01
      latency_p95_seconds: 30
      min_requests_per_second: 0.5
      cache_l1_hit_ratio: 0.8
      rate_limit_rejection_ratio: 0.2
      concurrency_queue_wait_p95_seconds: 2.5
    local: { compression_ratio: 0.7 }
  upstreams:
    vllm: { error_ratio: 0.2, pool_utilization: 0.5, pool_wait_p95_seconds: 0.5, concurrency_queue_depth: 20 }
slos:
  - { name: chat-availability, route: chat, sli: availability, objective: 99.9 }
  - { name: local-latency, route: local, sli: latency, objective: 95, latency_threshold_seconds: 10, period_days: 28 }
`;

/** Resilience on the vllm upstream (two targets) and the chat route, added after validation. */
const config = withResilience(parseConfig(fixture, 'fixture.yaml', {}).config, {
  upstreams: { vllm: ['gpu-a', 'gpu-b'] },
  routes: { chat: { hedge: true } },
});
const options = { target: 'rules', profile: 'production', configName: 'fixture.yaml' } as const;

async function generatedInto(files: Map<string, string>) {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-rules-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFiles(dir, files);
  return dir;
}

function groupsOf(text: string): RuleGroup[] {
  return (parse(text) as { groups: RuleGroup[] }).groups;
}

t.test('every alert of the fixture config has a case that fires and one that stays silent', async (t) => {
  const ctx = { config, profile: profiles.production };
  const tested = alertTests(ctx);
  const names = tested.map((entry) => entry.alert);
  t.notOk(names.includes('SluiceMemoryHigh'), 'a disabled alert is not generated');
  for (const name of alertNames.filter((n) => n !== 'SluiceMemoryHigh' && !n.startsWith('SluiceSlo')))
    t.ok(names.includes(name), `${name} is generated`);
  for (const { alert, cases } of tested) {
    const outcomes = cases.flatMap((testCase: PromtoolTestCase) =>
      testCase.alert_rule_test.map((check) => check.exp_alerts.length > 0),
    );
    t.ok(outcomes.includes(true), `${alert}: a case where it fires`);
    t.ok(outcomes.includes(false), `${alert}: a case where it stays silent`);
  }
});

t.test(
  'the generated rules pass promtool check and their generated unit tests',
  { skip: promtoolMissing },
  async (t) => {
    const files = generateFiles(config, options);
    const dir = await generatedInto(files);
    const check = promtool([
      'check',
      'rules',
      join(dir, 'rules/sluice.rules.yaml'),
      join(dir, 'rules/sluice.slo.rules.yaml'),
    ]);
    t.equal(check.status, 0, check.output);
    t.notMatch(check.output, /duplicate|warning/i, 'no lint findings');
    for (const test of ['rules/tests/sluice.rules.test.yaml', 'rules/tests/sluice.slo.rules.test.yaml']) {
      const run = promtool(['test', 'rules', join(dir, test)]);
      t.equal(run.status, 0, `${test}\n${run.output}`);
    }
    const slo = groupsOf(files.get('rules/sluice.slo.rules.yaml')!);
    t.same(
      slo.map((group) => group.name),
      [
        'sluice-slo-sli-recordings-chat-availability',
        'sluice-slo-meta-recordings-chat-availability',
        'sluice-slo-alerts-chat-availability',
        'sluice-slo-sli-recordings-local-latency',
        'sluice-slo-meta-recordings-local-latency',
        'sluice-slo-alerts-local-latency',
      ],
    );
    const windows = slo[0]!.rules.map((rule) => ('record' in rule ? rule.record : ''));
    t.same(windows, [
      'slo:sli_error:ratio_rate5m',
      'slo:sli_error:ratio_rate30m',
      'slo:sli_error:ratio_rate1h',
      'slo:sli_error:ratio_rate2h',
      'slo:sli_error:ratio_rate6h',
      'slo:sli_error:ratio_rate1d',
      'slo:sli_error:ratio_rate3d',
      'slo:sli_error:ratio_rate30d',
    ]);
    t.match(slo[3]!.rules.at(-1), { record: 'slo:sli_error:ratio_rate28d' }, 'the period is the SLO’s own');
  },
);

t.test(
  'the unit tests catch a wrong rule: a threshold raised tenfold fails them',
  { skip: promtoolMissing },
  async (t) => {
    const files = generateFiles(config, options);
    const rules = files.get('rules/sluice.rules.yaml')!;
    t.match(rules, /> 0\.01\n/, 'the chat route’s 1 % error ratio is in the rules');
    files.set('rules/sluice.rules.yaml', rules.replace('> 0.01\n', '> 0.1\n'));
    const dir = await generatedInto(files);
    const run = promtool(['test', 'rules', join(dir, 'rules/tests/sluice.rules.test.yaml')]);
    t.not(run.status, 0, 'promtool test rules fails');
    t.match(run.output, /SluiceRouteErrorRatioHigh/, 'and names the alert');
  },
);

t.test('cache rules exist only for the tiers the config caches in', async (t) => {
  const cacheRules = (yaml: string) => {
    const { config: parsed } = parseConfig(yaml, 'cache.yaml', {});
    return groupsOf(generateFiles(parsed, options).get('rules/sluice.rules.yaml')!)
      .flatMap((group) => group.rules)
      .map((rule) => ('alert' in rule ? rule.alert : rule.record))
      .filter((name) => /cache/i.test(name));
  };
  const config = (route: string, cache = '') =>
    `upstreams: { openai: { url: "http://127.0.0.1:9001" } }\nroutes:\n  - { name: chat, upstream: openai, protocol: openai${route} }\n${cache}`;
  const cached = ', cache: { ttl_seconds: 60 }';
  t.same(cacheRules(config('')), [], 'no cached route: none');
  t.same(cacheRules(config(', dedupe: true')), [], 'dedupe alone stores nothing that could hit');
  t.same(
    cacheRules(config(cached)),
    [
      'route_tier_result:sluice_cache_lookups:rate5m',
      'route:sluice_cache_l1_hits:ratio_rate5m',
      'route:sluice_cache_hits:ratio_rate5m',
      'SluiceCacheL1HitRatioLow',
      'SluiceCacheL1Full',
    ],
    'L1 only: no L2 rule, and no either-tier alert repeating the L1 one',
  );
  t.same(
    cacheRules(config(cached, 'cache: { l1_max_bytes: 0, redis: { url: "redis://127.0.0.1:6379" } }\n')),
    [
      'route_tier_result:sluice_cache_lookups:rate5m',
      'route:sluice_cache_l2_hits:ratio_rate5m',
      'route:sluice_cache_hits:ratio_rate5m',
      'SluiceCacheL2HitRatioLow',
      'SluiceCacheL2Failing',
    ],
    'L2 only',
  );
});

t.test(
  'cache hit ratios: per tier, without bypasses and coalesced requests, and none for a route without lookups',
  { skip: promtoolMissing },
  async (t) => {
    const dir = await generatedInto(generateFiles(config, options));
    const lookups = (route: string, tier: string, result: string, values: string) => ({
      series: series(metric('cacheLookups'), { job: 'sluice-test', env: 'ci', route, tier, result }),
      values,
    });
    const ratios = (record: string, busy: number) => ({
      expr: record,
      eval_time: '10m',
      exp_samples: [
        { labels: `${record}{route="busy"}`, value: busy },
        { labels: `${record}{route="cold"}`, value: 0 },
      ],
    });
    const test = {
      rule_files: [join(dir, 'rules/sluice.rules.yaml')],
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series: [
            lookups('busy', 'l1', 'hit', '0+30x20'),
            lookups('busy', 'l2', 'hit', '0+15x20'),
            lookups('busy', 'none', 'miss', '0+15x20'),
            lookups('busy', 'none', 'bypass', '0+100x20'),
            lookups('busy', 'none', 'coalesced', '0+50x20'),
            lookups('cold', 'none', 'miss', '0+60x20'),
            lookups('idle', 'none', 'miss', '5x20'),
          ],
          promql_expr_test: [
            ratios('route:sluice_cache_l1_hits:ratio_rate5m', 0.5),
            ratios('route:sluice_cache_l2_hits:ratio_rate5m', 0.5),
            ratios('route:sluice_cache_hits:ratio_rate5m', 0.75),
          ],
        },
      ],
    };
    const file = join(dir, 'cache-ratios.test.yaml');
    await writeFile(file, stringify(test));
    const run = promtool(['test', 'rules', file]);
    t.equal(run.status, 0, run.output);
  },
);

t.test(
  'the test profile divides every window and for: by 30 and still passes promtool check',
  { skip: promtoolMissing },
  async (t) => {
    const files = generateFiles(config, { ...options, profile: 'test' });
    const rules = files.get('rules/sluice.rules.yaml')!;
    t.match(rules, /\[10s\]/, '5m windows become 10s');
    t.notMatch(rules, /\[5m\]/);
    t.match(rules, /for: 10s/, 'for: 5m becomes 10s');
    t.match(files.get('rules/sluice.slo.rules.yaml')!, /\[1d\]/, 'the 30-day period becomes 1 day');
    const dir = await generatedInto(files);
    const check = promtool([
      'check',
      'rules',
      join(dir, 'rules/sluice.rules.yaml'),
      join(dir, 'rules/sluice.slo.rules.yaml'),
    ]);
    t.equal(check.status, 0, check.output);
  },
);

t.test('alerts follow the monitoring-mixins conventions', async (t) => {
  const files = generateFiles(config, options);
  const alerts = [
    ...groupsOf(files.get('rules/sluice.rules.yaml')!),
    ...groupsOf(files.get('rules/sluice.slo.rules.yaml')!),
  ].flatMap((group) => group.rules.filter((rule) => 'alert' in rule));
  t.ok(alerts.length >= 13);
  for (const alert of alerts) {
    t.match(alert.alert, /^Sluice[A-Z][A-Za-z0-9]+$/);
    t.match(alert.labels.severity, /^(critical|warning|info)$/);
    t.match(alert.annotations.summary, /^[^{}$]+\.$/, `${alert.alert}: static summary ending in a full stop`);
    t.match(alert.annotations.description, /\{\{ \$labels\./, `${alert.alert}: templated description`);
    t.equal(alert.annotations.runbook_url, `https://runbooks.example.com/${alert.alert}`);
    // SLO alerts read the SLO recordings, which carry the selector themselves.
    if (!alert.alert.startsWith('SluiceSlo'))
      t.match(alert.expr, /job="sluice-test",env="ci"/, `${alert.alert}: the config's selector`);
  }
  const sli = groupsOf(files.get('rules/sluice.slo.rules.yaml')!)[0]!.rules[0]!;
  t.match(sli.expr, /job="sluice-test",env="ci"/, 'SLI recordings: the config’s selector');
});

t.test(
  'the checked-in files are what the example config generates, and pass promtool',
  { skip: promtoolMissing },
  async (t) => {
    const { config: example } = await loadConfig('config/sluice.example.yaml');
    const files = generateFiles(example, {
      target: 'all',
      profile: 'production',
      configName: 'sluice.example.yaml',
    });
    t.same(await staleFiles('.', files), [], 'run: node cmd/sluice.ts generate');
    const check = promtool(['check', 'rules', 'rules/sluice.rules.yaml', 'rules/sluice.slo.rules.yaml']);
    t.equal(check.status, 0, check.output);
    for (const test of ['rules/tests/sluice.rules.test.yaml', 'rules/tests/sluice.slo.rules.test.yaml']) {
      const run = promtool(['test', 'rules', test]);
      t.equal(run.status, 0, `${test}\n${run.output}`);
    }
    const kubernetes = parse(await readFile('rules/kubernetes/sluice.prometheusrule.yaml', 'utf8')) as {
      kind: string;
      spec: { groups: RuleGroup[] };
    };
    t.equal(kubernetes.kind, 'PrometheusRule');
    const plain = [
      ...groupsOf(files.get('rules/sluice.rules.yaml')!),
      ...groupsOf(files.get('rules/sluice.slo.rules.yaml')!),
    ];
    t.same(kubernetes.spec.groups, plain, 'the PrometheusRule holds the same groups');
  },
);
