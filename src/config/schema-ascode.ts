/**
 * The config sections that only `sluice generate` reads: alert thresholds and SLOs. The proxy
 * itself ignores them, so a reload that changes them changes nothing until the rules are
 * regenerated and loaded into Prometheus.
 */

const ratio = (description: string, defaultValue?: number) => ({
  type: 'number',
  exclusiveMinimum: 0,
  maximum: 1,
  ...(defaultValue === undefined ? {} : { default: defaultValue }),
  description: `${description} A ratio between 0 and 1.`,
});

const seconds = (description: string, defaultValue?: number) => ({
  type: 'number',
  exclusiveMinimum: 0,
  ...(defaultValue === undefined ? {} : { default: defaultValue }),
  description: `${description} Seconds.`,
});

const queueDepth = (description: string, defaultValue?: number) => ({
  type: 'number',
  exclusiveMinimum: 0,
  ...(defaultValue === undefined ? {} : { default: defaultValue }),
  description: `${description} Requests.`,
});

const tripRate = (description: string, defaultValue?: number) => ({
  type: 'number',
  exclusiveMinimum: 0,
  ...(defaultValue === undefined ? {} : { default: defaultValue }),
  description: `${description} Trips per second (0.005 is 4.5 trips in 15 minutes).`,
});

/** The concurrency thresholds, per limiter: routes and upstreams each have their own. */
const limiterAlerts = (owner: 'route' | 'upstream') => ({
  concurrency_queue_depth: queueDepth(
    `Requests waiting for the ${owner}’s concurrency limiter, summed over instances and priority classes, above which SluiceConcurrencyQueueBacklog fires.`,
  ),
  concurrency_queue_wait_p95_seconds: seconds(
    `p95 wait for a slot of the ${owner}’s concurrency limiter that fires SluiceConcurrencyQueueWaitHigh; keep it below the limiter’s \`queue.timeout_ms\`.`,
  ),
});

const routeAlerts = {
  title: 'RouteAlertConfig',
  type: 'object',
  description: 'Thresholds for one route; unset keys take the `alerts` defaults.',
  additionalProperties: false,
  properties: {
    error_ratio: ratio('Share of 5xx responses over 5 minutes that fires SluiceRouteErrorRatioHigh.'),
    latency_p95_seconds: seconds(
      'p95 request duration (over 5 minutes, held for 10) that fires SluiceRouteLatencyHigh.',
    ),
    min_requests_per_second: {
      type: 'number',
      exclusiveMinimum: 0,
      description:
        'Fire SluiceRouteThroughputLow when the route serves fewer requests per second than this for 15 minutes. Unset: no throughput alert for the route.',
    },
    cache_l1_hit_ratio: ratio(
      'Share of the route’s cache lookups answered by L1 below which SluiceCacheL1HitRatioLow fires.',
    ),
    cache_l2_hit_ratio: ratio(
      'Share of the route’s L1 misses answered by L2 (Redis) below which SluiceCacheL2HitRatioLow fires.',
    ),
    cache_hit_ratio: ratio(
      'Share of the route’s cache lookups answered by either tier below which SluiceCacheHitRatioLow fires.',
    ),
    rate_limit_rejection_ratio: ratio(
      'Share of the route’s requests its rate limits refuse (429, or 503 while Redis is away and a policy fails closed) that fires SluiceRateLimitRejectionsSurge.',
    ),
    compression_ratio: ratio(
      'Compressed size as a share of the original, over 30 minutes, above which SluiceCompressionRatioLow fires for the route.',
    ),
    ...limiterAlerts('route'),
  },
} as const;

const upstreamAlerts = {
  title: 'UpstreamAlertConfig',
  type: 'object',
  description: 'Thresholds for one upstream; unset keys take the `alerts` defaults.',
  additionalProperties: false,
  properties: {
    error_ratio: ratio(
      'Share of upstream attempts that fail without a usable response (connect errors, resets, timeouts) that fires SluiceUpstreamErrorsHigh.',
    ),
    pool_utilization: ratio(
      'Share of the connection pool busy (connected minus free, over the maximum) that fires SluiceUpstreamPoolSaturated.',
    ),
    pool_wait_p95_seconds: seconds(
      'p95 wait for an upstream connection that fires SluiceUpstreamPoolWaitHigh.',
    ),
    breaker_trips_per_second: tripRate(
      'Breaker trips from closed per second of one of the upstream’s targets, over 15 minutes and summed over instances, that fires SluiceUpstreamBreakerFlapping.',
    ),
    ...limiterAlerts('upstream'),
  },
} as const;

