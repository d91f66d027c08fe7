/**
 * Reading the few request fields the mock needs. A missing or mistyped field is answered with a 400
 * naming it (as the real APIs do); the helpers return undefined after answering, so handlers just stop.
 */
import { rejectRequest } from './errors.ts';
import type { MockExchange } from './types.ts';

export type JsonObject = Record<string, unknown>;

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function requireBodyObject(exchange: MockExchange): JsonObject | undefined {
  if (isJsonObject(exchange.json)) return exchange.json;
  rejectRequest(exchange, 400, 'The request body must be a JSON object.');
  return undefined;
}

export function requireModel(exchange: MockExchange, body: JsonObject): string | undefined {
  const model = body['model'];
  if (typeof model === 'string' && model !== '') return model;
  rejectRequest(exchange, 400, "Missing required parameter: 'model' (a non-empty string).");
  return undefined;
}

export function requireArray(exchange: MockExchange, body: JsonObject, field: string): unknown[] | undefined {
  const value = body[field];
  if (Array.isArray(value) && value.length > 0) return value;
  rejectRequest(exchange, 400, `Missing required parameter: '${field}' (a non-empty array).`);
  return undefined;
}

/** `stream_options.include_obfuscation` (OpenAI): padding on delta chunks, on unless set to false. */
export function includeObfuscation(body: JsonObject): boolean {
  const options = body['stream_options'];
  return !isJsonObject(options) || options['include_obfuscation'] !== false;
}

/** `stream_options.include_usage` (OpenAI): ask for the final usage chunk. */
export function includeUsage(body: JsonObject): boolean {
  const options = body['stream_options'];
  return isJsonObject(options) && options['include_usage'] === true;
}
