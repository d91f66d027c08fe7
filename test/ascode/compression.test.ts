import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import type { RuleContext } from '../../src/ascode/alert-definition.ts';
import { generateDashboards } from '../../src/ascode/dashboards.ts';
import { generateFiles, writeFiles } from '../../src/ascode/generate.ts';
import { profiles } from '../../src/ascode/profile.ts';
import type { AlertRule, RuleGroup } from '../../src/ascode/rule-model.ts';
import { parseConfig } from '../../src/config/load.ts';
import { promtool, promtoolMissing } from '../support/promtool.ts';

/** Two routes; `compressed` lists those given `compression: {}` (validated by the real schema). */
function config(compressed: readonly string[], alerts = '') {
  const route = (name: string, upstream: string, match: string) =>
    `  - { name: ${name}, upstream: ${upstream}, protocol: openai${match}${compressed.includes(name) ? ', compression: {}' : ''} }`;
  const yaml = [
    'upstreams:',
    '  openai: { url: "http://127.0.0.1:9001" }',
    '  vllm: { url: "http://127.0.0.1:9002" }',
    'routes:',
    route('chat', 'openai', ''),
    route('local', 'vllm', ', match: { path_prefix: /local/ }'),
    'alerts:',
    `  selector: 'job="sluice-test"'`,
    alerts,
  ].join('\n');
  return parseConfig(yaml, 'compression.yaml', {}).config;
}

const options = { target: 'all', profile: 'production', configName: 'compression.yaml' } as const;

function rulesOf(files: Map<string, string>) {
  const { groups } = parse(files.get('rules/sluice.rules.yaml')!) as { groups: RuleGroup[] };
  return groups.flatMap((group) => group.rules);
}

function ratioRule(files: Map<string, string>): AlertRule | undefined {
  return rulesOf(files).find(
    (rule): rule is AlertRule => 'alert' in rule && rule.alert === 'SluiceCompressionRatioLow',
  );
}

async function generatedInto(files: Map<string, string>) {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-compression-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFiles(dir, files);
  return dir;
}

function compressionPanels(compressed: readonly string[]) {
  const ctx: RuleContext = { config: config(compressed), profile: profiles.production };
  const [overview] = generateDashboards(ctx, 'test header').dashboards;
  const start = overview!.panels.findIndex((panel) => panel.title === 'Compression');
  if (start === -1) return undefined;
  const end = overview!.panels.findIndex((panel, i) => i > start && panel.type === 'row');
  return { after: overview!.panels[end]?.title, panels: overview!.panels.slice(start + 1, end) };
}

t.test('the compression alert and row exist only when a route compresses', async (t) => {
  const none = generateFiles(config([]), options);
  t.notOk(ratioRule(none), 'no route with compression: no alert');
  t.notMatch(none.get('rules/tests/sluice.rules.test.yaml')!, 'SluiceCompressionRatioLow', 'and no cases');
  t.notOk(compressionPanels([]), 'and no row');

  const some = generateFiles(config(['local']), options);
  const rule = ratioRule(some);
  t.ok(rule, 'a route with compression: the alert');
  t.equal(rule?.for, '30m');
  const row = compressionPanels(['local']);
  t.same(
    row?.panels.map((panel) => panel.title),
    [
      'Responses by compression result',
      'Bytes before and after compression',
      'Compressed size ratio by route',
    ],
  );
  t.equal(row?.after, 'Upstreams and connection pools', 'just before the upstreams row');
  for (const panel of row?.panels ?? [])
    for (const target of 'targets' in panel ? panel.targets : []) t.match(target.expr, 'job="sluice-test"');
});

t.test('the ratio, the minimum rate and per-route thresholds', async (t) => {
  const rule = ratioRule(generateFiles(config(['chat', 'local']), options));
  t.match(
    rule?.expr,
    /direction="out"[^\n]*\[30m\]\)\)\n\/ sum by \(route\)[^\n]*direction="in"[^\n]*\n> 0\.5\n/,
  );
  t.match(rule?.expr, /and on \(route\)\n[^\n]*direction="in"[^\n]*\) >= 10240/);

  const tuned = ratioRule(
    generateFiles(
      config(
        ['chat', 'local'],
        '  compression_ratio: 0.6\n  compression_min_bytes_per_second: 2048\n  routes:\n    local: { compression_ratio: 0.8 }',
      ),
      options,
    ),
  );
  t.match(tuned?.expr, /route!~"local"[^\n]*\n[^\n]*\n\s*> 0\.6/, 'the default excludes local');
  t.match(tuned?.expr, /route=~"local"[^\n]*\n[^\n]*\n\s*> 0\.8/, 'local has its own');
  t.match(tuned?.expr, />= 2048/);
  t.match(tuned?.annotations.description, 'threshold 60%; local: 80%');

  const fast = ratioRule(generateFiles(config(['local']), { ...options, profile: 'test' }));
  t.match(fast?.expr, /\[1m\]/, 'the test profile scales the window');
  t.equal(fast?.for, '1m', 'and the for');
});

t.test(
  'the compression rules pass promtool check and their generated tests, in both profiles',
  { skip: promtoolMissing },
  async (t) => {
    const configs = {
      defaults: config(['local']),
      tuned: config(
        ['chat', 'local'],
        '  compression_ratio: 0.3\n  compression_min_bytes_per_second: 100\n  routes:\n    chat: { compression_ratio: 0.7 }',
      ),
    };
    for (const [name, cfg] of Object.entries(configs))
      for (const profile of ['production', 'test'] as const) {
        const files = generateFiles(cfg, { ...options, profile });
        const dir = await generatedInto(files);
        const check = promtool(['check', 'rules', join(dir, 'rules/sluice.rules.yaml')]);
        t.equal(check.status, 0, `${name} ${profile}: ${check.output}`);
        t.notMatch(check.output, /duplicate|warning/i, 'no lint findings');
        if (profile === 'test') continue;
        const tests = files.get('rules/tests/sluice.rules.test.yaml')!;
        t.match(tests, 'alertname: SluiceCompressionRatioLow', `${name}: has cases`);
        const run = promtool(['test', 'rules', join(dir, 'rules/tests/sluice.rules.test.yaml')]);
        t.equal(run.status, 0, `${name}: ${run.output}`);
      }
  },
);

t.test(
  'the tests catch a rule without the minimum rate, or with the ratio upside down',
  { skip: promtoolMissing },
  async (t) => {
    const breakages: readonly (readonly [string, (rules: string) => string])[] = [
      ['no minimum rate', (rules) => rules.replace(/>= 10240/, '>= 0')],
      [
        'in ÷ out',
        (rules) =>
          rules
            .replace(/direction="out"/, 'direction="tmp"')
            .replace(/direction="in"/, 'direction="out"')
            .replace('direction="tmp"', 'direction="in"'),
      ],
    ];
    for (const [what, breakRules] of breakages) {
      const files = generateFiles(config(['local']), options);
      const rules = files.get('rules/sluice.rules.yaml')!;
      const broken = breakRules(rules);
      t.not(broken, rules, `${what}: the rule changed`);
      files.set('rules/sluice.rules.yaml', broken);
      const dir = await generatedInto(files);
      const run = promtool(['test', 'rules', join(dir, 'rules/tests/sluice.rules.test.yaml')]);
      t.not(run.status, 0, `${what}: promtool test rules fails`);
      t.match(run.output, /SluiceCompressionRatioLow/, 'and names the alert');
    }
  },
);
