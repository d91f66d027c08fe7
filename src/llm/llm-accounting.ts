/**
 * What an LLM request adds to the per-request accounting once it ends: the GenAI metrics, cost,
 * finish reasons and problems, the GenAI span attributes, and a summary for the access log. Series
 * are cached per label set, like the HTTP ones, since every LLM request touches several of them.
 */
import type { Span } from '@opentelemetry/api';
import type { LlmConfig, UpstreamConfig } from '../config/types.generated.ts';
import type { ProxyContext } from '../pipeline/context.ts';
import { type HotCounter, type HotHistogram, hotCounter, hotHistogram } from '../telemetry/hot-children.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { LlmExchange } from './exchange.ts';
import { ModelLabeler } from './model-label.ts';
import { costUsd, PriceBook } from './prices.ts';
import type { LlmOutcome } from './response-observer.ts';
import type { TokenUsage } from './usage.ts';

/**
 * Upstream names cannot hold a `/` (schema), so this key never equals one, and PriceBook's memo
 * keys (scope NUL model) for an upstream and for one of its targets cannot meet.
 */
const targetPriceKey = (upstream: string, target: string) => `${upstream}/${target}`;

/** What the access-log line says about an LLM request. */
export interface LlmSummary {
  readonly model: string | undefined;
  readonly inputTokens: number | undefined;
  readonly outputTokens: number | undefined;
  readonly costUsd: number | undefined;
  readonly ttftMs: number | undefined;
}

/** How the request ended, as the HTTP accounting saw it. */
export interface LlmEnding {
  readonly code: number;
  readonly error: string | undefined;
  readonly clientAborted: boolean;
  readonly end: number;
}

const knownFinishReasons = new Set([
  // OpenAI Chat Completions / Completions
  'stop',
  'length',
  'tool_calls',
  'content_filter',
  'function_call',
  // Anthropic
  'end_turn',
  'max_tokens',
  'stop_sequence',
  'tool_use',
  'pause_turn',
  'refusal',
  'model_context_window_exceeded',
  // OpenAI Responses API (status, or incomplete_details.reason)
  'completed',
  'incomplete',
  'failed',
  'cancelled',
  'max_output_tokens',
  // Self-hosted servers (vLLM, TGI)
  'abort',
  'eos_token',
]);

/** Operations whose successful responses carry usage; a complete one without it is `no_usage`. */
const usageOperations = new Set(['chat', 'text_completion', 'embeddings', 'responses', 'count_tokens']);

type TokenType = 'input' | 'output' | 'cached_input' | 'cache_creation_input' | 'reasoning';

interface ModelSeries {
  readonly inputTokens: HotHistogram;
  readonly outputTokens: HotHistogram;
  readonly timeToFirstToken: HotHistogram;
  readonly timePerOutputToken: HotHistogram;
  readonly durationByError: Map<string, HotHistogram>;
  readonly tokens: Map<TokenType, HotCounter>;
  readonly cost: HotCounter;
  readonly unpriced: HotCounter;
  readonly finishReasons: Map<string, HotCounter>;
  readonly labels: { route: string; upstream: string; operation: string; provider: string; model: string };
}

const seconds = (milliseconds: number) => milliseconds / 1000;

function memo<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = make();
    map.set(key, value);
  }
  return value;
}

export class LlmAccounting {
  private readonly metrics: Metrics;
  private labeler = new ModelLabeler([]);
  private labelerKey = '';
  private prices = new PriceBook([], {});
  /** Price-table keys of targets with their own prices. */
  private pricedTargets: ReadonlySet<string> = new Set();
  private readonly series = new Map<string, ModelSeries>();
  private readonly unparsed = new Map<string, HotCounter>();
  private readonly problems = new Map<string, HotCounter>();

  constructor(metrics: Metrics) {
    this.metrics = metrics;
  }

