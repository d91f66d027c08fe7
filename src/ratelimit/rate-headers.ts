/**
 * Rate-limit response headers: the IETF RateLimit-Policy / RateLimit fields
 * (draft-ietf-httpapi-ratelimit-headers) for every enforced policy, and the OpenAI-style
 * `x-ratelimit-*-requests` / `-tokens` headers that OpenAI clients already read, from the tightest
 * policy of each unit. They replace the upstream's own `x-ratelimit-*` for the units Sluice limits.
 */
import type { RateDecision } from './rate-types.ts';

export interface PolicyState {
  readonly name: string;
  readonly unit: 'requests' | 'tokens';
  readonly windowMs: number;
  readonly decision: RateDecision;
}

/** Whole seconds, at least 1: a client told 0 retries at once. */
export function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/** Go's time.Duration text (`20ms`, `1s`, `6m0s`), as OpenAI writes its reset headers. */
export function openAiDuration(milliseconds: number): string {
  const ms = milliseconds > 0 ? Math.ceil(milliseconds) : 0;
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${ms / 1000}s`;
  const hours = Math.floor(ms / 3_600_000);
  const minutes = Math.floor((ms % 3_600_000) / 60_000);
  const seconds = (ms % 60_000) / 1000;
  return `${hours > 0 ? `${hours}h` : ''}${minutes}m${seconds}s`;
}

function quoted(name: string): string {
  return `"${name}"`;
}

export interface PolicyShape {
  readonly name: string;
  readonly unit: 'requests' | 'tokens';
  readonly windowMs: number;
  readonly limit: number;
}

/** `RateLimit-Policy`: it depends only on the policies, so a stage builds it once. */
export function policyHeader(policies: readonly PolicyShape[]): string {
  let header = '';
  for (const p of policies) {
    if (header !== '') header += ', ';
    header += `${quoted(p.name)};q=${Math.floor(p.limit)};w=${Math.max(1, Math.round(p.windowMs / 1000))}`;
    if (p.unit === 'tokens') header += ';qu="tokens"';
  }
  return header;
}

const REQUEST_HEADERS = [
  'x-ratelimit-limit-requests',
  'x-ratelimit-remaining-requests',
  'x-ratelimit-reset-requests',
] as const;
const TOKEN_HEADERS = [
  'x-ratelimit-limit-tokens',
  'x-ratelimit-remaining-tokens',
  'x-ratelimit-reset-tokens',
] as const;

function openAiHeaders(
  headers: Record<string, string | string[] | number | undefined>,
  [limit, remaining, reset]: readonly [string, string, string],
  decision: RateDecision,
): void {
  headers[limit] = String(Math.floor(decision.limit));
  headers[remaining] = String(Math.max(0, Math.floor(decision.remaining)));
  headers[reset] = openAiDuration(decision.resetMs);
}

/**
 * All the headers for `states`, written into `headers` (a new object by default); `policies` is their
 * `RateLimit-Policy` when the caller has it already.
 */
export function rateLimitHeaders(
  states: readonly PolicyState[],
  policies?: string,
  headers: Record<string, string | string[] | number | undefined> = {},
): Record<string, string | string[] | number | undefined> {
  if (states.length === 0) return headers;
  let state = '';
  let requests: PolicyState | undefined;
  let tokens: PolicyState | undefined;
  for (const s of states) {
    if (state !== '') state += ', ';
    state += `${quoted(s.name)};r=${Math.max(0, Math.floor(s.decision.remaining))};t=${Math.max(0, Math.ceil(s.decision.resetMs / 1000))}`;
    if (s.unit === 'requests') {
      if (requests === undefined || s.decision.remaining < requests.decision.remaining) requests = s;
    } else if (tokens === undefined || s.decision.remaining < tokens.decision.remaining) tokens = s;
  }
  headers['ratelimit-policy'] =
    policies ?? policyHeader(states.map((s) => ({ ...s, limit: s.decision.limit })));
  headers.ratelimit = state;
  if (requests !== undefined) openAiHeaders(headers, REQUEST_HEADERS, requests.decision);
  if (tokens !== undefined) openAiHeaders(headers, TOKEN_HEADERS, tokens.decision);
  return headers;
}
