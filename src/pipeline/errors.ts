/**
 * The error catalog: every error Sluice itself answers with. Each has a stable code (clients and
 * alerts match on it), an HTTP status and a message that says what to do. The body takes the shape
 * the route's protocol expects, so SDKs surface it like a backend error.
 */
import type { RouteConfig } from '../config/types.generated.ts';

export type Protocol = RouteConfig['protocol'];

interface ErrorSpec {
  readonly status: number;
  /** OpenAI `error.type`. */
  readonly openaiType: string;
  /** Anthropic `error.type`. */
  readonly anthropicType: string;
  readonly message: string;
}

export const errorCatalog = {
  route_not_found: {
    status: 404,
    openaiType: 'invalid_request_error',
    anthropicType: 'not_found_error',
    message: 'No Sluice route matches this method, host and path. Check `routes` in the Sluice config.',
  },
  websocket_not_allowed: {
    status: 404,
    openaiType: 'invalid_request_error',
    anthropicType: 'not_found_error',
    message:
      'This route does not accept WebSocket upgrades. Set `websocket: true` on the route to allow them.',
  },
  bad_request: {
    status: 400,
    openaiType: 'invalid_request_error',
    anthropicType: 'invalid_request_error',
    message: 'Malformed HTTP request.',
  },
  request_body_too_large: {
    status: 413,
    openaiType: 'invalid_request_error',
    anthropicType: 'request_too_large',
    message: 'Request body is larger than this route accepts (listener.max_body_bytes).',
  },
  unsupported_content_encoding: {
    status: 415,
    openaiType: 'invalid_request_error',
    anthropicType: 'invalid_request_error',
    message:
      'The request body’s Content-Encoding is not accepted on this route; the Accept-Encoding response header lists the ones that are (compression.request_encodings).',
  },
  request_headers_too_large: {
    status: 431,
    openaiType: 'invalid_request_error',
    anthropicType: 'invalid_request_error',
    message: 'Request headers are larger than Sluice accepts (listener.max_header_bytes).',
  },
  request_timeout: {
    status: 408,
    openaiType: 'invalid_request_error',
    anthropicType: 'invalid_request_error',
    message: 'The client did not send the complete request in time (listener.request_timeout_ms).',
  },
  client_body_error: {
    status: 400,
    openaiType: 'invalid_request_error',
    anthropicType: 'invalid_request_error',
    message: 'The request body could not be read from the client.',
  },
  client_closed_request: {
    // Never reaches the client (it is gone); the status is nginx's 499 so logs and metrics show it.
    status: 499,
    openaiType: 'api_error',
    anthropicType: 'api_error',
    message: 'The client closed the connection before the response was complete.',
  },
  upstream_connect_failed: {
    status: 502,
    openaiType: 'api_error',
    anthropicType: 'api_error',
    message: 'Sluice could not connect to the upstream. Check that it is up and that its `url` is right.',
  },
  upstream_connection_reset: {
    status: 502,
    openaiType: 'api_error',
    anthropicType: 'api_error',
    message: 'The upstream closed the connection before sending a complete response.',
  },
  upstream_bad_response: {
    status: 502,
    openaiType: 'api_error',
    anthropicType: 'api_error',
    message: 'The upstream sent a response Sluice could not parse as HTTP.',
  },
  upstream_headers_timeout: {
    status: 504,
    openaiType: 'api_error',
    anthropicType: 'api_error',
    message: 'The upstream did not send response headers in time (upstreams.<name>.timeouts.headers_ms).',
  },
  upstream_connect_timeout: {
    status: 504,
    openaiType: 'api_error',
    anthropicType: 'api_error',
    message: 'Connecting to the upstream timed out (upstreams.<name>.timeouts.connect_ms).',
  },
  upstream_body_timeout: {
    status: 504,
    openaiType: 'api_error',
    anthropicType: 'api_error',
    message: 'The upstream stopped sending the response body (upstreams.<name>.timeouts.body_idle_ms).',
  },
  rate_limited: {
    status: 429,
    openaiType: 'rate_limit_error',
    anthropicType: 'rate_limit_error',
    message:
      'A Sluice rate limit for this route was reached; retry after the Retry-After header’s seconds (the RateLimit headers say which policy).',
  },
  rate_limit_unavailable: {
    status: 503,
    openaiType: 'api_error',
    anthropicType: 'overloaded_error',
    message:
      'The rate-limit store (Redis) is unavailable and this route’s policy fails closed; retry after the Retry-After header’s seconds.',
  },
  max_tokens_too_large: {
    status: 400,
    openaiType: 'invalid_request_error',
    anthropicType: 'invalid_request_error',
    message: 'The request asks for more output tokens than this route allows (routes.<name>.max_tokens.max).',
  },
  queue_full: {
    status: 503,
    openaiType: 'api_error',
    anthropicType: 'overloaded_error',
    message:
      'Too many requests are waiting for this route or upstream (its concurrency queue is full); retry after the Retry-After header’s seconds.',
  },
  upstream_unavailable: {
    status: 503,
    openaiType: 'api_error',
    anthropicType: 'overloaded_error',
    message:
      'No target of the upstream (or of its failover chain) may take traffic now: their breakers are open, or they are ejected or failing health checks; retry after the Retry-After header’s seconds.',
  },
  queue_timeout: {
    status: 503,
    openaiType: 'api_error',
    anthropicType: 'overloaded_error',
    message:
      'The request waited in the concurrency queue longer than its timeout (concurrency.queue.timeout_ms); retry after the Retry-After header’s seconds.',
  },
  shutting_down: {
    status: 503,
    openaiType: 'api_error',
    anthropicType: 'overloaded_error',
    message: 'Sluice is shutting down; retry on another replica.',
  },
  internal_error: {
    status: 500,
    openaiType: 'api_error',
    anthropicType: 'api_error',
    message: 'Sluice failed while handling this request; the log line with this request id has the cause.',
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof errorCatalog;

/** An error Sluice answers with; thrown by stages, rendered once by the composer. */
export class SluiceError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Extra response headers, e.g. Retry-After. */
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    code: ErrorCode,
    options: { detail?: string; cause?: unknown; headers?: Record<string, string> } = {},
  ) {
    const spec = errorCatalog[code];
    super(options.detail ? `${spec.message} ${options.detail}` : spec.message, { cause: options.cause });
    this.name = 'SluiceError';
    this.code = code;
    this.status = spec.status;
    this.headers = options.headers ?? {};
  }
}

export interface RenderedError {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** The response for `error` in the shape of `protocol` (passthrough routes get the OpenAI shape). */
export function renderError(error: SluiceError, protocol: Protocol, requestId: string): RenderedError {
  const spec = errorCatalog[error.code];
  const code = `sluice_${error.code}`;
  const body =
    protocol === 'anthropic'
      ? {
          type: 'error',
          error: { type: spec.anthropicType, message: error.message, code },
          request_id: requestId,
        }
      : { error: { message: error.message, type: spec.openaiType, param: null, code } };
  return {
    status: error.status,
    headers: {
      'content-type': 'application/json',
      'x-sluice-error': code,
      'x-request-id': requestId,
      ...error.headers,
    },
    body: JSON.stringify(body),
  };
}
