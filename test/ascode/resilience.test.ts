import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import type { RuleContext } from '../../src/ascode/alert-definition.ts';
import { queryPanels } from '../../src/ascode/dashboard-model.ts';
import { generateDashboards } from '../../src/ascode/dashboards.ts';
import { generateFiles, writeFiles } from '../../src/ascode/generate.ts';
import { profiles } from '../../src/ascode/profile.ts';
import type { RuleGroup } from '../../src/ascode/rule-model.ts';
import { parseConfig } from '../../src/config/load.ts';
import { promtool, promtoolMissing } from '../support/promtool.ts';
import { type ResilienceKeys, withResilience } from '../support/resilience-config.ts';

const yaml = `
upstreams:
  openai: { url: "http://127.0.0.1:9001" }
  vllm: { url: "http://127.0.0.1:9002" }
routes:
  - { name: chat, upstream: openai, protocol: openai }
  - { name: local, upstream: vllm, protocol: openai, match: { path_prefix: /local/ } }
alerts:
  selector: 'job="sluice-test"'
  upstreams:
    vllm: { breaker_trips_per_second: 0.02 }
`;
const base = parseConfig(yaml, 'resilience.yaml', {}).config;
const options = { target: 'all', profile: 'production', configName: 'resilience.yaml' } as const;
const resilienceAlerts = [
  'SluiceUpstreamBreakerOpen',
  'SluiceUpstreamBreakerFlapping',
  'SluiceUpstreamRetryBudgetExhausted',
  'SluiceRouteAllTargetsDown',
];
const everything: ResilienceKeys = {
  upstreams: { vllm: ['gpu-a', 'gpu-b'], openai: [] },
  routes: { chat: { hedge: true, failover: ['vllm'] }, local: {} },
};

function alertsOf(keys: ResilienceKeys): string[] {
  const files = generateFiles(withResilience(base, keys), options);
  const { groups } = parse(files.get('rules/sluice.rules.yaml')!) as { groups: RuleGroup[] };
  return groups
    .flatMap((group) => group.rules)
    .flatMap((rule) => ('alert' in rule && resilienceAlerts.includes(rule.alert) ? [rule.alert] : []));
}

async function generatedInto(files: Map<string, string>) {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-resilience-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFiles(dir, files);
  return dir;
}

t.test('resilience alerts exist only for what the config turns on', async (t) => {
  t.same(alertsOf({}), [], 'no breaker, no retry: none');
  t.same(
    alertsOf({ upstreams: { vllm: [] } }),
    ['SluiceUpstreamBreakerOpen', 'SluiceUpstreamBreakerFlapping', 'SluiceRouteAllTargetsDown'],
    'an upstream with a breaker: the target and route alerts',
  );
  t.same(
    alertsOf({ routes: { chat: {} } }),
    ['SluiceUpstreamRetryBudgetExhausted'],
    'a route that retries: the budget alert',
  );
  t.same(alertsOf(everything), resilienceAlerts);
});

t.test('per-upstream trip thresholds join the default in one rule', async (t) => {
  const files = generateFiles(withResilience(base, everything), options);
  const { groups } = parse(files.get('rules/sluice.rules.yaml')!) as { groups: RuleGroup[] };
  const flapping = groups
    .flatMap((group) => group.rules)
    .find((rule) => 'alert' in rule && rule.alert === 'SluiceUpstreamBreakerFlapping');
  t.match(flapping?.expr, /upstream!~"vllm"[^\n]*\n\s*> 0\.005/, 'the default excludes vllm');
  t.match(flapping?.expr, /upstream=~"vllm"[^\n]*\n\s*> 0\.02/, 'vllm has its own');
  t.match(flapping?.expr, /reason=~"error_rate\|slow_calls"/, 'only trips from closed count');
});

t.test(
  'the resilience rules pass promtool check and their generated tests, in both profiles',
  { skip: promtoolMissing },
  async (t) => {
    for (const profile of ['production', 'test'] as const) {
      const files = generateFiles(withResilience(base, everything), { ...options, profile });
      const dir = await generatedInto(files);
      const check = promtool(['check', 'rules', join(dir, 'rules/sluice.rules.yaml')]);
      t.equal(check.status, 0, `${profile}: ${check.output}`);
      t.notMatch(check.output, /duplicate|warning/i, 'no lint findings');
      if (profile === 'test') continue;
      const tests = files.get('rules/tests/sluice.rules.test.yaml')!;
      for (const name of resilienceAlerts) t.match(tests, `alertname: ${name}`, `${name} has cases`);
      const run = promtool(['test', 'rules', join(dir, 'rules/tests/sluice.rules.test.yaml')]);
      t.equal(run.status, 0, run.output);
    }
  },
);

t.test(
  'the breaker tests catch a rule that only looks at state="open": probes would reset it',
  { skip: promtoolMissing },
  async (t) => {
    const files = generateFiles(withResilience(base, everything), options);
    const rules = files.get('rules/sluice.rules.yaml')!;
    t.match(rules, 'state!="closed"');
    files.set('rules/sluice.rules.yaml', rules.replace('state!="closed"', 'state="open"'));
    const dir = await generatedInto(files);
    const run = promtool(['test', 'rules', join(dir, 'rules/tests/sluice.rules.test.yaml')]);
    t.not(run.status, 0, 'promtool test rules fails');
    t.match(run.output, /SluiceUpstreamBreakerOpen/, 'and names the alert');
  },
);

t.test('the resilience row: only what the config turns on', async (t) => {
  const panels = (keys: ResilienceKeys) => {
    const ctx: RuleContext = { config: withResilience(base, keys), profile: profiles.production };
    const [overview] = generateDashboards(ctx, 'test header').dashboards;
    const titles = overview!.panels.map((panel) => panel.title);
    const start = titles.indexOf('Upstream resilience');
    if (start === -1) return undefined;
    const end = overview!.panels.findIndex((panel, i) => i > start && panel.type === 'row');
    t.equal(titles[end], 'Upstreams and connection pools', 'just before the upstreams row');
    return overview!.panels.slice(start + 1, end);
  };
  t.notOk(panels({}), 'no row without breakers or retries');
  const health = [
    'Targets out of service by state',
    'Target state changes by reason',
    'Ejections and failed health checks',
    'Targets available by route',
  ];
  t.same(
    panels({ upstreams: { vllm: [] } })?.map((panel) => panel.title),
    ['Upstream attempts by target and outcome', ...health],
    'breakers only',
  );
  t.same(
    panels({ routes: { local: {} } })?.map((panel) => panel.title),
    ['Upstream attempts by target and outcome', 'Retries and refused retries by reason'],
    'retries only, no hedges',
  );
  const full = panels(everything)!;
  t.same(
    full.map((panel) => panel.title),
    [
      'Upstream attempts by target and outcome',
      'Retries and refused retries by reason',
      'Hedges sent and won',
      ...health,
      'Failovers by route',
    ],
  );
  const bottom = Math.max(...full.map((panel) => panel.gridPos.y + panel.gridPos.h));
  const area = full.reduce((sum, panel) => sum + panel.gridPos.w * panel.gridPos.h, 0);
  t.equal(area, 24 * (bottom - full[0]!.gridPos.y), 'whole lines: no gap in the grid');
  const ctx: RuleContext = { config: withResilience(base, everything), profile: profiles.production };
  for (const panel of generateDashboards(ctx, 'h').dashboards.flatMap(queryPanels))
    for (const target of panel.targets) t.match(target.expr, 'job="sluice-test"', panel.title);
});
