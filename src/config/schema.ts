/**
 * The one config schema. Validation (ajv), config/schema.json (editor completion), the TypeScript
 * types (types.generated.ts) and docs/configuration.md are all generated from this object by
 * `npm run generate`; edit here only.
 */

import { alerts, slos } from './schema-ascode.ts';
import { cacheTiers, routeCache, routeDedupe, routeHttpCache } from './schema-cache.ts';
import { routeCompression } from './schema-compression.ts';
import { durationMs, headerMap, priceTable } from './schema-parts.ts';
import {
  routeFailover,
  routeHedge,
  routeRetry,
  upstreamBalance,
  upstreamBreaker,
  upstreamHealthCheck,
  upstreamOutlierDetection,
  upstreamRetryBudget,
  upstreamTarget,
} from './schema-resilience.ts';
import { concurrency, limits, routeMaxTokens, routePriority, routeRateLimits } from './schema-traffic.ts';

const listener = {
  title: 'ListenerConfig',
  type: 'object',
  description: 'The client-facing HTTP listener.',
  additionalProperties: false,
  default: {},
  properties: {
    host: { type: 'string', default: '0.0.0.0', description: 'Address to listen on.' },
    port: {
      type: 'integer',
      minimum: 0,
      maximum: 65535,
      default: 8080,
      description: 'Port to listen on (0 picks a free port). The example config reads SLUICE_PORT.',
    },
    max_body_bytes: {
      type: 'integer',
      minimum: 0,
      default: 10485760,
      description:
        'Largest request body accepted, in bytes. Larger bodies get 413 (at once by Content-Length, by counting when chunked).',
    },
    max_header_bytes: {
      type: 'integer',
      minimum: 1024,
      default: 16384,
      description: 'Largest total size of the request line and headers, in bytes. Larger gets 431.',
    },
    headers_timeout_ms: durationMs('Time a client has to send the complete request headers.', 10000),
    request_timeout_ms: durationMs(
      'Time a client has to send the complete request (headers and body). 0 disables it; LLM uploads are small, so keep it.',
      60000,
      0,
    ),
    keep_alive_timeout_ms: durationMs('How long an idle client keep-alive connection stays open.', 5000),
    trusted_hops: {
      type: 'integer',
      minimum: 0,
      default: 0,
      description:
        'How many proxies in front of Sluice append to X-Forwarded-For. The client IP is the right-most address that is not one of these hops.',
    },
    server_timing: {
      type: 'boolean',
      default: true,
      description: "Add a Server-Timing response header with Sluice's and the upstream's share of the time.",
    },
  },
} as const;

const admin = {
  title: 'AdminConfig',
  type: 'object',
  description: 'The admin listener: /metrics, /healthz, /readyz, /admin/config.',
  additionalProperties: false,
  default: {},
  properties: {
    enabled: { type: 'boolean', default: true, description: 'Start the admin listener.' },
    host: {
      type: 'string',
      default: '127.0.0.1',
      description: 'Address to listen on. Loopback by default; any other address requires `token`.',
    },
    port: {
      type: 'integer',
      minimum: 0,
      maximum: 65535,
      default: 9464,
      description: 'Port to listen on (0 picks a free port). The example config reads SLUICE_ADMIN_PORT.',
    },
    token: {
      type: 'string',
      default: '',
      description:
        'Bearer token required for /admin/* endpoints. Required when `host` is not a loopback address; /metrics and the health endpoints stay open.',
    },
  },
} as const;

