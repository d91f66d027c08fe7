/**
 * The metric catalog: every metric Sluice exports, declared once. The registry registers from it,
 * and the rule and dashboard generators may only name metrics through it, so a rename cannot leave
 * an alert or a panel behind. Labels are bounded sets: route and upstream names come from the
 * config, `code` from the HTTP status, `method` from a fixed list (anything else is `OTHER`).
 */
import { compressionMetrics } from './catalog-compression.ts';
import { resilienceMetrics } from './catalog-resilience.ts';

export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface MetricSpec {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  /** The base unit, as in the name's suffix (seconds, bytes) or '' for plain counts. */
  readonly unit: 'seconds' | 'bytes' | 'ratio' | 'timestamp_seconds' | '';
  readonly labels: readonly string[];
  readonly buckets?: readonly number[];
  /**
   * Not registered by Sluice itself: `runtime` metrics come from prom-client's default Node.js
   * collectors, `prometheus` ones are written by Prometheus for every scrape (`up`).
   */
  readonly external?: 'runtime' | 'prometheus';
  /**
   * The name is fixed by a semantic convention (the Prometheus form of an OpenTelemetry GenAI
   * metric), so it carries that convention's prefix instead of `sluice_`.
   */
  readonly convention?: 'opentelemetry-genai';
}

