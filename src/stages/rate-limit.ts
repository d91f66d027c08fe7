/**
 * The rate-limit stage of routes with `rate_limits` or `max_tokens`. Every policy takes its cost
 * (1, or the token estimate) all or nothing before the request goes on, so concurrent requests can
 * never together pass a limit; `unit: tokens` reservations are corrected to the provider's usage
 * when the exchange ends. A rejection is 429 (503 when Redis is away and the policy fails closed)
 * with Retry-After and the RateLimit headers. It sits before the cache: a hit still counts as a
 * request, and its token reservation is given back in full.
 */
import type { Logger } from 'pino';
import type { DeepReadonly } from '../config/freeze.ts';
import type { RateLimitPolicyConfig, RouteMaxTokensConfig } from '../config/types.generated.ts';
import type { Stage } from '../pipeline/compose.ts';
import type { ExchangeEnd, ProxyContext } from '../pipeline/context.ts';
import { SluiceError } from '../pipeline/errors.ts';
import {
  type PolicyState,
  policyHeader,
  rateLimitHeaders,
  retryAfterSeconds,
} from '../ratelimit/rate-headers.ts';
import { rateKey } from '../ratelimit/rate-key.ts';
import type { RateDecision, RatePolicy, RateStore } from '../ratelimit/rate-types.ts';
import { estimateRequestTokens } from '../ratelimit/token-estimate.ts';
import type { TrafficControl } from '../server/traffic-control.ts';
import { type HotCounter, hotCounter } from '../telemetry/hot-children.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { applyMaxTokens } from './max-tokens.ts';

interface CompiledPolicy {
  readonly name: string;
  readonly unit: 'requests' | 'tokens';
  readonly key: readonly string[];
  readonly shadow: boolean;
  readonly store: 'memory' | 'redis';
  readonly policy: RatePolicy;
}

interface Taken {
  readonly compiled: CompiledPolicy;
  readonly store: RateStore;
  readonly key: string;
  readonly cost: number;
}

export interface RateLimitSettings {
  readonly route: string;
  readonly policies: readonly DeepReadonly<RateLimitPolicyConfig>[];
  readonly maxTokens: DeepReadonly<RouteMaxTokensConfig> | undefined;
  readonly defaultOutputTokens: number;
}

/** A shadow policy's would-be rejections are logged at most this often, per policy. */
const SHADOW_LOG_INTERVAL_MS = 10_000;

function compile(route: string, config: DeepReadonly<RateLimitPolicyConfig>): CompiledPolicy {
  return {
    name: config.name,
    unit: config.unit,
    key: config.key,
    shadow: config.shadow,
    store: config.store,
    policy: {
      id: `${route}/${config.name}`,
      algorithm: config.algorithm,
      limit: config.limit,
      windowMs: Math.max(1, Math.round(config.window_seconds * 1000)),
      ...(config.burst === undefined ? {} : { burst: config.burst }),
      failure: config.on_store_error,
    },
  };
}

function resultLabel(decision: RateDecision, shadow: boolean): string {
  const result = decision.storeUnavailable
    ? 'store_unavailable'
    : decision.allowed
      ? 'allowed'
      : shadow
        ? 'shadow_rejected'
        : 'rejected';
  return decision.local ? `${result}_local` : result;
}

/**
 * Tokens the provider used for this exchange, or undefined when that is unknown and the
 * reservation stands: a stream cut off, or one that reported no usage (`ensure_stream_usage`
 * makes OpenAI streams report it).
 */
function usedTokens(end: ExchangeEnd): number | undefined {
  const llm = end.llm;
  if (llm && (llm.inputTokens !== undefined || llm.outputTokens !== undefined))
    return (llm.inputTokens ?? 0) + (llm.outputTokens ?? 0);
  // A cache hit, or Sluice's own answer: the provider was never asked.
  if (!end.upstreamAnswered) return 0;
  // Providers do not bill refused or failed requests.
  if (end.status >= 400 && !end.clientAborted) return 0;
  return undefined;
}

function rejection(decision: RateDecision, compiled: CompiledPolicy, states: PolicyState[]): SluiceError {
  const retryAfterMs = Number.isFinite(decision.retryAfterMs)
    ? decision.retryAfterMs
    : compiled.policy.windowMs;
  const headers = {
    ...rateLimitHeaders([
      ...states,
      { name: compiled.name, unit: compiled.unit, windowMs: compiled.policy.windowMs, decision },
    ]),
    'retry-after': String(retryAfterSeconds(retryAfterMs)),
  };
  if (decision.storeUnavailable)
    return new SluiceError('rate_limit_unavailable', { detail: `(policy ${compiled.name})`, headers });
  const detail = Number.isFinite(decision.retryAfterMs)
    ? `(policy ${compiled.name}: ${compiled.policy.limit} ${compiled.unit} per ${compiled.policy.windowMs / 1000} s)`
    : `(policy ${compiled.name}: this request alone needs more ${compiled.unit} than the policy allows at once)`;
  return new SluiceError('rate_limited', { detail, headers });
}