const namePattern = '^[a-z0-9][a-z0-9_-]{0,62}$';

export const alerts = {
  title: 'AlertsConfig',
  type: 'object',
  description:
    'Thresholds for the Prometheus alert rules `sluice generate rules` writes (docs/alerts.md). Defaults apply to every route and upstream; `routes` and `upstreams` override them by name.',
  additionalProperties: false,
  default: {},
  properties: {
    selector: {
      type: 'string',
      default: 'job="sluice"',
      description:
        'PromQL label matchers that select Sluice’s series in your Prometheus (the scrape job, a namespace), added to every generated expression. Empty: no extra matchers.',
    },
    runbook_url: {
      type: 'string',
      default: 'docs/runbooks/{alert}.md',
      pattern: '\\{alert\\}',
      description:
        'The `runbook_url` annotation of every alert; `{alert}` is replaced by the alert name. Set it to where your on-call can open docs/runbooks (e.g. `https://git.example.com/sluice/blob/main/docs/runbooks/{alert}.md`).',
    },
    disabled: {
      type: 'array',
      items: { type: 'string', pattern: '^Sluice[A-Za-z0-9]+$' },
      default: [],
      description: 'Alert names not to generate (e.g. `SluiceMemoryHigh`).',
    },
    error_ratio: ratio(
      'Default share of 5xx responses per route that fires SluiceRouteErrorRatioHigh.',
      0.05,
    ),
    latency_p95_seconds: seconds(
      'Default p95 request duration per route that fires SluiceRouteLatencyHigh (whole responses: streams count until their last byte).',
      120,
    ),
    upstream_error_ratio: ratio(
      'Default share of failed upstream attempts that fires SluiceUpstreamErrorsHigh.',
      0.05,
    ),
    pool_utilization: ratio(
      'Default connection-pool utilization that fires SluiceUpstreamPoolSaturated.',
      0.9,
    ),
    pool_wait_p95_seconds: seconds('Default p95 connection wait that fires SluiceUpstreamPoolWaitHigh.', 0.1),
    memory_bytes: {
      type: 'integer',
      minimum: 1,
      default: 1073741824,
      description: 'Resident memory of a Sluice process that fires SluiceMemoryHigh. Bytes.',
    },
    event_loop_delay_seconds: seconds(
      'p99 event-loop delay of a Sluice process that fires SluiceEventLoopDelayHigh.',
      0.1,
    ),
    cache_l1_hit_ratio: ratio(
      'Default share of a cached route’s lookups answered by the in-process L1 tier below which SluiceCacheL1HitRatioLow fires (over 5 minutes, held for 30).',
      0.5,
    ),
    cache_l2_hit_ratio: ratio(
      'Default share of a cached route’s L1 misses answered by Redis (L2) below which SluiceCacheL2HitRatioLow fires. Only with `cache.redis`.',
      0.5,
    ),
    cache_hit_ratio: ratio(
      'Default share of a cached route’s lookups answered by either tier below which SluiceCacheHitRatioLow fires. Only with both tiers: with one, it is that tier’s ratio.',
      0.3,
    ),
    cache_min_lookups_per_second: {
      type: 'number',
      minimum: 0,
      default: 0.1,
      description:
        'The hit-ratio alerts ignore a route with fewer cache lookups per second than this (summed over instances), so a handful of requests on a quiet route cannot fire them.',
    },
    cache_l1_utilization: ratio(
      'Share of `cache.l1_max_bytes` in use, while the L1 tier evicts answers before they expire, that fires SluiceCacheL1Full.',
      0.9,
    ),
    cache_l2_error_ratio: ratio(
      'Share of Redis (L2) commands that fail or time out that fires SluiceCacheL2Failing (which also fires while L2 is down).',
      0.05,
    ),
    rate_limit_rejection_ratio: ratio(
      'Default share of a route’s requests its rate limits refuse (429, or 503 while Redis is away and a policy fails closed; shadow policies do not count) that fires SluiceRateLimitRejectionsSurge (over 5 minutes, held for 10). Only for routes with `rate_limits`.',
      0.1,
    ),
    rate_limit_min_requests_per_second: {
      type: 'number',
      minimum: 0,
      default: 0.1,
      description:
        'SluiceRateLimitRejectionsSurge ignores a route whose rate limits decide on fewer requests per second than this (summed over instances), so one client retrying on a quiet route cannot fire it.',
    },
    concurrency_queue_depth: queueDepth(
      'Default number of requests waiting for one concurrency limiter (a route’s or an upstream’s), summed over instances and priority classes, above which SluiceConcurrencyQueueBacklog fires (held for 5 minutes).',
      100,
    ),
    concurrency_queue_wait_p95_seconds: seconds(
      'Default p95 wait for a slot of one concurrency limiter, over every instance and priority class, that fires SluiceConcurrencyQueueWaitHigh (over 5 minutes, held for 10). Rejected waits count too; keep it below the limiters’ `queue.timeout_ms`.',
      5,
    ),
    breaker_trips_per_second: tripRate(
      'Default rate at which one target’s breaker trips from closed (error_rate or slow_calls; re-opening after a failed probe does not count), over 15 minutes and summed over instances, that fires SluiceUpstreamBreakerFlapping (held for 5 minutes). One instance’s breaker trips at most about once per `breaker.reset_timeout_ms` plus the time to refill its window. Only for upstreams with `breaker`, `outlier_detection` or `health_check`.',
      0.005,
    ),
    compression_ratio: ratio(
      'Default compressed size as a share of the original (bytes out ÷ bytes in, over 30 minutes and summed over instances and codings) above which SluiceCompressionRatioLow fires (held for 30 minutes): 0.5 means compression saves less than half. Only for routes with `compression`.',
      0.5,
    ),
    compression_min_bytes_per_second: {
      type: 'number',
      minimum: 0,
      default: 10240,
      description:
        'SluiceCompressionRatioLow ignores a route that compresses fewer bytes per second than this (uncompressed, over 30 minutes and summed over instances), so a few small bodies on a quiet route cannot fire it. Bytes per second.',
    },
    routes: {
      type: 'object',
      default: {},
      description: 'Per-route thresholds, by route name.',
      propertyNames: { pattern: namePattern },
      additionalProperties: routeAlerts,
    },
    upstreams: {
      type: 'object',
      default: {},
      description: 'Per-upstream thresholds, by upstream name.',
      propertyNames: { pattern: namePattern },
      additionalProperties: upstreamAlerts,
    },
  },
} as const;

