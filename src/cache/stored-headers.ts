/**
 * Which upstream response headers a cached answer replays. A replayed answer is served later, to
 * another request and possibly another connection, so only headers that describe the answer itself
 * may travel with it; headers about the original exchange (its quota, its id, its timing, its
 * connection, its account) would be false the second time round.
 *
 * This is an allow-list on purpose: upstreams and the proxies in front of them add headers all the
 * time (`x-ratelimit-*`, `anthropic-ratelimit-*`, `cf-ray`, `x-envoy-*`, `openai-processing-ms`, …),
 * and a deny-list would replay each new one — a stale quota or somebody's request id — until someone
 * noticed. A header missing from this list only costs a replay that lacks it.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/**
 * Replayed, by why. Everything not here is dropped, notably: hop-by-hop headers (connection,
 * keep-alive, transfer-encoding, te, trailer, upgrade, proxy-*), set-cookie, date, age and
 * content-length (the replay writes its own), rate-limit headers of every vendor, request ids
 * (x-request-id, request-id, openai-request-id, …), timings (server-timing, openai-processing-ms),
 * the account that was billed (openai-organization, openai-project, anthropic-organization-id) and
 * Sluice's own x-sluice-*. Anthropic sends no response header that describes the answer: its
 * `anthropic-*` response headers are rate limits and the organization id, so none is listed.
 */
const REPLAYED = new Set([
  // The representation: how to read the stored bytes, which are replayed exactly as received.
  'content-type',
  'content-encoding',
  'content-language',
  // Validators and freshness (RFC 9111 §3.1 stores them): the GET cache revalidates with them, and
  // with the `Age` the replay adds they stay true for any cache downstream.
  'cache-control',
  'expires',
  'etag',
  'last-modified',
  'vary',
  // OpenAI: the model and API version that produced this answer.
  'openai-model',
  'openai-version',
]);

type HeaderValue = OutgoingHttpHeaders[string] | IncomingHttpHeaders[string];

function headerText(value: HeaderValue): string | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) return String(value);
  return value.length === 0 ? undefined : value.join(', ');
}

/**
 * Names a `Connection` header nominates as hop-by-hop (RFC 9110 §7.6.1): dropped even when listed
 * above, since the upstream said they were for this connection only.
 */
function nominatedHopByHop(connection: HeaderValue): Set<string> {
  const text = headerText(connection);
  if (text === undefined) return new Set();
  return new Set(text.split(',').map((name) => name.trim().toLowerCase()));
}

/**
 * The headers of an upstream response that a cached copy of it replays: names lower-case, values
 * of a repeated header joined with ', ' (RFC 9110 §5.3), in the order the upstream sent them.
 */
export function storableHeaders(headers: OutgoingHttpHeaders | IncomingHttpHeaders): Record<string, string> {
  let connection: HeaderValue;
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() === 'connection') connection = value;
  }
  const hopByHop = nominatedHopByHop(connection);
  const stored: Record<string, string> = {};
  for (const [rawName, value] of Object.entries(headers)) {
    const name = rawName.toLowerCase();
    if (!REPLAYED.has(name) || hopByHop.has(name)) continue;
    const text = headerText(value);
    if (text === undefined) continue;
    // Outgoing headers may spell one name in two cases; both are the same header.
    const earlier = stored[name];
    stored[name] = earlier === undefined ? text : `${earlier}, ${text}`;
  }
  return stored;
}