/** Sluice's own share of a request is tens of µs to a few ms. */
const overheadBuckets = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1];
/** LLM calls span tens of ms (embeddings, cached answers) to minutes (long generations). */
const llmLatencyBuckets = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160, 320];
/** The GenAI conventions' advice for operation durations, extended to minutes for long generations. */
const genAiDurationBuckets = [
  0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92, 163.84, 327.68,
];
/** The GenAI conventions' advice for token counts (powers of 4). */
const tokenBuckets = [
  1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
];
/** The conventions' advice, extended to minutes: reasoning models think long before the first token. */
const timeToFirstTokenBuckets = [
  0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 320,
];
/** The conventions' advice, extended down for fast small models and cached replays. */
const timePerOutputTokenBuckets = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5,
];
/** The GenAI request labels: operation, provider (from the route protocol) and the bounded model label. */
const genAiLabels = [
  'route',
  'gen_ai_operation_name',
  'gen_ai_provider_name',
  'gen_ai_request_model',
] as const;
const poolWaitBuckets = [0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export const metricCatalog = {
  requests: {
    name: 'sluice_http_requests_total',
    type: 'counter',
    help: 'Requests answered to clients, by route, upstream, method and status code.',
    unit: '',
    labels: ['route', 'upstream', 'method', 'code'],
  },
  requestDuration: {
    name: 'sluice_http_request_duration_seconds',
    type: 'histogram',
    help: 'Time from request received to the last response byte written to the client.',
    unit: 'seconds',
    labels: ['route', 'upstream', 'method', 'code'],
    buckets: llmLatencyBuckets,
  },
  requestsInFlight: {
    name: 'sluice_http_requests_in_flight',
    type: 'gauge',
    help: 'Client requests being handled right now.',
    unit: '',
    labels: ['route'],
  },
  requestBytes: {
    name: 'sluice_http_request_body_bytes_total',
    type: 'counter',
    help: 'Request body bytes received from clients.',
    unit: 'bytes',
    labels: ['route'],
  },
  responseBytes: {
    name: 'sluice_http_response_body_bytes_total',
    type: 'counter',
    help: 'Response body bytes sent to clients.',
    unit: 'bytes',
    labels: ['route'],
  },
  overhead: {
    name: 'sluice_overhead_seconds',
    type: 'histogram',
    help: 'Time Sluice itself spent on a request, excluding waits on the upstream and on the client.',
    unit: 'seconds',
    labels: ['route'],
    buckets: overheadBuckets,
  },
  stageDuration: {
    name: 'sluice_stage_duration_seconds',
    type: 'histogram',
    help: 'Time each pipeline stage took on a request, excluding the stages after it (includes what the stage waited for).',
    unit: 'seconds',
    labels: ['route', 'stage'],
    buckets: [...overheadBuckets, 0.25, 1, 5, 30, 120],
  },
  upstreamTimeToHeaders: {
    name: 'sluice_upstream_time_to_headers_seconds',
    type: 'histogram',
    help: 'Time from dispatching a request upstream to receiving its response headers.',
    unit: 'seconds',
    labels: ['upstream', 'code'],
    buckets: llmLatencyBuckets,
  },
  upstreamDuration: {
    name: 'sluice_upstream_duration_seconds',
    type: 'histogram',
    help: 'Time from dispatching a request upstream to the last byte of its response.',
    unit: 'seconds',
    labels: ['upstream', 'code'],
    buckets: llmLatencyBuckets,
  },
  upstreamErrors: {
    name: 'sluice_upstream_errors_total',
    type: 'counter',
    help: 'Upstream attempts that failed without a usable response, by Sluice error code.',
    unit: '',
    labels: ['upstream', 'error'],
  },
  upstreamPoolConnections: {
    name: 'sluice_upstream_pool_connections',
    type: 'gauge',
    help: 'Upstream connection pool state from undici (connected, free, running, pending, queued).',
    unit: '',
    labels: ['upstream', 'state'],
  },
  upstreamPoolSize: {
    name: 'sluice_upstream_pool_max_connections',
    type: 'gauge',
    help: 'Configured maximum connections per upstream pool.',
    unit: '',
    labels: ['upstream'],
  },
  upstreamPoolWait: {
    name: 'sluice_upstream_pool_wait_seconds',
    type: 'histogram',
    help: 'Time a request waited for an upstream connection (queueing plus connecting) before it was sent.',
    unit: 'seconds',
    labels: ['upstream'],
    buckets: poolWaitBuckets,
  },
  ...resilienceMetrics,
  ...compressionMetrics,
  clientAborts: {
    name: 'sluice_client_aborts_total',
    type: 'counter',
    help: 'Requests whose client went away before the response was complete.',
    unit: '',
    labels: ['route'],
  },
  rejections: {
    name: 'sluice_http_rejections_total',
    type: 'counter',
    help: 'Requests Sluice answered itself without forwarding, by Sluice error code.',
    unit: '',
    labels: ['route', 'error'],
  },
  genAiTokenUsage: {
    name: 'gen_ai_client_token_usage',
    type: 'histogram',
    help: 'Tokens per LLM request as the provider reported them, by token type (input, output); input includes cached input.',
    unit: '',
    labels: [...genAiLabels, 'gen_ai_token_type'],
    buckets: tokenBuckets,
    convention: 'opentelemetry-genai',
  },
  genAiOperationDuration: {
    name: 'gen_ai_client_operation_duration_seconds',
    type: 'histogram',
    help: 'Time from sending an LLM request upstream to the last byte of its response; error_type is empty on success, else the status code or Sluice error code.',
    unit: 'seconds',
    labels: [...genAiLabels, 'error_type'],
    buckets: genAiDurationBuckets,
    convention: 'opentelemetry-genai',
  },
  genAiTimeToFirstToken: {
    name: 'gen_ai_server_time_to_first_token_seconds',
    type: 'histogram',
    help: 'Streamed LLM responses: time from sending the request upstream until Sluice passes the first output token on.',
    unit: 'seconds',
    labels: genAiLabels,
    buckets: timeToFirstTokenBuckets,
    convention: 'opentelemetry-genai',
  },
  genAiTimePerOutputToken: {
    name: 'gen_ai_server_time_per_output_token_seconds',
    type: 'histogram',
    help: 'Streamed LLM responses: time between the first and the last output token, divided by the output tokens after the first.',
    unit: 'seconds',
    labels: genAiLabels,
    buckets: timePerOutputTokenBuckets,
    convention: 'opentelemetry-genai',
  },
  llmTokens: {
    name: 'sluice_llm_tokens_total',
    type: 'counter',
    help: 'Tokens the providers reported, by type: input (cached included), output (reasoning included), cached_input, cache_creation_input, reasoning.',
    unit: '',
    labels: ['route', 'upstream', 'gen_ai_request_model', 'gen_ai_token_type'],
  },
  llmCost: {
    name: 'sluice_llm_cost_usd_total',
    type: 'counter',
    help: 'Cost of LLM requests in US dollars, from the reported usage and the configured price table.',
    unit: '',
    labels: ['route', 'upstream', 'gen_ai_request_model'],
  },
  llmUnpriced: {
    name: 'sluice_llm_unpriced_requests_total',
    type: 'counter',
    help: 'LLM responses with usage whose model matches no configured price, so their cost is not counted.',
    unit: '',
    labels: ['route', 'upstream', 'gen_ai_request_model'],
  },
  llmFinishReasons: {
    name: 'sluice_llm_finish_reasons_total',
    type: 'counter',
    help: 'Finish (stop) reasons of LLM responses, one per choice; names outside the known set are other.',
    unit: '',
    labels: ['route', 'gen_ai_request_model', 'reason'],
  },
  llmUnparsedRequests: {
    name: 'sluice_llm_unparsed_requests_total',
    type: 'counter',
    help: 'Requests on openai/anthropic routes whose body was not a JSON object; forwarded untouched.',
    unit: '',
    labels: ['route'],
  },
  llmResponseProblems: {
    name: 'sluice_llm_response_problems_total',
    type: 'counter',
    help: 'Successful LLM responses Sluice could not fully account for: malformed, truncated, too_large, encoded (compressed stream), no_usage.',
    unit: '',
    labels: ['route', 'upstream', 'problem'],
  },
  cacheLookups: {
    name: 'sluice_cache_lookups_total',
    type: 'counter',
    help: 'Requests on caching or deduplicating routes by what the cache did: hit (tier l1 or l2), miss, bypass (client, condition, or an HTTP-cache response the rules forbid storing), coalesced (shared a call in flight: tier none on this replica, l2 when another replica answered through Redis); GET routes with http_cache also stale (served past freshness: stale-while-revalidate, stale-if-error) and revalidated (renewed by a 304).',
    unit: '',
    labels: ['route', 'tier', 'result'],
  },
  cacheReplicaWaits: {
    name: 'sluice_cache_replica_waits_total',
    type: 'counter',
    help: 'Flights of routes with cache.across_replicas that found another replica calling, by how their wait ended: answered (its stored answer), leader_failed (its lock went without an answer), timed_out (after wait_seconds); and redis_unavailable (Redis failed before or during the wait, so this replica called the upstream itself).',
    unit: '',
    labels: ['route', 'outcome'],
  },
  cacheStores: {
    name: 'sluice_cache_stores_total',
    type: 'counter',
    help: 'Answers offered to the cache by outcome: stored, not_ok (not 2xx; 2xx or 3xx for http_cache), incomplete (a stream without its terminal event, a broken body), too_large, not_storable (http_cache: no-store, private, Authorization, nothing to keep).',
    unit: '',
    labels: ['route', 'result'],
  },
  cacheEntryBytes: {
    name: 'sluice_cache_entry_bytes',
    type: 'histogram',
    help: 'Body size of the answers stored, by route: what the byte budget holds and why an answer was too large.',
    unit: 'bytes',
    labels: ['route'],
    buckets: [256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216],
  },
  cacheEntries: {
    name: 'sluice_cache_entries',
    type: 'gauge',
    help: 'Entries held in the in-process L1 tier.',
    unit: '',
    labels: ['tier'],
  },
  cacheBytes: {
    name: 'sluice_cache_bytes',
    type: 'gauge',
    help: 'Bytes held in the in-process L1 tier (bodies, headers, keys and per-entry overhead).',
    unit: 'bytes',
    labels: ['tier'],
  },
  cacheMaxBytes: {
    name: 'sluice_cache_max_bytes',
    type: 'gauge',
    help: 'The byte budget of the in-process L1 tier (cache.l1_max_bytes).',
    unit: 'bytes',
    labels: ['tier'],
  },
  cacheEvictions: {
    name: 'sluice_cache_evictions_total',
    type: 'counter',
    help: 'Entries the L1 tier dropped to stay within its byte budget.',
    unit: '',
    labels: ['tier'],
  },
  cacheL2Operations: {
    name: 'sluice_cache_l2_operations_total',
    type: 'counter',
    help: 'Redis (L2) commands by outcome: hit, miss, set, delete, error, timeout, and rejected (skipped while the breaker is open).',
    unit: '',
    labels: ['outcome'],
  },
  cacheL2Duration: {
    name: 'sluice_cache_l2_duration_seconds',
    type: 'histogram',
    help: 'Time of each Redis (L2) command, errors and timeouts included.',
    unit: 'seconds',
    labels: [],
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
  },
  cacheL2Up: {
    name: 'sluice_cache_l2_up',
    type: 'gauge',
    help: '1 while the Redis (L2) tier answers; 0 while it is down, its breaker is open, or no L2 is configured.',
    unit: '',
    labels: [],
  },
  rateLimitDecisions: {
    name: 'sluice_rate_limit_decisions_total',
    type: 'counter',
    help: 'Rate-limit decisions by route, policy and result: allowed, rejected (429), shadow_rejected (a shadow policy would have rejected; let through), store_unavailable (Redis unavailable and the policy fails closed: 503). Decisions made by the per-replica fallback while Redis is unavailable are allowed_local / rejected_local.',
    unit: '',
    labels: ['route', 'policy', 'result'],
  },
  rateLimitTokens: {
    name: 'sluice_rate_limit_tokens_total',
    type: 'counter',
    help: 'Tokens of unit: tokens policies by kind: reserved at admission (the estimate), refunded (reservation minus real usage, when the usage was lower or the request was not answered by the provider) and charged (real usage above the reservation).',
    unit: '',
    labels: ['route', 'policy', 'kind'],
  },
  rateLimitStoreUp: {
    name: 'sluice_rate_limit_store_up',
    type: 'gauge',
    help: '1 while the Redis rate-limit store (limits.redis) is connected and its breaker closed, else 0; absent without limits.redis.',
    unit: '',
    labels: [],
  },
  concurrencyInFlight: {
    name: 'sluice_concurrency_in_flight',
    type: 'gauge',
    help: 'Requests holding a concurrency slot, per limiter (scope route or upstream, and its name).',
    unit: '',
    labels: ['scope', 'name'],
  },
  concurrencyLimit: {
    name: 'sluice_concurrency_limit',
    type: 'gauge',
    help: 'The current concurrency limit per limiter: max_in_flight, or where the adaptive limit has moved it.',
    unit: '',
    labels: ['scope', 'name'],
  },
  concurrencyQueued: {
    name: 'sluice_concurrency_queue_depth',
    type: 'gauge',
    help: 'Requests waiting for a concurrency slot, per limiter and priority class.',
    unit: '',
    labels: ['scope', 'name', 'class'],
  },
  concurrencyQueueWait: {
    name: 'sluice_concurrency_queue_wait_seconds',
    type: 'histogram',
    help: 'Time requests waited for a concurrency slot (0 when one was free), per limiter and priority class; rejected waits included.',
    unit: 'seconds',
    labels: ['scope', 'name', 'class'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  },
  concurrencyRejections: {
    name: 'sluice_concurrency_rejections_total',
    type: 'counter',
    help: 'Requests a concurrency limiter turned away, by reason: queue_full, queue_timeout (both 503), aborted (the client left while waiting).',
    unit: '',
    labels: ['scope', 'name', 'reason'],
  },
  websocketUpgrades: {
    name: 'sluice_websocket_upgrades_total',
    type: 'counter',
    help: 'WebSocket upgrade requests, by route and result (proxied, rejected, failed).',
    unit: '',
    labels: ['route', 'result'],
  },
  logLinesDropped: {
    name: 'sluice_log_lines_dropped_total',
    type: 'counter',
    help: 'Log lines dropped because stdout was not read fast enough (more than 16 MiB waiting).',
    unit: '',
    labels: [],
  },
  configReloads: {
    name: 'sluice_config_reloads_total',
    type: 'counter',
    help: 'Config reload attempts by result (success, failure).',
    unit: '',
    labels: ['result'],
  },
  configLastReloadSuccess: {
    name: 'sluice_config_last_reload_success_timestamp_seconds',
    type: 'gauge',
    help: 'Unix time of the last successful config load or reload.',
    unit: 'timestamp_seconds',
    labels: [],
  },
  configLastReloadSuccessful: {
    name: 'sluice_config_last_reload_successful',
    type: 'gauge',
    help: '1 when the last config load or reload succeeded, 0 when it failed.',
    unit: '',
    labels: [],
  },
  buildInfo: {
    name: 'sluice_build_info',
    type: 'gauge',
    help: 'Always 1; labels carry the Sluice and Node.js versions.',
    unit: '',
    labels: ['version', 'nodejs_version'],
  },
  draining: {
    name: 'sluice_draining',
    type: 'gauge',
    help: '1 while Sluice is shutting down and draining requests in flight.',
    unit: '',
    labels: [],
  },
  // Node runtime metrics come from prom-client's default collectors; declared here so rules and
  // dashboards can name them through the catalog too.
  eventLoopDelayP99: {
    name: 'nodejs_eventloop_lag_p99_seconds',
    type: 'gauge',
    help: 'The 99th percentile of the recorded event loop delay.',
    unit: 'seconds',
    labels: [],
    external: 'runtime',
  },
  heapUsed: {
    name: 'nodejs_heap_size_used_bytes',
    type: 'gauge',
    help: 'Process heap size used from Node.js in bytes.',
    unit: 'bytes',
    labels: [],
    external: 'runtime',
  },
  residentMemory: {
    name: 'process_resident_memory_bytes',
    type: 'gauge',
    help: 'Resident memory size in bytes.',
    unit: 'bytes',
    labels: [],
    external: 'runtime',
  },
  gcDuration: {
    name: 'nodejs_gc_duration_seconds',
    type: 'histogram',
    help: 'Garbage collection duration by kind, one of major, minor, incremental or weakcb.',
    unit: 'seconds',
    labels: ['kind'],
    buckets: [0.001, 0.01, 0.1, 1, 2, 5],
    external: 'runtime',
  },
  scrapeUp: {
    name: 'up',
    type: 'gauge',
    help: 'Written by Prometheus for every scrape: 1 when the target answered, 0 when it did not.',
    unit: '',
    labels: [],
    external: 'prometheus',
  },
  cpuSeconds: {
    name: 'process_cpu_seconds_total',
    type: 'counter',
    help: 'Total user and system CPU time spent in seconds.',
    unit: 'seconds',
    labels: [],
    external: 'runtime',
  },
} as const satisfies Record<string, MetricSpec>;

export type MetricKey = keyof typeof metricCatalog;
