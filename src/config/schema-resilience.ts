/**
 * Config schema of the resilience settings: an upstream's targets and how traffic is balanced over
 * them, its breaker, outlier detection, active health checks and retry budget; a route's retries,
 * hedging and failover chain. Part of the one schema (schema.ts); the defaults here are the ones
 * the runtime modules in src/upstream/ document.
 */
import { headerMap, durationMs as ms, priceTable } from './schema-parts.ts';

const percent = (description: string, defaultValue: number) => ({
  type: 'number',
  minimum: 0,
  maximum: 100,
  default: defaultValue,
  description,
});

export const upstreamTarget = {
  title: 'UpstreamTarget',
  type: 'object',
  description:
    'One backend of an upstream group. Each target has its own connection pool, credentials and health; the group shares the timeouts, pool size and TLS settings.',
  additionalProperties: false,
  required: ['name', 'url'],
  properties: {
    name: {
      type: 'string',
      pattern: '^[a-z0-9][a-z0-9_.-]{0,62}$',
      description: 'Unique within the upstream; the `target` label on metrics.',
    },
    url: {
      type: 'string',
      pattern: '^(https?://[^\\s]+|mock://[a-z0-9-]*)$',
      description: 'Base URL of this target, as an upstream `url`.',
    },
    weight: {
      type: 'number',
      minimum: 0,
      default: 1,
      description: 'Share of traffic relative to the other targets. 0 drains the target.',
    },
    priority: {
      type: 'integer',
      minimum: 0,
      default: 0,
      description:
        '`balance.strategy: priority`: lower tiers are filled first; a higher tier takes traffic only while every target of the lower ones is unavailable (or full).',
    },
    api_key: {
      type: 'string',
      default: '',
      description:
        // biome-ignore lint/suspicious/noTemplateCurlyInString: documents the config's interpolation syntax
        "This target's credential (each provider's own key, from the environment with ${VAR}); replaces the client's, whichever header the client sent it in. Empty: the upstream's `api_key`.",
    },
    api_key_header: {
      type: 'string',
      enum: ['authorization', 'x-api-key', 'api-key'],
      description: "How `api_key` is sent, as the upstream's `api_key_header`. Absent: the upstream's.",
    },
    headers: headerMap(
      "Headers set on every request to this target, on top of the upstream's `headers` (e.g. a provider's organization or project header).",
    ),
    prices: priceTable(
      "This target's prices, consulted before the upstream's `prices` and `llm.prices`: for the cost of the answers it gives, and for `balance.strategy: cost-aware` to find the cheapest target for a request's model.",
    ),
    models: {
      type: 'object',
      default: {},
      description:
        "Model-name mapping for OpenAI-compatible targets: the request body's `model` is rewritten from the key to the value before it is sent to this target (e.g. `gpt-4o: my-azure-deployment`). Responses are passed on as the target sends them.",
      propertyNames: { minLength: 1 },
      additionalProperties: { type: 'string', minLength: 1 },
    },
  },
} as const;

export const upstreamBalance = {
  title: 'UpstreamBalance',
  type: 'object',
  description: 'How requests are spread over the targets that may take traffic (docs/resilience.md).',
  additionalProperties: false,
  default: {},
  properties: {
    strategy: {
      type: 'string',
      enum: ['weighted-round-robin', 'least-loaded', 'cost-aware', 'priority'],
      default: 'weighted-round-robin',
      description:
        "`weighted-round-robin`: smooth weighted round-robin. `least-loaded`: power of two choices over outstanding requests × peak-EWMA latency. `cost-aware`: the cheapest target for the request's model by the price table (upstream and target prices), least-loaded among equals. `priority`: fill the lowest `priority` tier, spill over to the next.",
    },
    cost_tolerance: {
      type: 'number',
      minimum: 0,
      default: 0,
      description: '`cost-aware`: targets within this fraction of the cheapest count as equally cheap.',
    },
    within_tier: {
      type: 'string',
      enum: ['weighted-round-robin', 'least-loaded', 'cost-aware'],
      default: 'least-loaded',
      description: '`priority`: how a tier spreads its traffic over its targets.',
    },
    max_outstanding_per_target: {
      type: 'integer',
      minimum: 1,
      description:
        '`priority`: a target with this many requests in flight counts as full, so the next tier takes the overflow.',
    },
  },
} as const;

