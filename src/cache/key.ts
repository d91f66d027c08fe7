/**
 * The LLM response cache's key and the decisions taken from the request alone: may this request be
 * cached, does the route's condition hold, did the client ask to bypass or refresh. Pure functions,
 * no I/O. Key layout: `${route}:${tenant}:${sha256 hex}` (see cacheKey).
 */
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import canonicalize from 'canonicalize';
import type { JsonObject } from '../llm/json.ts';
import type { LlmOperation, LlmProtocol } from '../llm/request.ts';

/**
 * RFC 8785 (JSON Canonicalization Scheme) text of a JSON value, or undefined when it has none. The
 * only such value JSON.parse can produce is a string with a lone surrogate (`"\ud800"`), which RFC
 * 8785 forbids and the library rejects by throwing; mapping those to a replacement character would
 * make different prompts share a key, so such a request is simply not cached.
 *
 * Numbers are serialized as the JSON numbers they are: `1.0`, `1` and `1e0` are one number and give
 * one text. JSON.parse has already rounded to IEEE 754 doubles, so integers beyond 2^53 that differ
 * only past that precision (a huge `seed`) give the same text, as they do for any JS client.
 */
function canonicalJson(value: unknown): string | undefined {
  try {
    return canonicalize(value);
  } catch {
    return undefined;
  }
}

/**
 * The request body in canonical JSON without the ignored top-level fields, so key order and
 * whitespace do not change the key. Only top-level fields are dropped: a `user` inside `messages`
 * is prompt content. Undefined: the body cannot be canonicalized (see canonicalJson); do not cache.
 */
export function canonicalRequest(body: JsonObject, ignoreFields: readonly string[]): string | undefined {
  const ignored = new Set(ignoreFields);
  // fromEntries defines own properties, so a client's `__proto__` field stays data and stays keyed.
  const kept = Object.fromEntries(Object.entries(body).filter(([field]) => !ignored.has(field)));
  return canonicalJson(kept);
}

/**
 * Hex digest of several strings, each length-prefixed (`<utf-8 bytes>:<text>`) so no choice of
 * values can shift a boundary: ('a:', 'b') and ('a', ':b') hash differently.
 */
function digestOf(fields: readonly string[]): string {
  const hash = createHash('sha256');
  for (const field of fields) hash.update(`${Buffer.byteLength(field)}:`).update(field);
  return hash.digest('hex');
}

/**
 * 128 bits of sha256. A cache hit is answered without the upstream ever checking the credential,
 * so the scope is what keeps a tenant's answers private. 64 bits would make accidental collisions
 * negligible, but a targeted second preimage (an attacker crafting a header that lands on a scope
 * seen in a Redis key name) would cost about 2^64 hashes: within reach of rented GPUs. 2^128 is not.
 */
const SCOPE_HEX_CHARS = 32;

export const CREDENTIAL_HEADERS = ['authorization', 'x-api-key', 'api-key'] as const;

function headerText(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  const text = Array.isArray(value) ? value.join(', ') : value;
  return text === undefined || text === '' ? undefined : text;
}

/**
 * Whose cache entries a request may read: `t-<hash>` of the configured tenant header when the
 * request has it, else `k-<hash>` of its credential headers, else `anonymous` (upstreams without
 * authentication, where every client sees the same answers anyway). Never the credential itself.
 *
 * The tenant header is trusted as given: it must be set by something in front of Sluice that
 * authenticates the client, or any client could name another tenant.
 *
 * Every credential header present is hashed (with its name), not only the first: a client behind a
 * gateway that adds one shared `authorization` is still told apart by its own `x-api-key`.
 */
export function tenantScope(headers: IncomingHttpHeaders, tenantHeader: string | undefined): string {
  const tenant = tenantHeader === undefined ? undefined : headerText(headers, tenantHeader.toLowerCase());
  if (tenant !== undefined) return 't-' + digestOf([tenant]).slice(0, SCOPE_HEX_CHARS);
  const credentials: string[] = [];
  for (const name of CREDENTIAL_HEADERS) {
    const value = headerText(headers, name);
    if (value !== undefined) credentials.push(name, value);
  }
  if (credentials.length === 0) return 'anonymous';
  return 'k-' + digestOf(credentials).slice(0, SCOPE_HEX_CHARS);
}

const VARIANT_HEADERS = ['anthropic-version', 'anthropic-beta', 'openai-beta'] as const;

/**
 * Request headers that change what the upstream answers without changing the body: Anthropic's
 * API version and beta features (a beta can change the shape of the SSE stream) and OpenAI's beta
 * opt-ins. Returned as one string for `cacheKey`'s `variantHeaders`; '' when none is sent.
 */
export function variantHeaders(headers: IncomingHttpHeaders): string {
  const present: string[] = [];
  for (const name of VARIANT_HEADERS) {
    const value = headerText(headers, name);
    if (value !== undefined) present.push(`${name}=${value}`);
  }
  return present.join('\n');
}

export interface CacheKeyParts {
  /** Route name (the config schema allows no `:` in it, so the prefix is unambiguous). */
  readonly route: string;
  /** The upstream path with its query string (`?api-version=` selects behaviour on Azure). */
  readonly path: string;
  /** From tenantScope. */
  readonly tenant: string;
  /** An SSE answer and a JSON answer to the same body are different entries. */
  readonly stream: boolean;
  /** From canonicalRequest. */
  readonly canonicalBody: string;
  /** From variantHeaders; absent means none were sent. */
  readonly variantHeaders?: string;
}

