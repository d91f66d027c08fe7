/**
 * The rule files `sluice generate rules` writes: Prometheus rule files, their promtool test files,
 * and one Kubernetes PrometheusRule (prometheus-operator) holding every group.
 */
import { stringify } from 'yaml';
import type { RuleContext } from './alert-definition.ts';
import { alertRuleGroups, alertTests } from './alerts.ts';
import type { PromtoolTestCase, RuleGroup } from './rule-model.ts';
import { sloRuleGroups } from './slo-rules.ts';
import { sloTests } from './slo-tests.ts';

export const ruleFiles = {
  rules: 'rules/sluice.rules.yaml',
  slo: 'rules/sluice.slo.rules.yaml',
  rulesTest: 'rules/tests/sluice.rules.test.yaml',
  sloTest: 'rules/tests/sluice.slo.rules.test.yaml',
  prometheusRule: 'rules/kubernetes/sluice.prometheusrule.yaml',
} as const;

export function yamlFile(header: string, value: unknown): string {
  const comment = header
    .split('\n')
    .map((line) => `# ${line}`.trimEnd())
    .join('\n');
  return `${comment}\n${stringify(value, { lineWidth: 0, aliasDuplicateObjects: false })}`;
}

function testFile(ruleFile: string, cases: readonly PromtoolTestCase[]): unknown {
  return {
    rule_files: [`../${ruleFile.split('/').pop()}`],
    evaluation_interval: '1m',
    tests: cases.map(({ name, ...testCase }) => ({ ...testCase, name })),
  };
}

export interface GeneratedRules {
  readonly alertGroups: RuleGroup[];
  readonly sloGroups: RuleGroup[];
  /** Relative path → file content. */
  readonly files: Map<string, string>;
}

export function generateRules(ctx: RuleContext, header: string): GeneratedRules {
  const alertGroups = alertRuleGroups(ctx);
  const sloGroups = sloRuleGroups(ctx);
  const files = new Map<string, string>();
  files.set(ruleFiles.rules, yamlFile(header, { groups: alertGroups }));
  files.set(ruleFiles.slo, yamlFile(header, { groups: sloGroups }));
  const cases = alertTests(ctx).flatMap((entry) => entry.cases);
  files.set(
    ruleFiles.rulesTest,
    yamlFile(`${header}\nRun: promtool test rules ${ruleFiles.rulesTest}`, testFile(ruleFiles.rules, cases)),
  );
  files.set(
    ruleFiles.sloTest,
    yamlFile(
      `${header}\nRun: promtool test rules ${ruleFiles.sloTest}`,
      testFile(ruleFiles.slo, sloTests(ctx)),
    ),
  );
  files.set(
    ruleFiles.prometheusRule,
    yamlFile(`${header}\nkubectl apply -f ${ruleFiles.prometheusRule} (prometheus-operator)`, {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'PrometheusRule',
      metadata: {
        name: 'sluice',
        labels: { 'app.kubernetes.io/name': 'sluice', 'app.kubernetes.io/component': 'proxy' },
      },
      spec: { groups: [...alertGroups, ...sloGroups] },
    }),
  );
  return { alertGroups, sloGroups, files };
}
