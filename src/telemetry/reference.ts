/** Renders the metric reference (docs/metrics.md) from the metric catalog. */
import type { MetricSpec } from './catalog.ts';

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const code = (text: string) => `\`${text}\``;

function labelsOf(spec: MetricSpec): string {
  return spec.labels.length === 0 ? '—' : spec.labels.map(code).join(', ');
}

function row(spec: MetricSpec): string {
  const unit = spec.unit === '' ? '—' : spec.unit;
  return `| ${code(spec.name)} | ${spec.type} | ${unit} | ${labelsOf(spec)} | ${cell(spec.help)} |`;
}

function table(specs: readonly MetricSpec[]): string[] {
  return ['| name | type | unit | labels | help |', '| --- | --- | --- | --- | --- |', ...specs.map(row), ''];
}

/** Bucket upper bounds, in the metric's unit; `+Inf` is always added by the client library. */
function bucketList(specs: readonly MetricSpec[]): string[] {
  const histograms = specs.filter((spec) => spec.type === 'histogram');
  if (histograms.length === 0) return [];
  return [
    '## Histogram buckets',
    '',
    "Upper bounds of each histogram's buckets, in its unit; every histogram also has a `+Inf` bucket.",
    '',
    '| histogram | buckets |',
    '| --- | --- |',
    ...histograms.map((spec) => `| ${code(spec.name)} | ${(spec.buckets ?? []).join(', ')} |`),
    '',
  ];
}

export function renderMetricReference(catalog: Readonly<Record<string, MetricSpec>>, banner: string): string {
  const specs = Object.values(catalog);
  const own = specs.filter((spec) => !spec.external && !spec.convention);
  const genAi = specs.filter((spec) => spec.convention === 'opentelemetry-genai');
  const runtime = specs.filter((spec) => spec.external === 'runtime');
  const scrape = specs.filter((spec) => spec.external === 'prometheus');
  return [
    `<!-- ${banner} -->`,
    '# Metric reference',
    '',
    "Every metric Sluice exports on the admin listener's `/metrics` (see [observability](observability.md)).",
    'Label values are bounded: `route` and `upstream` are names from the config, `code` is the HTTP status,',
    '`method` is a standard HTTP method or `OTHER`, and `error`, `stage`, `state` and `result` come from fixed lists.',
    '`gen_ai_request_model` goes through the `llm.model_labels` allow-list (anything else is `other`, no model',
    'is `unknown`); `gen_ai_token_type`, `problem`, `reason` and `error_type` come from fixed lists.',
    '',
    '## LLM traffic (OpenTelemetry GenAI semantic conventions)',
    '',
    'The Prometheus form of the GenAI client and server metrics, recorded on `openai` and `anthropic` routes',
    'while `llm.accounting` is on (see [LLM telemetry](llm-telemetry.md)).',
    '',
    ...table(genAi),
    '## Sluice',
    '',
    ...table(own),
    '## Node.js runtime',
    '',
    "Exported by prom-client's default collectors (all of them are exported; these are the ones the generated",
    'alert rules and dashboards use).',
    '',
    ...table(runtime),
    '## Written by Prometheus',
    '',
    'Not exported by Sluice: Prometheus records these for every scrape. The generated alerts use them.',
    '',
    ...table(scrape),
    ...bucketList([...genAi, ...own, ...runtime]),
  ].join('\n');
}
