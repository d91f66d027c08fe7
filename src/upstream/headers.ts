/**
 * Header rules for forwarding (RFC 9110 §7.6.1): hop-by-hop headers, including every header the
 * Connection header names, belong to one connection and are never forwarded, in either direction.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

const hopByHop = new Set([
  'connection',
  'proxy-connection',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authenticate',
  'proxy-authorization',
  // undici sets these itself; forwarding ours would conflict with what it writes.
  'host',
  'expect',
]);

/** Connection values that name no other header: nearly every request and response carries one. */
const plainConnection = new Set(['keep-alive', 'close', 'Keep-Alive', 'Close']);

/** Names listed in the Connection header (lower case), or undefined when it lists none. */
function connectionListed(connection: string | string[] | undefined): Set<string> | undefined {
  if (connection === undefined || (typeof connection === 'string' && plainConnection.has(connection)))
    return undefined;
  const listed = new Set<string>();
  for (const value of Array.isArray(connection) ? connection : [connection]) {
    for (const token of value.split(',')) {
      const name = token.trim().toLowerCase();
      if (name) listed.add(name);
    }
  }
  return listed;
}

/** Copies end-to-end headers into `target`, dropping hop-by-hop ones and those in `skip`. */
export function copyEndToEnd(
  source: IncomingHttpHeaders | Record<string, string | string[] | undefined>,
  target: Record<string, string | string[]>,
  skip?: ReadonlySet<string>,
): void {
  const listed = connectionListed(source['connection']);
  for (const name in source) {
    if (hopByHop.has(name) || listed?.has(name) || skip?.has(name)) continue;
    const value = source[name];
    if (value !== undefined) target[name] = value;
  }
}

/** Response headers for the client: the upstream's end-to-end headers. */
export function responseHeaders(
  upstreamHeaders: Record<string, string | string[] | undefined>,
): OutgoingHttpHeaders {
  const headers: Record<string, string | string[]> = {};
  copyEndToEnd(upstreamHeaders, headers);
  return headers;
}
