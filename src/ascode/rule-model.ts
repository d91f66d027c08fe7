/**
 * The shapes of what `sluice generate rules` writes: Prometheus rule groups, and the `promtool test
 * rules` cases that prove each alert fires under its condition and stays silent when healthy.
 */

export type Severity = 'critical' | 'warning' | 'info';

export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels: Readonly<Record<string, string>> & { readonly severity: Severity };
  readonly annotations: {
    readonly summary: string;
    readonly description: string;
    readonly runbook_url: string;
  };
}

export interface RecordingRule {
  readonly record: string;
  readonly expr: string;
  readonly labels?: Readonly<Record<string, string>>;
}

export type Rule = AlertRule | RecordingRule;

export interface RuleGroup {
  readonly name: string;
  readonly interval?: string;
  readonly rules: readonly Rule[];
}

export function isAlert(rule: Rule): rule is AlertRule {
  return 'alert' in rule;
}

export interface InputSeries {
  readonly series: string;
  /** promtool's expanding notation: `0+60x30` is 0, 60, 120, … 30 steps on. */
  readonly values: string;
}

export interface ExpectedAlert {
  readonly exp_labels: Readonly<Record<string, string>>;
  /** promtool compares annotations exactly, so a firing case spells them out, rendered. */
  readonly exp_annotations?: Readonly<Record<string, string>>;
}

export interface AlertTest {
  readonly eval_time: string;
  readonly alertname: string;
  readonly exp_alerts: readonly ExpectedAlert[];
}

export interface PromtoolTestCase {
  /** What the case shows, as a YAML comment above it. */
  readonly name: string;
  readonly interval: string;
  readonly input_series: readonly InputSeries[];
  readonly alert_rule_test: readonly AlertTest[];
}