const upstream = {
  title: 'UpstreamConfig',
  type: 'object',
  description:
    'One backend that routes forward to: a single `url`, or a group of `targets` balanced by `balance` (exactly one of the two).',
  additionalProperties: false,
  properties: {
    url: {
      type: 'string',
      pattern: '^(https?://[^\\s]+|mock://[a-z0-9-]*)$',
      description:
        'Base URL of the backend (http or https). A path in it is prefixed to every forwarded path. `mock://local` starts the built-in mock LLM backend on a free loopback port and forwards there. The target is named after the upstream.',
    },
    targets: {
      type: 'array',
      minItems: 1,
      maxItems: 64,
      description:
        'Several backends (URLs or providers) sharing the traffic, instead of `url`. Each has its own pool, credentials, model mapping and health.',
      items: upstreamTarget,
    },
    balance: upstreamBalance,
    breaker: upstreamBreaker,
    outlier_detection: upstreamOutlierDetection,
    health_check: upstreamHealthCheck,
    retry_budget: upstreamRetryBudget,
    api_key: {
      type: 'string',
      default: '',
      description:
        // biome-ignore lint/suspicious/noTemplateCurlyInString: documents the config's interpolation syntax
        "Credential injected into every forwarded request when not empty (replacing the client's). Read it from the environment with ${VAR}; it is redacted everywhere.",
    },
    api_key_header: {
      type: 'string',
      enum: ['authorization', 'x-api-key', 'api-key'],
      default: 'authorization',
      description:
        '`authorization` sends `Authorization: Bearer <api_key>` (OpenAI-compatible); `x-api-key` (Anthropic) and `api-key` (Azure OpenAI) send the key as is.',
    },
    headers: headerMap(
      'Headers set on every request forwarded to this upstream (replacing any the client sent).',
    ),
    timeouts: {
      type: 'object',
      title: 'UpstreamTimeouts',
      description:
        'Upstream timeouts. Exceeding one gives the client 504 (before headers) or ends the stream.',
      additionalProperties: false,
      default: {},
      properties: {
        connect_ms: durationMs('Time to establish the TCP (and TLS) connection.', 5000),
        headers_ms: durationMs(
          'Time from sending the request to receiving the response headers. LLM backends can think for a while before answering.',
          300000,
        ),
        body_idle_ms: durationMs(
          'Longest silence between two chunks of the response body (for SSE: between events).',
          300000,
        ),
      },
    },
    pool: {
      type: 'object',
      title: 'UpstreamPool',
      description: 'The keep-alive connection pool to this upstream (one undici Pool per upstream).',
      additionalProperties: false,
      default: {},
      properties: {
        connections: {
          type: 'integer',
          minimum: 1,
          default: 128,
          description:
            'Most connections open to this upstream at once; further requests wait for a free one.',
        },
        keep_alive_timeout_ms: durationMs('How long an idle upstream connection is kept.', 30000),
      },
    },
    tls: {
      type: 'object',
      title: 'UpstreamTls',
      description: 'TLS settings for https upstreams.',
      additionalProperties: false,
      default: {},
      properties: {
        reject_unauthorized: {
          type: 'boolean',
          default: true,
          description: 'Verify the upstream certificate. Turn off only for testing.',
        },
        ca_file: {
          type: 'string',
          description:
            "PEM file with the CA certificates to trust for this upstream. Relative to the config file's directory; must exist and be readable when the config loads.",
        },
        cert_file: {
          type: 'string',
          description:
            "PEM client certificate for mutual TLS. Relative to the config file's directory; must exist and be readable when the config loads.",
        },
        key_file: {
          type: 'string',
          description:
            "PEM private key for `cert_file`. Relative to the config file's directory; must exist and be readable when the config loads.",
        },
        servername: { type: 'string', description: 'SNI server name, when it differs from the URL host.' },
      },
    },
    prices: priceTable(
      'Prices for traffic to this upstream, consulted before `llm.prices` (a provider that bills differently, a negotiated rate, a self-hosted model that costs nothing).',
    ),
    concurrency,
  },
} as const;

const route = {
  title: 'RouteConfig',
  type: 'object',
  description:
    'A route: which requests it takes and where they go. Routes are tried in order; the first match wins.',
  additionalProperties: false,
  required: ['name', 'upstream'],
  properties: {
    name: {
      type: 'string',
      pattern: '^[a-z0-9][a-z0-9_-]{0,62}$',
      description: 'Unique name; the `route` label on metrics and logs.',
    },
    match: {
      type: 'object',
      title: 'RouteMatch',
      description:
        'What a request must have to take this route. Every condition given must hold (with both `path_prefix` and `path_regex`, the path must match both); an empty match takes every request.',
      additionalProperties: false,
      default: {},
      properties: {
        path_prefix: {
          type: 'string',
          pattern: '^/',
          description: 'The path starts with this prefix (at a segment boundary or the prefix ends with /).',
        },
        path_regex: {
          type: 'string',
          format: 'regex',
          description: 'The path (without query) matches this regular expression.',
        },
        methods: {
          type: 'array',
          items: { type: 'string', pattern: '^[A-Z]+$' },
          uniqueItems: true,
          description: 'HTTP methods taken (upper case). Empty or absent: all methods.',
        },
        host: {
          type: 'string',
          description:
            'The Host header (without port) equals this, case-insensitively. `*.example.com` matches subdomains.',
        },
      },
    },
    upstream: { type: 'string', description: 'Name of the upstream (a key of `upstreams`) to forward to.' },
    failover: routeFailover,
    retry: routeRetry,
    hedge: routeHedge,
    compression: routeCompression,
    protocol: {
      type: 'string',
      enum: ['openai', 'anthropic', 'passthrough'],
      default: 'passthrough',
      description:
        'The API this route carries. Sets the shape of errors Sluice returns and, for openai/anthropic, lets Sluice read the request (the body is read whole, up to max_body_bytes, before forwarding).',
    },
    websocket: {
      type: 'boolean',
      default: false,
      description: 'Pass WebSocket upgrade requests through to the upstream.',
    },
    strip_prefix: {
      type: 'string',
      pattern: '^/',
      description: 'Remove this prefix from the path before forwarding.',
    },
    ensure_stream_usage: {
      type: 'boolean',
      default: false,
      description:
        'openai routes: when a streamed Chat Completions or Completions request does not ask for usage, add `stream_options.include_usage` upstream and remove the usage chunk (and the `"usage":null` members it adds) before the client sees the stream, so token counts and cost are known while the client gets exactly the stream it asked for. Needs `llm.accounting`.',
    },
    cache: routeCache,
    http_cache: routeHttpCache,
    dedupe: routeDedupe,
    rate_limits: routeRateLimits,
    max_tokens: routeMaxTokens,
    priority: routePriority,
    concurrency,
  },
} as const;

