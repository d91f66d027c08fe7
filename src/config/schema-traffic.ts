/**
 * Traffic control's config: the rate-limit store and priority classes (`limits`, top level), each
 * route's rate-limit policies, `max_tokens` cap, priority and concurrency limit, and each
 * upstream's concurrency limit. Algorithms and guarantees are described in docs/traffic-control.md.
 */
import { redisConnection } from './schema-cache.ts';

const keySource = {
  type: 'string',
  pattern: '^(credential|client_ip|route|model|header:[A-Za-z0-9-]+)$',
  description:
    '`credential` (a hash of `authorization`, `x-api-key` or `api-key`), `client_ip` (after `listener.trusted_hops`), `route`, `model` (the requested one), or `header:<name>`.',
} as const;

const ratePolicy = {
  title: 'RateLimitPolicyConfig',
  type: 'object',
  additionalProperties: false,
  required: ['name', 'limit', 'window_seconds'],
  properties: {
    name: {
      type: 'string',
      pattern: '^[a-z0-9][a-z0-9_-]{0,62}$',
      description:
        'Names the policy in metrics, logs and the `RateLimit-Policy` header; unique within the route.',
    },
    key: {
      type: 'array',
      items: keySource,
      minItems: 1,
      uniqueItems: true,
      default: ['credential'],
      description:
        'What one budget is kept per; several sources combine (e.g. `[credential, model]`: per key and model). A request without the source (no header, no model) shares the budget of all such requests.',
    },
    unit: {
      type: 'string',
      enum: ['requests', 'tokens'],
      default: 'requests',
      description:
        '`tokens` (openai/anthropic routes): each request reserves its estimated input plus `max_tokens` (or `limits.default_output_tokens`) at admission, and the reservation is corrected to the usage the provider reported when the response ends.',
    },
    algorithm: {
      type: 'string',
      enum: ['sliding_window', 'token_bucket'],
      default: 'sliding_window',
      description:
        '`sliding_window`: at most `limit` per `window_seconds`, weighted over the previous and current window (bound in docs/traffic-control.md). `token_bucket`: refills `limit` per `window_seconds` continuously, holds at most `burst`.',
    },
    limit: { type: 'number', exclusiveMinimum: 0, description: 'Units (requests or tokens) per window.' },
    window_seconds: { type: 'number', exclusiveMinimum: 0, maximum: 86400, description: 'Seconds.' },
    burst: {
      type: 'number',
      exclusiveMinimum: 0,
      description: '`token_bucket` only: the most units that can be spent at once. Default: `limit`.',
    },
    store: {
      type: 'string',
      enum: ['memory', 'redis'],
      default: 'memory',
      description:
        '`memory`: per replica. `redis` (needs `limits.redis`): one budget across all replicas, decided atomically in Redis on its clock.',
    },
    on_store_error: {
      type: 'string',
      enum: ['fail_open', 'fail_closed'],
      default: 'fail_open',
      description:
        'With `store: redis`, while Redis is unavailable: `fail_open` decides with a per-replica limiter, `fail_closed` answers 503 with `Retry-After`.',
    },
    shadow: {
      type: 'boolean',
      default: false,
      description: 'Count and log what the policy would reject, but let every request through (for rollout).',
    },
  },
} as const;

const priorityClassName = { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,30}$' } as const;

export const routeRateLimits = {
  type: 'array',
  items: ratePolicy,
  description: 'Rate-limit policies; a request must pass every one. The tightest decides the headers.',
} as const;

export const routeMaxTokens = {
  title: 'RouteMaxTokensConfig',
  type: 'object',
  additionalProperties: false,
  required: ['max'],
  description: 'openai/anthropic routes: a ceiling on the output tokens a request may ask for.',
  properties: {
    max: { type: 'integer', minimum: 1, description: 'The largest `max_tokens` (or its variants) allowed.' },
    action: {
      type: 'string',
      enum: ['cap', 'reject'],
      default: 'reject',
      description: '`cap`: lower the request’s value to `max` before forwarding. `reject`: answer 400.',
    },
  },
} as const;