  /**
   * Takes a new config. The labeler (and the names it admitted) is kept unless its settings
   * changed, so reloads do not let another `max_model_labels` names through.
   */
  configure(llm: LlmConfig, upstreams: Readonly<Record<string, UpstreamConfig | undefined>>): void {
    const labelerKey = JSON.stringify([llm.model_labels, llm.max_model_labels]);
    if (labelerKey !== this.labelerKey) {
      this.labeler = new ModelLabeler(llm.model_labels, llm.max_model_labels);
      this.labelerKey = labelerKey;
    }
    const byUpstream: Record<string, UpstreamConfig['prices']> = {};
    const pricedTargets = new Set<string>();
    for (const [name, upstream] of Object.entries(upstreams)) {
      if (!upstream) continue;
      byUpstream[name] = upstream.prices;
      // A target's own prices (a negotiated rate, a region) come before its upstream's.
      for (const target of upstream.targets ?? []) {
        if (target.prices.length === 0) continue;
        const key = targetPriceKey(name, target.name);
        byUpstream[key] = [...target.prices, ...upstream.prices];
        pricedTargets.add(key);
      }
    }
    this.prices = new PriceBook(llm.prices, byUpstream);
    this.pricedTargets = pricedTargets;
  }

  private modelSeries(route: string, upstream: string, exchange: LlmExchange, model: string): ModelSeries {
    const { operation, protocol } = exchange.request;
    const key = `${route}\u0000${upstream}\u0000${operation}\u0000${protocol}\u0000${model}`;
    return memo(this.series, key, () => {
      const m = this.metrics;
      const genAi = [route, operation, protocol, model];
      return {
        inputTokens: hotHistogram(m.genAiTokenUsage, [...genAi, 'input']),
        outputTokens: hotHistogram(m.genAiTokenUsage, [...genAi, 'output']),
        timeToFirstToken: hotHistogram(m.genAiTimeToFirstToken, genAi),
        timePerOutputToken: hotHistogram(m.genAiTimePerOutputToken, genAi),
        durationByError: new Map(),
        tokens: new Map(),
        cost: hotCounter(m.llmCost, [route, upstream, model]),
        unpriced: hotCounter(m.llmUnpriced, [route, upstream, model]),
        finishReasons: new Map(),
        labels: { route, upstream, operation, provider: protocol, model },
      };
    });
  }

  private countTokens(series: ModelSeries, type: TokenType, count: number | undefined): void {
    if (count === undefined) return;
    const { route, upstream, model } = series.labels;
    memo(series.tokens, type, () => hotCounter(this.metrics.llmTokens, [route, upstream, model, type])).inc(
      count,
    );
  }

  private problem(route: string, upstream: string, problem: string): void {
    memo(this.problems, `${route}\u0000${upstream}\u0000${problem}`, () =>
      hotCounter(this.metrics.llmResponseProblems, [route, upstream, problem]),
    ).inc();
  }

  private recordUsage(
    series: ModelSeries,
    usage: TokenUsage,
    priceModel: string | undefined,
    priceScope: string,
  ): number | undefined {
    if (usage.input !== undefined) series.inputTokens.observe(usage.input);
    if (usage.output !== undefined) series.outputTokens.observe(usage.output);
    this.countTokens(series, 'input', usage.input);
    this.countTokens(series, 'output', usage.output);
    this.countTokens(series, 'cached_input', usage.cachedInput);
    this.countTokens(series, 'cache_creation_input', usage.cacheCreationInput);
    this.countTokens(series, 'reasoning', usage.reasoning);
    const price = priceModel === undefined ? undefined : this.prices.priceFor(priceScope, priceModel);
    if (!price) {
      series.unpriced.inc();
      return undefined;
    }
    const cost = costUsd(usage, price);
    series.cost.inc(cost);
    return cost;
  }

  private recordOutcome(ctx: ProxyContext, series: ModelSeries, outcome: LlmOutcome, ending: LlmEnding) {
    const { route, upstream } = series.labels;
    const operation = series.labels.operation;
    for (const reason of outcome.finishReasons) {
      const label = knownFinishReasons.has(reason) ? reason : 'other';
      memo(series.finishReasons, label, () =>
        hotCounter(this.metrics.llmFinishReasons, [route, series.labels.model, label]),
      ).inc();
    }
    if (!ending.clientAborted) {
      if (outcome.tooLarge) this.problem(route, upstream, 'too_large');
      else if (outcome.malformed > 0) this.problem(route, upstream, 'malformed');
      else if (!outcome.complete) this.problem(route, upstream, 'truncated');
      else if (outcome.usage === undefined && usageOperations.has(operation))
        this.problem(route, upstream, 'no_usage');
    }
    const dispatched = ctx.timings.upstreamDispatch;
    let ttftMs: number | undefined;
    if (outcome.firstTokenAt !== undefined && dispatched !== 0) {
      ttftMs = outcome.firstTokenAt - dispatched;
      series.timeToFirstToken.observe(seconds(ttftMs));
      const output = outcome.usage?.output;
      if (output !== undefined && output > 1 && outcome.lastTokenAt !== undefined)
        series.timePerOutputToken.observe(
          seconds((outcome.lastTokenAt - outcome.firstTokenAt) / (output - 1)),
        );
    }
    return ttftMs;
  }

