/** Error responses in each protocol's own shape, so SDKs raise the same error classes as with the real API. */
import type { ServerResponse } from 'node:http';
import type { FaultPlan } from './faults.ts';
import { defaultMockLlmOptions } from './options.ts';
import { sendJson } from './respond.ts';
import type { MockExchange, MockProtocol, MockRequestInfo } from './types.ts';

const anthropicTypes: Readonly<Record<number, string>> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  503: 'overloaded_error',
  504: 'timeout_error',
  529: 'overloaded_error',
};

function openAiError(status: number, message: string): object {
  if (status === 429) {
    return { error: { message, type: 'requests', param: null, code: 'rate_limit_exceeded' } };
  }
  const type = status >= 500 ? 'server_error' : 'invalid_request_error';
  return { error: { message, type, param: null, code: null } };
}

function anthropicError(status: number, message: string): object {
  const type = anthropicTypes[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
  return { type: 'error', error: { type, message } };
}

export function protocolErrorBody(protocol: MockProtocol, status: number, message: string): string {
  return JSON.stringify(
    protocol === 'anthropic' ? anthropicError(status, message) : openAiError(status, message),
  );
}

export interface ErrorResponseOptions {
  /** Cut the error body like any other response (an injected status can be combined with a reset). */
  readonly reset?: FaultPlan['resetAfter'];
  /** Ask the client to close: used when the request body was not read to its end. */
  readonly closeConnection?: boolean;
  /** `retry-after` of a 429 (default the option's default). */
  readonly retryAfterSeconds?: number;
}

export function sendProtocolError(
  res: ServerResponse,
  info: MockRequestInfo,
  protocol: MockProtocol,
  status: number,
  message: string,
  options: ErrorResponseOptions = {},
): void {
  const headers: Record<string, string> = {};
  if (status === 429) {
    headers['retry-after'] = String(options.retryAfterSeconds ?? defaultMockLlmOptions.retryAfterSeconds);
  }
  if (options.closeConnection) headers['connection'] = 'close';
  sendJson(res, info, status, protocolErrorBody(protocol, status, message), headers, options.reset);
}

/** A handler's refusal of a request it cannot answer (bad field, unknown model). Never cut or delayed. */
export function rejectRequest(exchange: MockExchange, status: number, message: string): void {
  sendProtocolError(exchange.res, exchange.info, exchange.protocol, status, message);
}
