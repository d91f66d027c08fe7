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
  const ms = Math.max(0, Math.ceil(milliseconds));
  if (ms < 1000) return `${ms}ms`;
  const hours = Math.floor(ms / 3_600_000);
  const minutes = Math.floor((ms % 3_600_000) / 60_000);
  const seconds = (ms % 60_000) / 1000;
  let text = hours > 0 ? `${hours}h` : '';
  if (hours > 0 || minutes > 0) text += `${minutes}m`;
  return `${text}${Number(seconds.toFixed(3))}s`;
}

function quoted(name: string): string {
  return `"${name}"`;
}

export function rateLimitHeaders(states: readonly PolicyState[]): Record<string, string> {
  if (states.length === 0) return {};
  const headers: Record<string, string> = {
    'ratelimit-policy': states
      .map(
        (s) =>
          `${quoted(s.name)};q=${Math.floor(s.decision.limit)};w=${Math.max(1, Math.round(s.windowMs / 1000))}${s.unit === 'tokens' ? ';qu="tokens"' : ''}`,
      )
      .join(', '),
    ratelimit: states
      .map(
        (s) =>
          `${quoted(s.name)};r=${Math.max(0, Math.floor(s.decision.remaining))};t=${Math.max(0, Math.ceil(s.decision.resetMs / 1000))}`,
      )
      .join(', '),
  };
  for (const unit of ['requests', 'tokens'] as const) {
    let tightest: PolicyState | undefined;
    for (const state of states)
      if (
        state.unit === unit &&
        (tightest === undefined || state.decision.remaining < tightest.decision.remaining)
      )
        tightest = state;
    if (tightest === undefined) continue;
    headers[`x-ratelimit-limit-${unit}`] = String(Math.floor(tightest.decision.limit));
    headers[`x-ratelimit-remaining-${unit}`] = String(Math.max(0, Math.floor(tightest.decision.remaining)));
    headers[`x-ratelimit-reset-${unit}`] = openAiDuration(tightest.decision.resetMs);
  }
  return headers;
}