export function rateLimitStage(
  settings: RateLimitSettings,
  traffic: TrafficControl,
  metrics: Metrics,
  log: Logger,
): Stage {
  const policies = settings.policies.map((config) => compile(settings.route, config));
  const countsTokens = policies.some((p) => p.unit === 'tokens');
  const shadowLoggedAt = new Map<string, number>();
  // What an admitted request's RateLimit-Policy says never changes: every enforced policy, in order.
  const enforcedPolicies = policyHeader(
    policies
      .filter((p) => !p.shadow)
      .map((p) => ({ ...p, windowMs: p.policy.windowMs, limit: p.policy.limit })),
  );
  const counters = new Map<CompiledPolicy, Map<string, HotCounter>>();
  const counter = (metric: 'rateLimitDecisions' | 'rateLimitTokens', p: CompiledPolicy, what: string) => {
    let byWhat = counters.get(p);
    if (byWhat === undefined) {
      byWhat = new Map();
      counters.set(p, byWhat);
    }
    // Decision results and token kinds never share a name, so one map per policy holds both.
    let found = byWhat.get(what);
    if (found === undefined) {
      found = hotCounter(metrics[metric], [settings.route, p.name, what]);
      byWhat.set(what, found);
    }
    return found;
  };
  const count = (p: CompiledPolicy, result: string) => counter('rateLimitDecisions', p, result).inc();
  const countTokens = (p: CompiledPolicy, kind: 'reserved' | 'refunded' | 'charged', tokens: number) => {
    if (tokens > 0) counter('rateLimitTokens', p, kind).inc(tokens);
  };

  const logShadow = (p: CompiledPolicy, ctx: ProxyContext, decision: RateDecision) => {
    const now = performance.now();
    if (now - (shadowLoggedAt.get(p.name) ?? Number.NEGATIVE_INFINITY) < SHADOW_LOG_INTERVAL_MS) return;
    shadowLoggedAt.set(p.name, now);
    log.info(
      {
        route: settings.route,
        policy: p.name,
        request_id: ctx.requestId,
        retry_after_ms: decision.retryAfterMs,
      },
      'shadow rate-limit policy would reject (letting it through; at most one line per policy per 10 s)',
    );
  };

  const giveBack = (taken: readonly Taken[]) => {
    for (const t of taken) {
      if (t.compiled.unit === 'tokens') countTokens(t.compiled, 'refunded', t.cost);
      void t.store.adjust(t.compiled.policy, t.key, -t.cost).catch(() => undefined);
    }
  };

  const reconcile = (taken: readonly Taken[], end: ExchangeEnd) => {
    const used = usedTokens(end);
    if (used === undefined) return;
    for (const t of taken) {
      if (t.compiled.unit !== 'tokens') continue;
      const delta = used - t.cost;
      if (delta === 0) continue;
      countTokens(t.compiled, delta < 0 ? 'refunded' : 'charged', Math.abs(delta));
      void t.store.adjust(t.compiled.policy, t.key, delta).catch(() => undefined);
    }
  };

  return {
    name: 'rate-limit',
    async run(ctx, next) {
      if (settings.maxTokens) applyMaxTokens(ctx, settings.maxTokens);
      const estimate = countsTokens
        ? estimateRequestTokens(ctx.requestJson(), ctx.requestBody?.length ?? ctx.requestBodyBytes, {
            outputTokens: settings.defaultOutputTokens,
          })
        : undefined;
      const taken: Taken[] = [];
      const states: PolicyState[] = [];
      for (const p of policies) {
        const store = traffic.store(p.store);
        const key = rateKey(ctx, p.key);
        const cost = p.unit === 'tokens' ? (estimate?.total ?? 0) : 1;
        // In memory the decision needs no promise: most of a local limit's cost was the await.
        const decision = store.acquireNow
          ? store.acquireNow(p.policy, key, cost)
          : await store.acquire(p.policy, key, cost);
        count(p, resultLabel(decision, p.shadow));
        if (!decision.allowed) {
          if (p.shadow && !decision.storeUnavailable) {
            logShadow(p, ctx, decision);
            continue;
          }
          giveBack(taken);
          throw rejection(decision, p, states);
        }
        if (p.unit === 'tokens') countTokens(p, 'reserved', cost);
        taken.push({ compiled: p, store, key, cost });
        if (!p.shadow) states.push({ name: p.name, unit: p.unit, windowMs: p.policy.windowMs, decision });
      }
      if (countsTokens && taken.length > 0) ctx.onEnd((end) => reconcile(taken, end));
      await next();
      if (ctx.response && states.length > 0) rateLimitHeaders(states, enforcedPolicies, ctx.response.headers);
    },
  };
}
