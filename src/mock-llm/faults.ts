/**
 * Per-request fault plan: the options' rates drawn once per request, then overridden by `x-mock-*`
 * request headers so a test can target exactly one request.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { MockLlmOptions } from './options.ts';
import type { Random } from './random.ts';

/** `x-mock-reset-after` value that closes the connection before any response byte. */
export const RESET_BEFORE_HEADERS = 'before-headers';

export interface FaultPlan {
  /** Error status to answer with instead of the normal response; undefined for a normal answer. */
  readonly status: number | undefined;
  readonly latencyMs: number;
  readonly gapMs: number;
  readonly tokens: number;
  readonly slowHeadersMs: number;
  /** Close the connection after this many SSE events (or JSON body bytes), or before the head. */
  readonly resetAfter: number | typeof RESET_BEFORE_HEADERS | undefined;
  /** A random reset (from `resetRate`): where it happens, as a share of the response's length. */
  readonly resetFraction: number | undefined;
  /** Input tokens to report as read from the prompt cache (capped at the input tokens). */
  readonly cachedTokens: number;
  /** Reasoning tokens to report (OpenAI: added to, and counted within, the completion tokens). */
  readonly reasoningTokens: number;
}

/** A malformed `x-mock-*` header: answered with 400 so a typo in a test is loud, not ignored. */
export class MockHeaderError extends Error {
  override readonly name = 'MockHeaderError';
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function integerHeader(
  headers: IncomingHttpHeaders,
  name: string,
  fallback: number,
  max = 86_400_000,
): number {
  const value = headerValue(headers, name);
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!/^\d+$/.test(value.trim()) || parsed > max) {
    throw new MockHeaderError(`${name} must be an integer between 0 and ${max}, got "${value}".`);
  }
  return parsed;
}

function statusHeader(headers: IncomingHttpHeaders): number | undefined | 'none' {
  const value = headerValue(headers, 'x-mock-status');
  if (value === undefined) return undefined;
  const status = Number(value);
  if (status === 200) return 'none';
  if (!Number.isInteger(status) || status < 400 || status > 599) {
    throw new MockHeaderError(`x-mock-status must be 200 (no fault) or 400..599, got "${value}".`);
  }
  return status;
}

function resetHeader(headers: IncomingHttpHeaders): FaultPlan['resetAfter'] {
  const value = headerValue(headers, 'x-mock-reset-after');
  if (value?.trim() === RESET_BEFORE_HEADERS) return RESET_BEFORE_HEADERS;
  if (value === undefined) return undefined;
  return integerHeader(headers, 'x-mock-reset-after', 0, Number.MAX_SAFE_INTEGER);
}

/**
 * Draws this request's faults. It always takes the same four draws, whatever the outcome, so with a
 * `seed` the n-th request gets the same faults on every run (when requests arrive in the same order).
 */
export function planFaults(
  headers: IncomingHttpHeaders,
  options: Readonly<MockLlmOptions>,
  random: Random,
): FaultPlan {
  const errorDraw = random();
  const statusDraw = random();
  const resetDraw = random();
  const resetFractionDraw = random();

  const statuses = options.errorStatuses;
  const drawnStatus =
    errorDraw < options.errorRate ? statuses[Math.floor(statusDraw * statuses.length)] : undefined;
  const forcedStatus = statusHeader(headers);
  const status = forcedStatus === 'none' ? undefined : (forcedStatus ?? drawnStatus);

  const resetAfter = resetHeader(headers);
  const randomReset = resetAfter === undefined && resetDraw < options.resetRate;

  return {
    status,
    latencyMs: integerHeader(headers, 'x-mock-latency-ms', options.latencyMs),
    gapMs: integerHeader(headers, 'x-mock-gap-ms', options.gapMs),
    tokens: integerHeader(headers, 'x-mock-tokens', options.tokens, 10_000_000),
    slowHeadersMs: integerHeader(headers, 'x-mock-slow-headers-ms', options.slowHeadersMs),
    resetAfter,
    resetFraction: randomReset ? resetFractionDraw : undefined,
    cachedTokens: integerHeader(headers, 'x-mock-cached-tokens', 0, 10_000_000),
    reasoningTokens: integerHeader(headers, 'x-mock-reasoning-tokens', 0, 10_000_000),
  };
}

/** Where to cut a response of `length` events or bytes; undefined when it should complete. */
export function resetPoint(plan: FaultPlan, length: number): FaultPlan['resetAfter'] {
  if (plan.resetAfter !== undefined) return plan.resetAfter;
  if (plan.resetFraction !== undefined) return Math.floor(plan.resetFraction * length);
  return undefined;
}