export const upstreamBreaker = {
  title: 'UpstreamBreaker',
  type: 'object',
  description:
    'A circuit breaker per target (opossum): opens when the share of failed (5xx, 429, transport errors; not other 4xx) or slow calls in a rolling window passes its threshold, refuses traffic for `reset_timeout_ms`, then lets probes through (half-open). Absent: no breaker.',
  additionalProperties: false,
  properties: {
    error_threshold_percent: percent('Opens when failed calls exceed this share (%) of the window.', 50),
    volume_threshold: {
      type: 'integer',
      minimum: 1,
      default: 10,
      description: 'Calls the window must hold before it can open.',
    },
    window_ms: ms('Length of the rolling window.', 10000),
    window_buckets: {
      type: 'integer',
      minimum: 1,
      maximum: 1000,
      default: 10,
      description: 'The window moves in this many steps.',
    },
    reset_timeout_ms: ms('How long an open breaker refuses traffic before probes may pass.', 30000),
    half_open_probes: {
      type: 'integer',
      minimum: 1,
      default: 1,
      description: 'Requests let through at once while half-open.',
    },
    slow_call_ms: ms(
      'A call whose response headers take at least this long is slow (latency-aware opening, after Caddy’s `unhealthy_latency`). 0: off.',
      0,
      0,
    ),
    slow_call_rate_percent: percent('Opens when slow calls exceed this share (%) of the window.', 50),
  },
} as const;

export const upstreamOutlierDetection = {
  title: 'UpstreamOutlierDetection',
  type: 'object',
  description:
    'Ejects a target after consecutive server errors (5xx or transport failures), after Envoy’s consecutive_5xx: the n-th ejection lasts n × `base_ejection_ms`, up to `max_ejection_ms`. Absent: no ejection.',
  additionalProperties: false,
  properties: {
    consecutive_failures: {
      type: 'integer',
      minimum: 1,
      default: 5,
      description: 'Consecutive failures that eject the target.',
    },
    base_ejection_ms: ms('First ejection time.', 30000),
    max_ejection_ms: ms('Longest ejection.', 300000),
    max_ejection_percent: percent(
      'Share (%) of the group’s targets that may be ejected at once (a group of two or more may always eject one).',
      50,
    ),
  },
} as const;

export const upstreamHealthCheck = {
  title: 'UpstreamHealthCheck',
  type: 'object',
  description:
    'Active health checks of every target, feeding the same health state as the breaker and outlier detection: a target that fails `unhealthy_threshold` checks in a row takes no traffic until it passes `healthy_threshold` in a row. Absent: passive detection only.',
  additionalProperties: false,
  required: ['path'],
  properties: {
    path: {
      type: 'string',
      pattern: '^/',
      description:
        "Path checked, after the target URL's path (e.g. `/models` for `https://api.openai.com/v1`).",
    },
    method: { type: 'string', enum: ['GET', 'HEAD'], default: 'GET', description: 'Method of the check.' },
    interval_ms: ms('Time between the end of one check and the start of the next.', 10000),
    timeout_ms: ms('A check without an answer in this time fails.', 2000),
    healthy_threshold: {
      type: 'integer',
      minimum: 1,
      default: 2,
      description: 'Passed checks in a row that make a failing target healthy again.',
    },
    unhealthy_threshold: {
      type: 'integer',
      minimum: 1,
      default: 3,
      description: 'Failed checks in a row that take a target out.',
    },
    expected_statuses: {
      type: 'array',
      default: [],
      items: { type: 'integer', minimum: 100, maximum: 599 },
      description: 'Statuses that pass. Empty: any 2xx or 3xx.',
    },
  },
} as const;

