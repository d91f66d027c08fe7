/**
 * LLM traffic on openai and anthropic routes, by model: tokens, cost, generation speed and how
 * responses ended. The model label is bounded by `llm.model_labels` (others are `other`).
 */
import type { RowBuilder } from './layout.ts';
import {
  type PanelContext,
  percentile,
  type Query,
  quantile,
  series,
  shareOf,
  stat,
  sumRate,
  timeseries,
} from './panels.ts';

const model = 'gen_ai_request_model';
const secondsPerHour = 3600;

function tokens(ctx: PanelContext, type: string): string {
  return series(ctx, 'llmTokens', '', `gen_ai_token_type="${type}"`);
}

/** Dollars per hour: a per-second rate of cents would read as zero. */
function spendPerHour(ctx: PanelContext, by: readonly string[]): string {
  return `${sumRate(by, series(ctx, 'llmCost'))} * ${secondsPerHour}`;
}

/** p50 and p95 of a per-model histogram. */
function modelPercentiles(
  ctx: PanelContext,
  key: 'genAiTimeToFirstToken' | 'genAiTimePerOutputToken',
): readonly Query[] {
  return [0.5, 0.95].map((q) => ({
    expr: quantile(q, [model], series(ctx, key, '_bucket')),
    legend: `{{${model}}} ${percentile(q)}`,
  }));
}

export const llmTokensRow: RowBuilder = (ctx) => ({
  title: 'Tokens',
  panels: [
    timeseries({
      title: 'Tokens per second by model',
      description:
        'Input and output tokens per second as the providers reported them, stacked. Input includes cached input; output includes reasoning.',
      unit: 'short',
      stacked: true,
      queries: [
        {
          expr: sumRate(
            [model, 'gen_ai_token_type'],
            series(ctx, 'llmTokens', '', 'gen_ai_token_type=~"input|output"'),
          ),
          legend: '{{gen_ai_request_model}} {{gen_ai_token_type}}',
        },
      ],
    }),
    timeseries({
      title: 'Tokens per request by model',
      description:
        'Input and output tokens of one request, p50 and p95 per model: how large prompts and answers are.',
      unit: 'short',
      queries: [0.5, 0.95].map((q) => ({
        expr: quantile(q, [model, 'gen_ai_token_type'], series(ctx, 'genAiTokenUsage', '_bucket')),
        legend: `{{${model}}} {{gen_ai_token_type}} ${percentile(q)}`,
      })),
    }),
    timeseries({
      title: 'Prompt cache read share by model',
      description:
        'Share of input tokens the provider read from its prompt cache (billed at the cached price). Falling means prompts stopped sharing a prefix.',
      unit: 'percentunit',
      min: 0,
      max: 1,
      queries: [
        {
          expr: shareOf([model], tokens(ctx, 'cached_input'), tokens(ctx, 'input')),
          legend: '{{gen_ai_request_model}}',
        },
      ],
    }),
    timeseries({
      title: 'Reasoning share of output tokens by model',
      description: 'Share of output tokens spent on reasoning the client does not see (billed as output).',
      unit: 'percentunit',
      min: 0,
      max: 1,
      queries: [
        {
          expr: shareOf([model], tokens(ctx, 'reasoning'), tokens(ctx, 'output')),
          legend: '{{gen_ai_request_model}}',
        },
      ],
    }),
  ],
});

export const llmCostRow: RowBuilder = (ctx) => ({
  title: 'Cost',
  panels: [
    stat({
      title: 'Spend per hour',
      description:
        'US dollars per hour at the current rate, from reported usage and the configured price table (llm.prices and upstream prices).',
      unit: 'currencyUSD',
      width: 6,
      queries: [{ expr: spendPerHour(ctx, []), legend: 'USD/h' }],
    }),
    timeseries({
      title: 'Spend per hour by model',
      description: 'US dollars per hour by model, from reported usage and the configured price table.',
      unit: 'currencyUSD',
      width: 9,
      stacked: true,
      queries: [{ expr: spendPerHour(ctx, [model]), legend: '{{gen_ai_request_model}}' }],
    }),
    timeseries({
      title: 'Spend per hour by route',
      description: 'US dollars per hour by route: which service spends what.',
      unit: 'currencyUSD',
      width: 9,
      stacked: true,
      queries: [{ expr: spendPerHour(ctx, ['route']), legend: '{{route}}' }],
    }),
    timeseries({
      title: 'Unpriced responses by model',
      description:
        'Responses per second with usage whose model matches no configured price: their cost is missing from the panels above. Add the model to llm.prices.',
      unit: 'reqps',
      width: 24,
      height: 6,
      queries: [
        {
          expr: sumRate(['route', 'upstream', model], series(ctx, 'llmUnpriced')),
          legend: '{{route}} {{upstream}} {{gen_ai_request_model}}',
        },
      ],
    }),
  ],
});

