/**
 * The cache's config: the tiers (`cache`, top level) and what each route caches (`routes[].cache`,
 * `routes[].dedupe`). Keys, tiers and replay are described in docs/caching.md.
 */

const positiveInteger = (description: string, defaultValue: number, minimum = 1) => ({
  type: 'integer',
  minimum,
  default: defaultValue,
  description,
});

const redisNode = {
  title: 'RedisNode',
  type: 'object',
  additionalProperties: false,
  required: ['host', 'port'],
  properties: {
    host: { type: 'string', minLength: 1 },
    port: { type: 'integer', minimum: 1, maximum: 65535 },
  },
} as const;

/** One Redis connection's settings; the same shape wherever Sluice uses Redis. */
export const redisConnection = (title: string, description: string) =>
  ({
    title,
    type: 'object',
    description,
    additionalProperties: false,
    properties: {
      url: {
        type: 'string',
        pattern: '^rediss?://',
        description: 'One Redis server: `redis://[user:password@]host:port[/db]` (`rediss://` for TLS).',
      },
      sentinels: {
        type: 'array',
        items: redisNode,
        minItems: 1,
        description: 'Redis Sentinel nodes; Sluice follows the master they name.',
      },
      sentinel_name: { type: 'string', description: 'The master group name the sentinels watch.' },
      cluster: {
        type: 'array',
        items: redisNode,
        minItems: 1,
        description: 'Redis Cluster seed nodes. Keys are hash-tagged so one entry lives in one slot.',
      },
      password: {
        type: 'string',
        description:
          'AUTH password. Take it from an environment variable (the config interpolates them), never write it here.',
      },
      key_prefix: {
        type: 'string',
        pattern: '^[A-Za-z0-9:_-]{1,64}$',
        default: 'sluice',
        description: 'Prefix of every key Sluice writes, so several deployments can share a Redis.',
      },
      command_timeout_ms: positiveInteger(
        'A Redis command that takes longer fails: the cache goes on without L2, a rate limit follows its `on_store_error`. Milliseconds.',
        100,
      ),
      compress_above_bytes: positiveInteger(
        'Cache entries larger than this are stored compressed (zstd); unused by rate limits. Bytes.',
        1024,
        0,
      ),
    },
  }) as const;

export const cacheTiers = {
  title: 'CacheConfig',
  type: 'object',
  description: 'Where cached responses live. Routes opt in with `routes[].cache`.',
  additionalProperties: false,
  default: {},
  properties: {
    l1_max_bytes: positiveInteger(
      'Memory the in-process L1 tier may use for entries (their bodies, headers and keys). Bytes.',
      67108864,
      0,
    ),
    max_entry_bytes: positiveInteger(
      'Responses larger than this are never stored, in either tier (streams are counted as they arrive). Bytes.',
      4194304,
    ),
    redis: redisConnection(
      'RedisConfig',
      'The shared L2 tier. Give exactly one of `url` (one server), `sentinels` with `sentinel_name`, or `cluster`. Without it, the cache is L1 only.',
    ),
  },
} as const;

const acrossReplicas = {
  title: 'RouteCacheAcrossReplicasConfig',
  type: 'object',
  description:
    'Share one upstream call among identical requests in flight on every replica, not only within one, through a lock in Redis (needs `cache.redis`): the replica holding it calls, the others wait for its stored answer (`COALESCED`). A waiting stream gets its first byte only once the other replica’s stream is complete, so this suits routes where duplicate calls are expensive, not latency-critical streaming. Redis failing turns it off, request by request. `{}` takes the defaults.',
  additionalProperties: false,
  properties: {
    wait_seconds: {
      type: 'number',
      exclusiveMinimum: 0,
      maximum: 600,
      default: 30,
      description:
        'The longest a replica waits for another replica’s answer before calling the upstream itself; also how long a lock outlives a replica that died holding it. Give it more than the route’s usual response time. Seconds.',
    },
  },
} as const;

export const routeCache = {
  title: 'RouteCacheConfig',
  type: 'object',
  description:
    'Cache this route’s LLM answers (openai and anthropic POST operations): identical requests from the same tenant get the stored answer, streams replayed byte for byte.',
  additionalProperties: false,
  required: ['ttl_seconds'],
  properties: {
    ttl_seconds: {
      type: 'integer',
      minimum: 1,
      description: 'How long an answer is served from the cache. Seconds.',
    },
    ignore_fields: {
      type: 'array',
      items: { type: 'string', minLength: 1 },
      default: ['user', 'metadata'],
      description: 'Top-level request fields left out of the key (per-user ids, tracing metadata).',
    },
    when: {
      type: 'object',
      default: {},
      description:
        'Only cache requests whose top-level fields equal these values (e.g. `{temperature: 0}`); a request without the field does not match. Empty: every request.',
    },
    tenant_header: {
      type: 'string',
      pattern: '^[A-Za-z0-9-]+$',
      description:
        'Header that names the tenant. Without it, the tenant is a hash of the credential (`authorization`, `x-api-key` or `api-key`), so two API keys never share an answer.',
    },
    follower_retry: {
      type: 'boolean',
      default: false,
      description:
        'When the call that identical requests were sharing fails before answering, its followers make one call of their own (shared among them) instead of getting the same error.',
    },
    allow_client_bypass: {
      type: 'boolean',
      default: true,
      description:
        'Honour `cache-control: no-store` / `no-cache` and `x-sluice-cache: refresh` from clients. Off: the cache decides alone.',
    },
    across_replicas: acrossReplicas,
  },
} as const;

export const routeDedupe = {
  type: 'boolean',
  default: false,
  description:
    'Identical requests in flight at the same time share one upstream call (single-flight), on routes with or without `cache`; routes with `cache` always do.',
} as const;

export const routeHttpCache = {
  title: 'RouteHttpCacheConfig',
  type: 'object',
  description:
    'Cache this route’s GET responses as a shared HTTP cache (RFC 9111): freshness, `Vary`, revalidation with ETag / Last-Modified, `stale-while-revalidate` and `stale-if-error` as the upstream’s headers say. Any protocol (e.g. `/v1/models`). Unsafe requests (POST, PUT, PATCH, DELETE) answered with 2xx or 3xx drop what is stored for their URI. `{}` turns it on with the defaults.',
  additionalProperties: false,
  properties: {
    shared: {
      type: 'boolean',
      default: true,
      description:
        'Behave as a shared cache: responses marked `private` are not stored. Off only where one client identity uses the route (a sidecar): `private` responses are then stored too, still per credential.',
    },
    cache_authorized: {
      type: 'boolean',
      default: false,
      description:
        'Store responses to requests that carry a credential (`authorization`, `x-api-key`, `api-key`) even when the response does not allow it with `public`, `s-maxage` or `must-revalidate`. Either way such entries are kept per credential (a hash of it) and never served to another.',
    },
    default_ttl_seconds: {
      type: 'integer',
      minimum: 0,
      default: 0,
      description:
        'Freshness of a cacheable response that states none (no `max-age`, `s-maxage`, `Expires` or `immutable`; never overrides `no-cache`). 0: only what the upstream states, plus the RFC 9111 heuristic of a tenth of the time since `Last-Modified`. Seconds.',
    },
    max_stale_seconds: {
      type: 'integer',
      minimum: 0,
      default: 86400,
      description:
        'The longest a response is served past its freshness under the upstream’s `stale-while-revalidate` / `stale-if-error` (their values are capped at this), and how long a stale response with a validator (ETag, Last-Modified) is kept for revalidation. Seconds.',
    },
  },
} as const;