export const upstreamRetryBudget = {
  title: 'UpstreamRetryBudget',
  type: 'object',
  description:
    'Bounds the retries and hedges of the routes whose `upstream` this is, over all of them (after Finagle’s RetryBudget): in any window, retries ≤ `ratio` × requests + `min_retries_per_second` × the window, so a failing provider is never hammered. Retries that fail over to another upstream still draw on this one.',
  additionalProperties: false,
  default: {},
  properties: {
    ratio: {
      type: 'number',
      minimum: 0,
      default: 0.2,
      description: 'Share of requests that may be retried or hedged.',
    },
    min_retries_per_second: {
      type: 'number',
      minimum: 0,
      default: 1,
      description: 'Retries allowed whatever the traffic, so a quiet route can still retry.',
    },
    window_ms: ms('Length of the sliding window the counts cover.', 10000, 10),
  },
} as const;

export const routeRetry = {
  title: 'RouteRetry',
  type: 'object',
  description:
    'Retries of failed upstream attempts: connect errors, timeouts and resets before response headers, the `statuses`, and 429 (after its `Retry-After`). Never after the first byte went to the client. A retry goes to another target when one is available. Absent: no retries.',
  additionalProperties: false,
  properties: {
    attempts: {
      type: 'integer',
      minimum: 1,
      maximum: 10,
      default: 3,
      description: 'Attempts per request, the first included.',
    },
    statuses: {
      type: 'array',
      default: [502, 503, 504],
      items: { type: 'integer', minimum: 500, maximum: 599 },
      uniqueItems: true,
      description: 'Response statuses retried (besides 429).',
    },
    rate_limited: {
      type: 'boolean',
      default: true,
      description: 'Retry 429 answers, after their `Retry-After`.',
    },
    max_retry_after_ms: ms(
      'A `Retry-After` longer than this is not waited for: the 429 (or 503) goes to the client.',
      10000,
      0,
    ),
    non_idempotent: {
      type: 'boolean',
      description:
        'Retry POST and PATCH too. Absent: yes on openai and anthropic routes (a completion that failed before its headers was not produced), no on passthrough routes.',
    },
    base_delay_ms: ms('Backoff before the first retry: full jitter over [0, base × 2ⁿ].', 100, 0),
    max_delay_ms: ms('Backoff ceiling.', 2000, 0),
    per_try_timeout_ms: {
      type: 'integer',
      minimum: 1,
      description:
        "Time one attempt may take to send its response headers, in milliseconds. Absent: the route's upstream's `timeouts.headers_ms` (a non-streamed answer sends its headers only when complete, so a shorter per-try timeout resends slow requests that are still being worked on).",
    },
  },
} as const;

export const routeHedge = {
  title: 'RouteHedge',
  type: 'object',
  description:
    'Hedged requests (opt-in: a hedge can cost tokens): when an attempt has no response headers after a delay, send another to a different target and take whichever answers first; the other is aborted. Hedges are withdrawn from the retry budget. Absent: no hedging.',
  additionalProperties: false,
  properties: {
    delay_ms: {
      type: 'integer',
      minimum: 0,
      description:
        'Fixed delay before a hedge. Absent: the target’s observed `quantile` of time to headers, within [min_delay_ms, max_delay_ms].',
    },
    quantile: {
      type: 'number',
      exclusiveMinimum: 0,
      exclusiveMaximum: 1,
      default: 0.95,
      description: 'Quantile of the target’s recent times to headers used as the delay.',
    },
    min_delay_ms: ms('Least learned delay.', 50, 0),
    max_delay_ms: ms('Largest learned delay; also the delay until enough samples are seen.', 10000),
    max_hedges: {
      type: 'integer',
      minimum: 1,
      maximum: 3,
      default: 1,
      description: 'Hedges at most, on top of the first attempt.',
    },
  },
} as const;

export const routeFailover = {
  type: 'array',
  description:
    'Upstreams tried, in order, after `upstream` when it has no target that may take traffic, or its attempts failed in a way that may be retried. Each has its own targets, breakers and budget.',
  items: { type: 'string' },
  uniqueItems: true,
} as const;
