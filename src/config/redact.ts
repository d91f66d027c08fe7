/**
 * A copy of the effective config that is safe to show (/admin/config, support bundles): credentials
 * are replaced by "[redacted]". Empty values stay empty, so an operator can still see that a key is
 * unset, which is the usual question when an upstream answers 401.
 */
import { isRecord, type Loose } from './loose.ts';

export const redacted = '[redacted]';

/** Header names that carry credentials whatever `telemetry.redact_headers` lists. */
const secretLooking = /authorization|key|token|secret|password|credential|cookie|session/i;

function hide(value: unknown): unknown {
  return value === '' ? value : redacted;
}

/** `https://user:pass@host/` → `https://user:[redacted]@host/`; URLs without a password are untouched. */
function hideUrlPassword(url: unknown): unknown {
  if (typeof url !== 'string' || !URL.canParse(url) || new URL(url).password === '') return url;
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):[^@/]*@/i, `$1:${redacted}@`);
}

function redactUpstream(upstream: Loose, redactHeaders: ReadonlySet<string>): void {
  if ('api_key' in upstream) upstream['api_key'] = hide(upstream['api_key']);
  upstream['url'] = hideUrlPassword(upstream['url']);
  const headers = upstream['headers'];
  if (!isRecord(headers)) return;
  for (const name of Object.keys(headers)) {
    if (redactHeaders.has(name.toLowerCase()) || secretLooking.test(name))
      headers[name] = hide(headers[name]);
  }
}

/**
 * Returns a redacted deep copy; the input (usually frozen) is not touched. Accepts partial configs,
 * so callers can pass whatever they hold.
 */
export function redactConfig<T>(config: T): T {
  const copy: unknown = structuredClone(config);
  if (!isRecord(copy)) return copy as T;
  const telemetry = copy['telemetry'];
  const listed =
    isRecord(telemetry) && Array.isArray(telemetry['redact_headers']) ? telemetry['redact_headers'] : [];
  const redactHeaders = new Set(
    listed.filter((h): h is string => typeof h === 'string').map((h) => h.toLowerCase()),
  );
  const admin = copy['admin'];
  if (isRecord(admin) && 'token' in admin) admin['token'] = hide(admin['token']);
  const upstreams = copy['upstreams'];
  if (isRecord(upstreams)) {
    for (const upstream of Object.values(upstreams))
      if (isRecord(upstream)) redactUpstream(upstream, redactHeaders);
  }
  return copy as T;
}
