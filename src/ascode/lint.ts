/**
 * The lint `sluice generate` runs on everything it generates, so a file that would load with errors,
 * read a metric that does not exist or page someone without a runbook is never written.
 */
import type { GeneratedDashboards } from './dashboard-model.ts';
import { lintDashboards } from './lint-dashboards.ts';
import { lintRuleQueries, lintRules, recordedNames } from './lint-rules.ts';
import { knownSeries } from './promql-check.ts';
import type { GeneratedRules } from './rule-files.ts';

/** Every problem of the generated rules and dashboards, one line each. */
export function lintGenerated(rules: GeneratedRules, dashboards: GeneratedDashboards): string[] {
  const groups = [...rules.alertGroups, ...rules.sloGroups];
  // Dashboards may read what the rules record: both are generated and loaded together.
  const known = knownSeries(recordedNames(groups));
  return [
    ...lintRules(groups),
    ...lintRuleQueries(groups, known),
    ...lintDashboards(dashboards.dashboards, known),
  ];
}

/** Throws an Error listing every problem. */
export function checkGenerated(rules: GeneratedRules, dashboards: GeneratedDashboards): void {
  const problems = lintGenerated(rules, dashboards);
  if (problems.length === 0) return;
  const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
  throw new Error(
    `the generated rules and dashboards fail their lint (${count}):\n  - ${problems.join('\n  - ')}`,
  );
}
