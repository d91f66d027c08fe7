/**
 * How long an upstream asked us to wait, from its response headers. `Retry-After` (RFC 9110 §10.2.3)
 * is delay-seconds or an HTTP-date; OpenAI also sends `retry-after-ms`, which its own SDK prefers
 * because whole seconds are too coarse for a limit that resets in 200 ms, so we prefer it too.
 */

/** Header values as node:http and undici give them (lower-case names). */
export type HeaderBag = Readonly<Record<string, string | readonly string[] | undefined>>;

function single(value: string | readonly string[] | undefined): string | undefined {
  // A repeated header is ambiguous; the first value is what most clients act on.
  const first = typeof value === 'string' ? value : value?.[0];
  const trimmed = first?.trim();
  return trimmed ? trimmed : undefined;
}

// The RFC allows only digits; fractions are accepted because some providers send "1.5" and the
// official SDKs read them with parseFloat.
const DECIMAL = /^\d+(\.\d+)?$/;

/**
 * The wait in ms (≥ 0), or undefined when the response asked for none or the value is unreadable.
 * `wallNowMs` is the wall clock (Date.now), which an HTTP-date is relative to; injectable for tests.
 */
export function retryAfterMs(headers: HeaderBag, wallNowMs: number): number | undefined {
  const ms = single(headers['retry-after-ms']);
  if (ms !== undefined && DECIMAL.test(ms)) return Number(ms);
  const value = single(headers['retry-after']);
  if (value === undefined) return undefined;
  if (DECIMAL.test(value)) return Number(value) * 1000;
  // Date.parse takes far more than IMF-fixdate ("2024" parses), so a date must at least name a
  // weekday or month with letters, as all three HTTP-date forms do.
  if (!/[a-z]/i.test(value)) return undefined;
  const at = Date.parse(value);
  if (Number.isNaN(at)) return undefined;
  // A date in the past (clock skew, a slow hop) means "now", not "never".
  return Math.max(0, at - wallNowMs);
}
