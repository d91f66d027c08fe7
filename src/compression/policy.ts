/**
 * Whether a response is compressed, and the header changes that go with the answer. Pure: the
 * caller gives the exchange, gets a decision with a reason (a bounded set, fit for a metric label),
 * and wraps the body itself.
 *
 * Error statuses are compressed like any other: an error body is a representation too, and
 * OpenAI-style error JSON is mostly small enough for `minBytes` to leave it alone anyway.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { mediaType } from './media-type.ts';
import type { ContentCoding } from './negotiate.ts';
import type { CompressionSettings } from './settings.ts';

export type SkipReason =
  /** HEAD, 1xx, 204, 304: there is no body to compress. */
  | 'no_body'
  /** 206 or Content-Range: the range is of the identity bytes. */
  | 'partial_content'
  /** The upstream already encoded it; never twice. */
  | 'already_encoded'
  | 'no_transform'
  | 'content_type'
  | 'sse_disabled'
  | 'too_small'
  /** The client accepts no coding we offer (or prefers identity). */
  | 'not_accepted';

export type CompressDecision =
  | { readonly compress: true; readonly encoding: ContentCoding; readonly sse: boolean }
  | {
      readonly compress: false;
      readonly reason: SkipReason;
      /**
       * Whether the answer still depends on Accept-Encoding, so `Vary: Accept-Encoding` must be
       * added (see addVaryAcceptEncoding).
       */
      readonly vary: boolean;
    };

export interface CompressInput {
  readonly status: number;
  readonly method: string;
  readonly requestHeaders: IncomingHttpHeaders;
  readonly responseHeaders: OutgoingHttpHeaders;
  /** The body's length when known (a Buffer's length); else Content-Length is read. */
  readonly contentLength?: number | undefined;
  readonly settings: CompressionSettings;
}

type OutgoingValue = OutgoingHttpHeaders[string];

/** The comma-separated members of a header value, trimmed, empty ones dropped. */
function listMembers(value: OutgoingValue): string[] {
  if (value === undefined) return [];
  const joined = Array.isArray(value) ? value.join(',') : String(value);
  return joined
    .split(',')
    .map((member) => member.trim())
    .filter((member) => member !== '');
}

/** Cache-Control: no-transform (RFC 9111 §5.2.2.6) forbids proxies to change the content coding. */
function forbidsTransform(cacheControl: OutgoingValue): boolean {
  return listMembers(cacheControl).some((directive) => directive.toLowerCase() === 'no-transform');
}

function knownLength(input: CompressInput): number | undefined {
  if (input.contentLength !== undefined) return input.contentLength;
  const header = input.responseHeaders['content-length'];
  if (header === undefined) return undefined;
  const length = Number(Array.isArray(header) ? header[0] : header);
  return Number.isFinite(length) ? length : undefined;
}

const skip = (reason: SkipReason, vary = false): CompressDecision => ({ compress: false, reason, vary });

/**
 * The checks run from the ones that do not depend on the client to the negotiation, so that `vary`
 * is true only when the client's Accept-Encoding is what decided: a body too small or of the wrong
 * type is sent as it is to every client, and needs no Vary.
 */
export function shouldCompress(input: CompressInput): CompressDecision {
  const { status, responseHeaders: headers, settings } = input;
  if (input.method === 'HEAD' || status < 200 || status === 204 || status === 304) return skip('no_body');
  if (status === 206 || headers['content-range'] !== undefined) return skip('partial_content');
  // `identity` is not a content coding a sender should list, but when one does it changes nothing.
  const encodings = listMembers(headers['content-encoding']);
  if (encodings.some((coding) => coding.toLowerCase() !== 'identity')) return skip('already_encoded');
  if (forbidsTransform(headers['cache-control'])) return skip('no_transform');
  const type = mediaType(headers['content-type']);
  const sse = type === 'text/event-stream';
  if (sse) {
    if (!settings.sse) return skip('sse_disabled');
  } else if (!settings.matchesContentType(type)) {
    return skip('content_type');
  }
  const length = knownLength(input);
  // An empty body stays empty: any coding's framing would only add bytes.
  if (length !== undefined && (length === 0 || length < settings.minBytes)) return skip('too_small');
  const chosen = settings.negotiator.negotiate(input.requestHeaders['accept-encoding']);
  // undefined (identity refused, nothing else acceptable): identity anyway, see negotiate.ts.
  if (chosen === undefined || chosen === 'identity') return skip('not_accepted', true);
  return { compress: true, encoding: chosen, sse };
}

/**
 * Adds `accept-encoding` to Vary, keeping what is there: members are compared case-insensitively,
 * and `Vary: *` already says the response varies on everything. Needed whenever the coding was
 * chosen by the request's Accept-Encoding, including the identity answer to a client that accepts
 * none: without it a shared cache would replay that identity answer to every client, or a
 * compressed one to a client that cannot decode it (RFC 9110 §12.5.5).
 */
export function addVaryAcceptEncoding(headers: OutgoingHttpHeaders): void {
  const members = listMembers(headers['vary']);
  const lower = members.map((member) => member.toLowerCase());
  if (lower.includes('*') || lower.includes('accept-encoding')) return;
  members.push('accept-encoding');
  headers['vary'] = members.join(', ');
}

/**
 * A strong ETag promises byte-identical content, which the compressed body is not; a weak one
 * (RFC 9110 §8.8.1) says "semantically equivalent", which it is. Weakening rather than a suffix
 * (`"x-gzip"`) keeps conditional requests working: If-None-Match compares weakly, so the client's
 * `W/"x"` still matches the upstream's `"x"` without Sluice rewriting request headers.
 */
function weakenETag(headers: OutgoingHttpHeaders): void {
  const etag = headers['etag'];
  if (typeof etag === 'string' && !etag.startsWith('W/')) headers['etag'] = `W/${etag}`;
}

/**
 * Headers that describe the identity bytes and would be wrong for the encoded ones: the length
 * (unknown until the end: the response goes chunked), byte ranges of the identity bytes, and
 * digests of them (RFC 9530).
 */
const IDENTITY_ONLY = ['content-length', 'accept-ranges', 'content-md5', 'content-digest', 'repr-digest'];

/** Changes the response headers for a body compressed with `encoding`. */
export function adjustHeaders(headers: OutgoingHttpHeaders, encoding: ContentCoding): void {
  headers['content-encoding'] = encoding;
  for (const name of IDENTITY_ONLY) delete headers[name];
  addVaryAcceptEncoding(headers);
  weakenETag(headers);
}

/** Applies a decision's header changes: adjusted when compressing, Vary alone when negotiation said no. */
export function applyDecision(headers: OutgoingHttpHeaders, decision: CompressDecision): void {
  if (decision.compress) adjustHeaders(headers, decision.encoding);
  else if (decision.vary) addVaryAcceptEncoding(headers);
}
