/**
 * Which content coding a response gets, from the request's Accept-Encoding (RFC 9110 §12.5.3) and
 * the codings a route offers, in its order of preference.
 *
 * - Highest q-value wins; a tie goes to the route's order (the client said it does not care, the
 *   route knows which coding is cheaper for it).
 * - `*` stands for every coding the header does not name; `q=0` refuses a coding.
 * - identity competes only when the header names it explicitly with a higher q than the best coding:
 *   a client that lists `gzip` but not `identity` can read both, and compressing is why we are here.
 * - No header at all: identity. The RFC allows any coding then, but a client that sends none (curl,
 *   health checks, many SDKs) usually cannot decode one; nginx, Caddy and Envoy do the same.
 * - Nothing acceptable and identity refused (`identity;q=0`, or `*;q=0` without naming identity):
 *   `undefined`. RFC 9110 §12.1 lets a server disregard the header rather than answer 406, and a 406
 *   for a proxied LLM answer would waste the upstream's work, so callers send identity anyway.
 */

/** Codings Sluice can produce for responses. */
export type ContentCoding = 'zstd' | 'br' | 'gzip';
export type Negotiated = ContentCoding | 'identity';

export const contentCodings: readonly ContentCoding[] = ['zstd', 'br', 'gzip'];
/** zstd first: faster than br at a similar ratio for streamed text; gzip as everyone's fallback. */
export const defaultPreference: readonly ContentCoding[] = contentCodings;

/** Entries of an Accept-Encoding header: coding (lower case) → q (0-1). */
export type AcceptedCodings = ReadonlyMap<string, number>;

// RFC 9110 §12.4.2: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ).
const QVALUE = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/;
// RFC 9110 §5.6.2 token characters.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;

/** RFC 9110 §8.4.1.3: a recipient SHOULD treat x-gzip as gzip. */
function canonical(coding: string): string {
  return coding === 'x-gzip' ? 'gzip' : coding;
}

/** The q of one `coding;q=x` entry's parameters; NaN when the weight is malformed. */
function weight(params: readonly string[]): number {
  let q = 1;
  for (const param of params) {
    const eq = param.indexOf('=');
    const name = (eq === -1 ? param : param.slice(0, eq)).trim().toLowerCase();
    // Accept-Encoding defines no other parameter; an unknown one is ignored rather than voiding
    // the entry, as browsers never send one and a proxy in between may have added it.
    if (name !== 'q') continue;
    const value = eq === -1 ? '' : param.slice(eq + 1).trim();
    if (!QVALUE.test(value)) return Number.NaN;
    q = Number(value);
  }
  return q;
}

/**
 * The header's entries. A malformed entry (bad token, bad q) is dropped on its own: the rest of the
 * header still says what the client can read. A coding listed twice keeps its lowest q, so a
 * refusal anywhere in the header is honoured.
 */
export function parseAcceptEncoding(header: string): AcceptedCodings {
  const accepted = new Map<string, number>();
  for (const entry of header.split(',')) {
    const [rawCoding = '', ...params] = entry.split(';');
    const coding = canonical(rawCoding.trim().toLowerCase());
    if (coding === '' || !TOKEN.test(coding)) continue;
    const q = weight(params);
    if (Number.isNaN(q)) continue;
    const previous = accepted.get(coding);
    accepted.set(coding, previous === undefined ? q : Math.min(previous, q));
  }
  return accepted;
}

/** The q the client gives `coding`: named, else through `*`, else 0 (not acceptable). */
function qualityOf(accepted: AcceptedCodings, coding: string): number {
  return accepted.get(coding) ?? accepted.get('*') ?? 0;
}

/** The choice for parsed entries; see the module comment for the rules. */
export function choose(
  accepted: AcceptedCodings,
  preference: readonly ContentCoding[],
): Negotiated | undefined {
  let best: ContentCoding | undefined;
  let bestQ = 0;
  for (const coding of preference) {
    const q = qualityOf(accepted, coding);
    // Strictly greater: on a tie the earlier (preferred) coding stays.
    if (q > bestQ) {
      best = coding;
      bestQ = q;
    }
  }
  const identityQ = accepted.get('identity');
  if (best !== undefined && (identityQ === undefined || identityQ <= bestQ)) return best;
  const identityRefused = identityQ === 0 || (identityQ === undefined && accepted.get('*') === 0);
  return identityRefused ? undefined : 'identity';
}

type HeaderValue = string | readonly string[] | undefined;

/**
 * Negotiation for one route's preference list, memoized on the raw header: clients send a handful
 * of distinct values (each browser and SDK its own), so a Map lookup replaces parsing on almost
 * every request. The Map is bounded (oldest entry out first) and long values are not remembered,
 * since the header is the client's to make up.
 */
export class Negotiator {
  private readonly preference: readonly ContentCoding[];
  private readonly memo = new Map<string, Negotiated | null>();
  private readonly maxEntries: number;

  constructor(preference: readonly ContentCoding[] = defaultPreference, maxEntries = 256) {
    this.preference = [...preference];
    this.maxEntries = maxEntries;
  }

  /** The coding to send; undefined when identity is refused and nothing else is acceptable. */
  negotiate(header: HeaderValue): Negotiated | undefined {
    if (header === undefined) return 'identity';
    // node:http joins a repeated Accept-Encoding with ", "; other sources may give the list.
    const raw = typeof header === 'string' ? header : header.join(',');
    const known = this.memo.get(raw);
    if (known !== undefined) return known ?? undefined;
    const chosen = choose(parseAcceptEncoding(raw), this.preference);
    if (raw.length <= 256) {
      if (this.memo.size >= this.maxEntries) this.memo.delete(this.memo.keys().next().value!);
      this.memo.set(raw, chosen ?? null);
    }
    return chosen;
  }

  /** Entries remembered now (for tests and a future gauge). */
  get size(): number {
    return this.memo.size;
  }
}

const defaultNegotiator = new Negotiator();

/** Negotiation with the default preference (zstd, br, gzip). */
export function negotiateEncoding(header: HeaderValue): Negotiated | undefined {
  return defaultNegotiator.negotiate(header);
}