export const llmLatencyRow: RowBuilder = (ctx) => ({
  title: 'Generation speed',
  panels: [
    timeseries({
      title: 'Time to first token by model',
      description:
        'Streamed responses: time from sending the request upstream until Sluice passes the first output token on, p50 and p95. Reasoning models think before their first token.',
      unit: 's',
      queries: modelPercentiles(ctx, 'genAiTimeToFirstToken'),
    }),
    timeseries({
      title: 'Time per output token by model',
      description:
        'Streamed responses: time between the first and the last output token over the tokens after the first, p50 and p95. The inverse of generation speed.',
      unit: 's',
      queries: modelPercentiles(ctx, 'genAiTimePerOutputToken'),
    }),
    timeseries({
      title: 'LLM operation duration p95 by model',
      description:
        'Time from sending an LLM request upstream to the last byte of its response, 95th percentile per model and operation (chat, embeddings, …).',
      unit: 's',
      queries: [
        {
          expr: quantile(
            0.95,
            [model, 'gen_ai_operation_name'],
            series(ctx, 'genAiOperationDuration', '_bucket'),
          ),
          legend: '{{gen_ai_request_model}} {{gen_ai_operation_name}}',
        },
      ],
    }),
    timeseries({
      title: 'LLM operation errors by type',
      description:
        'Failed LLM requests per second by model and error type (the status code, or the Sluice error code when no response came).',
      unit: 'reqps',
      stacked: true,
      queries: [
        {
          expr: sumRate(
            [model, 'error_type'],
            series(ctx, 'genAiOperationDuration', '_count', 'error_type!=""'),
          ),
          legend: '{{gen_ai_request_model}} {{error_type}}',
        },
      ],
    }),
  ],
});

export const llmResponsesRow: RowBuilder = (ctx) => {
  const finishReasons = (...extra: string[]) => series(ctx, 'llmFinishReasons', '', ...extra);
  return {
    title: 'Responses',
    panels: [
      timeseries({
        title: 'Finish reasons by model',
        description:
          'Why responses ended, one per choice per second, by model and reason (stop, length, tool_calls, end_turn, …; unknown ones are other).',
        unit: 'cps',
        stacked: true,
        queries: [
          {
            expr: sumRate([model, 'reason'], finishReasons()),
            legend: '{{gen_ai_request_model}} {{reason}}',
          },
        ],
      }),
      timeseries({
        title: 'Answers cut at the token limit by model',
        description:
          'Share of choices that ended because they reached the output token limit (length, max_tokens, max_output_tokens): the client got a truncated answer.',
        unit: 'percentunit',
        min: 0,
        max: 1,
        queries: [
          {
            expr: shareOf(
              [model],
              finishReasons('reason=~"length|max_tokens|max_output_tokens"'),
              finishReasons(),
            ),
            legend: '{{gen_ai_request_model}}',
          },
        ],
      }),
      timeseries({
        title: 'Response problems by kind',
        description:
          'Successful LLM responses per second that Sluice could not fully account for: malformed, truncated, too_large, encoded (compressed stream) or no_usage. Their tokens and cost are missing.',
        unit: 'reqps',
        stacked: true,
        queries: [
          {
            expr: sumRate(['route', 'problem'], series(ctx, 'llmResponseProblems')),
            legend: '{{route}} {{problem}}',
          },
        ],
      }),
      timeseries({
        title: 'Unparsed request bodies by route',
        description:
          'Requests per second on openai and anthropic routes whose body was not a JSON object; forwarded untouched, without LLM accounting.',
        unit: 'reqps',
        queries: [{ expr: sumRate(['route'], series(ctx, 'llmUnparsedRequests')), legend: '{{route}}' }],
      }),
    ],
  };
};