export const routePriority = {
  title: 'RoutePriorityConfig',
  type: 'object',
  additionalProperties: false,
  description: 'The priority class of this route’s requests in concurrency queues (FIFO within a class).',
  properties: {
    class: { ...priorityClassName, description: 'The class of requests without a mapped header value.' },
    header: {
      type: 'string',
      pattern: '^[A-Za-z0-9-]+$',
      description: 'Request header whose value picks the class through `header_classes`.',
    },
    header_classes: {
      type: 'object',
      additionalProperties: priorityClassName,
      default: {},
      description: 'Header value → class. Values not listed take `class`.',
    },
  },
} as const;

const adaptive = {
  title: 'AdaptiveConcurrencyConfig',
  type: 'object',
  additionalProperties: false,
  required: ['algorithm'],
  description:
    'Move the limit with upstream latency: lower it when latency rises, raise it when it falls. `max_in_flight` is the starting point.',
  properties: {
    algorithm: {
      type: 'string',
      enum: ['gradient', 'aimd'],
      description:
        '`gradient` (after Netflix Gradient2): compares short- and long-term latency. `aimd`: multiplicative decrease when latency passes `latency_threshold_ms` or the upstream signals overload, additive increase otherwise.',
    },
    min_limit: { type: 'integer', minimum: 1, default: 1, description: 'The limit never goes below this.' },
    max_limit: {
      type: 'integer',
      minimum: 1,
      default: 1000,
      description: 'The limit never goes above this.',
    },
    latency_threshold_ms: {
      type: 'number',
      exclusiveMinimum: 0,
      description: '`aimd`: a response slower than this counts as overload. Milliseconds. Default: 5000.',
    },
    backoff_ratio: {
      type: 'number',
      exclusiveMinimum: 0,
      exclusiveMaximum: 1,
      description: '`aimd`: the factor the limit is multiplied by on overload. Default: 0.9.',
    },
    tolerance: {
      type: 'number',
      minimum: 1,
      description:
        '`gradient`: how much slower than the long-term latency still counts as normal. Default: 1.5.',
    },
  },
} as const;

export const concurrency = {
  title: 'ConcurrencyConfig',
  type: 'object',
  additionalProperties: false,
  required: ['max_in_flight'],
  description:
    'A limit on requests in flight, with a bounded priority queue in front of it. A request that waits past `queue.timeout_ms`, or finds the queue full, gets 503 with `Retry-After`.',
  properties: {
    max_in_flight: { type: 'integer', minimum: 1, description: 'Requests in flight at once.' },
    queue: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        max_size: {
          type: 'integer',
          minimum: 0,
          default: 100,
          description: 'Requests that may wait; 0 rejects at once when the limit is reached.',
        },
        timeout_ms: {
          type: 'integer',
          minimum: 1,
          default: 10000,
          description: 'The longest a request waits for a slot. Milliseconds.',
        },
      },
    },
    adaptive,
  },
} as const;

export const limits = {
  title: 'LimitsConfig',
  type: 'object',
  additionalProperties: false,
  default: {},
  description: 'What every route’s rate limits and concurrency queues share.',
  properties: {
    redis: redisConnection(
      'LimitsRedisConfig',
      'The store of rate-limit policies with `store: redis`. Give exactly one of `url`, `sentinels` with `sentinel_name`, or `cluster`.',
    ),
    default_output_tokens: {
      type: 'integer',
      minimum: 1,
      default: 1024,
      description:
        'Output tokens a `unit: tokens` policy reserves for a request that sets no `max_tokens` (corrected to the real usage afterwards).',
    },
    priority_classes: {
      type: 'array',
      items: priorityClassName,
      minItems: 1,
      uniqueItems: true,
      default: ['interactive', 'default', 'batch'],
      description: 'Priority classes, highest first. Routes name one with `priority.class`.',
    },
  },
} as const;