const slo = {
  title: 'SloConfig',
  type: 'object',
  description: 'One service-level objective over a route’s requests.',
  additionalProperties: false,
  required: ['name', 'route', 'sli', 'objective'],
  properties: {
    name: {
      type: 'string',
      pattern: namePattern,
      description: 'Unique name; the `sloth_slo` label of its rules.',
    },
    route: { type: 'string', description: 'The route whose requests the SLI counts.' },
    sli: {
      type: 'string',
      enum: ['availability', 'latency'],
      description:
        '`availability`: a request is bad when its response is a 5xx. `latency`: a request is bad when it took longer than `latency_threshold_seconds`.',
    },
    objective: {
      type: 'number',
      exclusiveMinimum: 0,
      exclusiveMaximum: 100,
      description: 'Share of good requests to keep over the period, in percent (e.g. 99.9).',
    },
    latency_threshold_seconds: {
      type: 'number',
      exclusiveMinimum: 0,
      description:
        'latency SLIs: the threshold. It must be a bucket boundary of `sluice_http_request_duration_seconds` (the check lists them).',
    },
    period_days: {
      type: 'integer',
      minimum: 1,
      maximum: 90,
      default: 30,
      description: 'The SLO period (error-budget window), in days.',
    },
    description: { type: 'string', description: 'What the SLO promises, for the rule annotations.' },
  },
} as const;

export const slos = {
  type: 'array',
  default: [],
  description:
    'Service-level objectives. `sluice generate rules` writes Sloth-shaped SLI, error-budget and multi-window burn-rate rules for them (docs/alerts.md).',
  items: slo,
} as const;