/**
 * `${route}:${tenant}:${digest}`, digest = sha256 hex of path, stream flag, variant headers and
 * canonical body, length-prefixed. The readable prefix lets a purge by route (`route:`) or by
 * tenant (`route:tenant:`) find keys by prefix; none of the parts contains `{` or `}`, so the Redis
 * tier can hash-tag the key as it likes.
 */
export function cacheKey(parts: CacheKeyParts): string {
  const digest = digestOf([
    parts.path,
    parts.stream ? 'stream' : 'json',
    parts.variantHeaders ?? '',
    parts.canonicalBody,
  ]);
  return `${parts.route}:${parts.tenant}:${digest}`;
}

/**
 * The route's `when`: every listed top-level field is present and equal to its value, compared as
 * JSON (so `0` equals `0.0`, objects ignore key order, arrays do not). Empty: every request.
 */
export function matchesCondition(body: JsonObject, when: Readonly<Record<string, unknown>>): boolean {
  for (const [field, expected] of Object.entries(when)) {
    if (!Object.hasOwn(body, field)) return false;
    const actual = canonicalJson(body[field]);
    if (actual === undefined || actual !== canonicalJson(expected)) return false;
  }
  return true;
}

/** `use`: read and store; `bypass`: neither (no-store); `refresh`: skip the read, store the new answer. */
export type ClientDirective = 'use' | 'bypass' | 'refresh';

/**
 * Directive names of a Cache-Control value (RFC 9111 §5.2), lower-cased. Commas inside quoted
 * arguments do not split, so `private="a, no-store"` is one directive. Arguments are dropped: for a
 * request, `no-cache="x"` means no-cache.
 */
function directiveNames(value: string): Set<string> {
  const names = new Set<string>();
  const add = (directive: string) => {
    const name = (directive.split('=', 1)[0] ?? '').trim().toLowerCase();
    if (name !== '') names.add(name);
  };
  let inQuotes = false;
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const char = value[i];
    if (inQuotes) {
      if (char === '\\') i++;
      else if (char === '"') inQuotes = false;
    } else if (char === '"') {
      inQuotes = true;
    } else if (char === ',') {
      add(value.slice(start, i));
      start = i + 1;
    }
  }
  add(value.slice(start));
  return names;
}

/**
 * What the client asked of the cache. No-store wins over a refresh request: a client that forbids
 * storing must not have its answer stored. Other directives (`max-age`, `min-fresh`, ...) are not
 * honoured: how long an LLM answer stays servable is the route's decision. With `allowBypass` off
 * the route ignores clients entirely.
 */
export function clientDirective(headers: IncomingHttpHeaders, allowBypass: boolean): ClientDirective {
  if (!allowBypass) return 'use';
  const cacheControl = directiveNames(headerText(headers, 'cache-control') ?? '');
  if (cacheControl.has('no-store')) return 'bypass';
  if (cacheControl.has('no-cache')) return 'refresh';
  if (directiveNames(headerText(headers, 'x-sluice-cache') ?? '').has('refresh')) return 'refresh';
  return 'use';
}

const CACHEABLE_OPERATIONS: Readonly<Record<LlmProtocol, ReadonlySet<LlmOperation>>> = {
  openai: new Set<LlmOperation>(['chat', 'text_completion', 'embeddings', 'responses']),
  anthropic: new Set<LlmOperation>(['chat', 'count_tokens']),
};

function isPresent(body: JsonObject, field: string): boolean {
  return body[field] !== undefined && body[field] !== null;
}

/**
 * Does the request touch server-side state, so that answering it from the cache would skip an
 * effect the client asked for or return an answer to a state that has since moved on?
 * - `store: true` asks the upstream to keep the answer (Chat Completions, Responses). Responses
 *   store by default, so only an explicit `store: false` Responses request is cacheable.
 * - `background: true` returns a queued response to poll, not an answer.
 * - `previous_response_id` / `conversation` (Responses) and `container` (Anthropic code execution)
 *   continue state held upstream; `conversation` also appends to it.
 */
function isStateful(protocol: LlmProtocol, operation: LlmOperation, body: JsonObject): boolean {
  if (protocol === 'anthropic') return isPresent(body, 'container');
  if (body['store'] === true || body['background'] === true) return true;
  if (operation !== 'responses') return false;
  return (
    body['store'] !== false || isPresent(body, 'previous_response_id') || isPresent(body, 'conversation')
  );
}

/**
 * May this request's answer come from, and go into, the LLM cache? POST generation, embedding and
 * token-counting operations whose body is a JSON object and that touch no server-side state;
 * never model listings or paths Sluice does not recognise.
 */
export function isCacheableOperation(
  protocol: LlmProtocol,
  method: string,
  operation: LlmOperation,
  body: JsonObject | undefined,
): boolean {
  if (method !== 'POST' || body === undefined) return false;
  if (!CACHEABLE_OPERATIONS[protocol].has(operation)) return false;
  return !isStateful(protocol, operation, body);
}