const llm = {
  title: 'LlmConfig',
  type: 'object',
  description:
    'What Sluice reads from the LLM traffic of openai and anthropic routes: operation, model, tokens, cost, time to first token. It never changes what is forwarded (except `ensure_stream_usage`, per route) and never records prompts or completions.',
  additionalProperties: false,
  default: {},
  properties: {
    accounting: {
      type: 'boolean',
      default: true,
      description:
        'Parse requests and responses (JSON and SSE, beside the byte stream) for the GenAI metrics, span attributes and access-log fields. Off: openai/anthropic routes are proxied without it.',
    },
    model_labels: {
      type: 'array',
      items: { type: 'string', minLength: 1 },
      default: [
        'gpt-*',
        'chatgpt-*',
        'o1*',
        'o3*',
        'o4*',
        'text-embedding-*',
        'claude-*',
        'gemini-*',
        'mistral-*',
        'llama*',
        'meta-llama/*',
        'mock-*',
      ],
      description:
        'Globs of model names that keep their own `gen_ai_request_model` label (same glob syntax as prices). Other names become `other`, a request without a model `unknown`: model names are client input and would otherwise grow the series without bound.',
    },
    max_model_labels: {
      type: 'integer',
      minimum: 1,
      maximum: 10000,
      default: 200,
      description:
        'Most distinct model names that get their own label, even when they match `model_labels`; later ones become `other`.',
    },
    prices: priceTable(
      'Model prices for the cost metric. A response whose model has no price is counted in `sluice_llm_unpriced_requests_total`. Prices change: keep this list current with your providers.',
    ),
  },
} as const;

const telemetry = {
  title: 'TelemetryConfig',
  type: 'object',
  description: 'Logs, traces and metrics.',
  additionalProperties: false,
  default: {},
  properties: {
    log_level: {
      type: 'string',
      enum: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'],
      default: 'info',
      description: 'Lowest level written to the JSON log on stdout.',
    },
    access_log: {
      type: 'boolean',
      default: true,
      description: 'Write one JSON access-log line per request.',
    },
    redact_headers: {
      type: 'array',
      items: { type: 'string' },
      default: ['authorization', 'proxy-authorization', 'x-api-key', 'api-key', 'cookie', 'set-cookie'],
      description:
        'Headers whose values never reach logs, traces or /admin/config (case-insensitive). These are always added to what you list.',
    },
    tracing: {
      type: 'boolean',
      default: true,
      description:
        'Create OpenTelemetry spans through @opentelemetry/api. They cost next to nothing until an OTel SDK is registered (see docs/tracing.md).',
    },
  },
} as const;

const reload = {
  title: 'ReloadConfig',
  type: 'object',
  description: 'Reloading the config without a restart. SIGHUP always reloads.',
  additionalProperties: false,
  default: {},
  properties: {
    watch: {
      type: 'boolean',
      default: false,
      description: 'Also reload when the config file changes on disk.',
    },
    debounce_ms: durationMs('Wait this long after the last change before reloading.', 250),
  },
} as const;

const shutdown = {
  title: 'ShutdownConfig',
  type: 'object',
  description: 'Graceful shutdown on SIGTERM / SIGINT.',
  additionalProperties: false,
  default: {},
  properties: {
    drain_timeout_ms: durationMs(
      'How long requests in flight (streams too) may take to finish before Sluice exits anyway.',
      30000,
    ),
  },
} as const;

export const configSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://sluice.dev/schema/config.json',
  title: 'SluiceConfig',
  description: 'Sluice configuration file.',
  type: 'object',
  additionalProperties: false,
  required: ['upstreams', 'routes'],
  properties: {
    listener,
    admin,
    upstreams: {
      type: 'object',
      description: 'Backends by name. Names are used in routes and as the `upstream` label.',
      minProperties: 1,
      propertyNames: { pattern: '^[a-z0-9][a-z0-9_-]{0,62}$' },
      additionalProperties: upstream,
    },
    routes: { type: 'array', description: 'Routes, tried in order.', minItems: 1, items: route },
    llm,
    telemetry,
    reload,
    shutdown,
    cache: cacheTiers,
    limits,
    alerts,
    slos,
  },
} as const;