  /** The price table of the target that answered when it has its own, else its upstream's. */
  private priceScope(upstream: string, target: string): string {
    if (this.pricedTargets.size === 0 || target === '') return upstream;
    const key = targetPriceKey(upstream, target);
    return this.pricedTargets.has(key) ? key : upstream;
  }

  /** Accounts for an LLM request that ended; returns what the access log should say. */
  finished(ctx: ProxyContext, exchange: LlmExchange, ending: LlmEnding): LlmSummary {
    const route = ctx.route.name;
    const upstream = ctx.upstreamName;
    const { request } = exchange;
    if (!request.parsed && ctx.requestBodyBytes > 0)
      memo(this.unparsed, route, () => hotCounter(this.metrics.llmUnparsedRequests, [route])).inc();
    const outcome = exchange.observer?.finish();
    const modelName = request.model ?? outcome?.responseModel;
    const series = this.modelSeries(route, upstream, exchange, this.labeler.label(modelName));
    const t = ctx.timings;
    if (t.upstreamDispatch !== 0) {
      const errorType = ending.error ?? (ending.code >= 400 ? String(ending.code) : '');
      memo(series.durationByError, errorType, () =>
        hotHistogram(this.metrics.genAiOperationDuration, [
          route,
          request.operation,
          request.protocol,
          series.labels.model,
          errorType,
        ]),
      ).observe(seconds((t.upstreamEnd || ending.end) - t.upstreamDispatch));
    }
    if (exchange.unreadable) this.problem(route, upstream, exchange.unreadable);
    let cost: number | undefined;
    let ttftMs: number | undefined;
    if (outcome) {
      if (outcome.usage)
        cost = this.recordUsage(
          series,
          outcome.usage,
          outcome.responseModel ?? request.model,
          this.priceScope(upstream, ctx.upstreamTarget),
        );
      ttftMs = this.recordOutcome(ctx, series, outcome, ending);
    }
    if (ctx.span.isRecording()) spanAttributes(ctx.span, exchange, outcome, cost);
    return {
      model: modelName,
      inputTokens: outcome?.usage?.input,
      outputTokens: outcome?.usage?.output,
      costUsd: cost,
      ttftMs,
    };
  }
}

/** The GenAI attributes on the server span; never prompt or completion content. */
function spanAttributes(
  span: Span,
  exchange: LlmExchange,
  outcome: LlmOutcome | undefined,
  cost: number | undefined,
) {
  const { request } = exchange;
  span.setAttribute('gen_ai.operation.name', request.operation);
  span.setAttribute('gen_ai.provider.name', request.protocol);
  if (request.model !== undefined) span.setAttribute('gen_ai.request.model', request.model);
  if (request.maxTokens !== undefined) span.setAttribute('gen_ai.request.max_tokens', request.maxTokens);
  if (!outcome) return;
  if (outcome.responseModel !== undefined) span.setAttribute('gen_ai.response.model', outcome.responseModel);
  if (outcome.finishReasons.length > 0)
    span.setAttribute('gen_ai.response.finish_reasons', [...outcome.finishReasons]);
  const usage = outcome.usage;
  if (usage?.input !== undefined) span.setAttribute('gen_ai.usage.input_tokens', usage.input);
  if (usage?.output !== undefined) span.setAttribute('gen_ai.usage.output_tokens', usage.output);
  if (usage?.cachedInput !== undefined)
    span.setAttribute('gen_ai.usage.cache_read.input_tokens', usage.cachedInput);
  if (usage?.cacheCreationInput !== undefined)
    span.setAttribute('gen_ai.usage.cache_creation.input_tokens', usage.cacheCreationInput);
  if (cost !== undefined) span.setAttribute('sluice.llm.cost_usd', cost);
}
