/**
 * Client address and X-Forwarded-* headers. With `trusted_hops: N`, the N right-most entries of
 * X-Forwarded-For (plus the socket peer) are our own proxies; the client is the first address to
 * the left of them. Anything further left was written by the client and cannot be trusted.
 */
import type { IncomingMessage } from 'node:http';

function forwardedForList(req: IncomingMessage): string[] {
  const header = req.headers['x-forwarded-for'];
  if (header === undefined) return [];
  const joined = Array.isArray(header) ? header.join(',') : header;
  return joined
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function stripMappedIpv4(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

export function peerAddress(req: IncomingMessage): string {
  return stripMappedIpv4(req.socket.remoteAddress ?? '');
}

/** The client IP: the peer when no hop is trusted, else the entry `trustedHops` from the right of X-Forwarded-For. */
export function clientIp(req: IncomingMessage, trustedHops: number): string {
  const peer = peerAddress(req);
  if (trustedHops === 0) return peer;
  const chain = forwardedForList(req);
  // The peer is the nearest trusted hop; each further trusted hop added one entry on the right.
  const index = chain.length - trustedHops;
  return index >= 0 ? (chain[index] ?? peer) : (chain[0] ?? peer);
}

/** X-Forwarded-For/-Proto/-Host for the upstream request: append the peer, keep what trusted hops sent. */
export function forwardedHeaders(req: IncomingMessage, trustedHops: number): Record<string, string> {
  const peer = peerAddress(req);
  const proto = (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
  const prior = trustedHops > 0 ? forwardedForList(req) : [];
  const incomingProto = trustedHops > 0 ? req.headers['x-forwarded-proto'] : undefined;
  const incomingHost = trustedHops > 0 ? req.headers['x-forwarded-host'] : undefined;
  return {
    'x-forwarded-for': prior.length > 0 ? `${prior.join(', ')}, ${peer}` : peer,
    'x-forwarded-proto': typeof incomingProto === 'string' ? incomingProto : proto,
    'x-forwarded-host': typeof incomingHost === 'string' ? incomingHost : (req.headers.host ?? ''),
  };
}
