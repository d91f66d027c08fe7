/**
 * The HTTP cache stage of routes with `http_cache`: GET and HEAD requests are answered from stored
 * responses as RFC 9111 allows (`x-sluice-cache: HIT`, with `Age`), revalidated upstream with the
 * stored validators (`REVALIDATED` after a 304), served stale under the upstream's
 * `stale-while-revalidate` (refreshed in the background) and `stale-if-error` (`STALE`), and stored
 * on the way back (`MISS`; `BYPASS` when the rules forbid storing). Unsafe requests that succeed
 * drop what is stored for their URI. The policy decisions live in src/cache/http-policy.ts.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import type { HttpCache, HttpCacheRequest, StoredHttpResponse } from '../cache/http-cache.ts';
import {
  clientHasIt,
  clientValidators,
  mayServeStale,
  notModifiedHeaders,
  revalidationValidators,
  type Validators,
} from '../cache/http-policy.ts';
import type { StoreResult } from '../cache/response-cache.ts';
import type { Next, Stage } from '../pipeline/compose.ts';
import type { ProxyContext, ResponseDraft } from '../pipeline/context.ts';

export type HttpCacheStatus = 'HIT' | 'MISS' | 'STALE' | 'REVALIDATED' | 'BYPASS';

/** Methods that cannot change the resource (RFC 9110 §9.2.1); any other one invalidates its URI. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

const VALIDATOR_HEADERS = ['if-none-match', 'if-modified-since'] as const;

/** Answers from a stored response: the policy's headers (with `Age`), or a 304 if the client has it. */
function answer(
  ctx: ProxyContext,
  stored: StoredHttpResponse,
  status: HttpCacheStatus,
  validators: Validators,
): void {
  const headers = { ...stored.policy.responseHeaders(), 'x-sluice-cache': status };
  ctx.response = clientHasIt(validators, headers)
    ? { status: 304, headers: { ...notModifiedHeaders(headers), 'x-sluice-cache': status }, body: null }
    : {
        status: stored.status,
        headers: { ...headers, 'content-length': String(stored.body.length) },
        body: stored.body,
      };
}

/** Lets go of an upstream answer Sluice will not forward: a 304 is drained, keeping the connection. */
function discard(draft: ResponseDraft): void {
  if (!(draft.body instanceof Readable)) return;
  if (draft.status === 304) draft.body.resume();
  else draft.body.destroy();
}

/**
 * Puts `validators` on the request in place of whatever it had. It changes the client's request
 * object because the upstream stage forwards that object's headers; the client's own validators
 * are kept aside (clientValidators) to be put back or answered from the cache.
 */
function askWith(headers: IncomingHttpHeaders, validators: Validators): void {
  for (const name of VALIDATOR_HEADERS) {
    const value = validators[name];
    if (value === undefined) delete headers[name];
    else headers[name] = value;
  }
}

/**
 * A context for a call made after the client was answered (stale-while-revalidate): the same
 * request, but its own response, upstream name, timings and signal, so nothing the refresh does
 * reaches the client's response or its log line, and the client leaving does not abort it.
 */
function detachedContext(ctx: ProxyContext): ProxyContext {
  const detached: ProxyContext = Object.create(ctx, {
    response: { value: undefined, writable: true },
    upstreamName: { value: '', writable: true },
    upstreamSignal: { value: new AbortController().signal, writable: true },
    timings: { value: { ...ctx.timings } },
  });
  return detached;
}

/** Stores the upstream's answer once its body has arrived whole, if the rules allow. */
function offer(ctx: ProxyContext, http: HttpCache, request: HttpCacheRequest, draft: ResponseDraft): void {
  const admitted = ctx.req.method === 'GET' ? http.admit(request, draft.status, draft.headers) : undefined;
  if (admitted === undefined || typeof admitted === 'string') {
    if (admitted !== undefined) http.countStore(admitted);
    draft.headers['x-sluice-cache'] = 'BYPASS';
    http.count('none', 'bypass');
    return;
  }
  draft.headers['x-sluice-cache'] = 'MISS';
  http.count('none', 'miss');
  collectBody(draft, http.maxEntryBytes, (outcome) => {
    if (typeof outcome === 'string') http.countStore(outcome);
    else void http.store(request, admitted, outcome);
  });
}

/**
 * Calls `done` with the whole body once the client was sent all of it, or with why it is not kept:
 * larger than `maxBytes` (it streams on, unstored) or cut off. It reads beside the client's copy
 * (the draft's observer), so storing never delays or buffers what the client gets.
 */
function collectBody(
  draft: ResponseDraft,
  maxBytes: number,
  done: (outcome: Buffer | StoreResult) => void,
): void {
  const { body } = draft;
  if (!(body instanceof Readable)) {
    done(body === null ? Buffer.alloc(0) : Buffer.from(body));
    return;
  }
  if (Number(draft.headers['content-length']) > maxBytes) {
    done('too_large');
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let ended = false;
  const earlier = draft.observer;
  draft.observer = {
    observe(chunk) {
      earlier?.observe(chunk);
      size += chunk.length;
      if (size <= maxBytes) chunks.push(chunk);
      else chunks.length = 0;
    },
  };
  body.once('end', () => {
    ended = true;
    done(size > maxBytes ? 'too_large' : Buffer.concat(chunks, size));
  });
  body.once('close', () => {
    if (!ended) done('incomplete');
  });
}

/** The whole body of a response no client reads (a background refresh), or undefined past `maxBytes`. */
async function readWhole(body: ResponseDraft['body'], maxBytes: number): Promise<Buffer | undefined> {
  if (!(body instanceof Readable)) return body === null ? Buffer.alloc(0) : Buffer.from(body);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    // Leaving the loop early destroys the body, which aborts the upstream transfer.
    if (size > maxBytes) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

interface Lookup {
  readonly http: HttpCache;
  readonly request: HttpCacheRequest;
  readonly clientValidators: Validators;
}

/** After a conditional request: STALE on an upstream error, REVALIDATED on a matching 304. */
async function settleRevalidation(
  ctx: ProxyContext,
  next: Next,
  { http, request, clientValidators }: Lookup,
  stored: StoredHttpResponse,
): Promise<boolean> {
  const draft = ctx.response;
  if (!draft) return false;
  // Sluice's own error answers (unreachable, timeout, open breaker) are 5xx drafts by now too.
  if (draft.status >= 500 && mayServeStale(stored.policy, 'stale-if-error', http.maxStaleSeconds)) {
    discard(draft);
    answer(ctx, stored, 'STALE', clientValidators);
    http.count(stored.tier, 'stale');
    return true;
  }
  if (draft.status !== 304) return false;
  discard(draft);
  const renewed = http.revalidated(request, stored, draft.headers);
  if (renewed === undefined) {
    // A 304 about another response: drop ours and ask again without validators (RFC 9111 §4.3.4).
    await http.forget(stored);
    askWith(ctx.req.headers, clientValidators);
    ctx.response = undefined;
    await next();
    return false;
  }
  const refreshed = { ...stored, policy: renewed };
  void http.store(request, { status: stored.status, policy: renewed, vary: stored.vary }, stored.body);
  answer(ctx, refreshed, 'REVALIDATED', clientValidators);
  http.count(stored.tier, 'revalidated');
  return true;
}

/** The upstream's answer to a background revalidation: renews, replaces or drops the stored response. */
async function applyRefresh(ctx: ProxyContext, lookup: Lookup, stored: StoredHttpResponse): Promise<void> {
  const { http, request } = lookup;
  const draft = ctx.response;
  if (!draft) return;
  if (draft.status === 304) {
    discard(draft);
    const renewed = http.revalidated(request, stored, draft.headers);
    if (renewed === undefined) await http.forget(stored);
    else
      await http.store(request, { status: stored.status, policy: renewed, vary: stored.vary }, stored.body);
    return;
  }
  // An error keeps the stale response for as long as it may be served.
  if (draft.status >= 500) {
    discard(draft);
    return;
  }
  const admitted = http.admit(request, draft.status, draft.headers);
  if (typeof admitted === 'string') {
    discard(draft);
    await http.forget(stored);
    return;
  }
  const body = await readWhole(draft.body, http.maxEntryBytes);
  if (body !== undefined) {
    await http.store(request, admitted, body);
    return;
  }
  // The response has changed into one too large to keep: the stored one is outdated.
  http.countStore('too_large');
  await http.forget(stored);
}

export function httpCacheStage(http: HttpCache, upstreamCall: Stage): Stage {
  const refreshing = new Set<string>();

  /** stale-while-revalidate: one background revalidation per stored response at a time. */
  function refreshInBackground(ctx: ProxyContext, lookup: Lookup, stored: StoredHttpResponse): void {
    if (refreshing.has(stored.key)) return;
    refreshing.add(stored.key);
    const detached = detachedContext(ctx);
    askWith(ctx.req.headers, revalidationValidators(stored.policy, lookup.request.policyRequest));
    const noMoreStages = async () => {};
    upstreamCall
      .run(detached, noMoreStages)
      .then(() => applyRefresh(detached, lookup, stored))
      .catch((error: unknown) => ctx.log.warn({ err: error }, 'http cache background revalidation failed'))
      .finally(() => refreshing.delete(stored.key));
  }

  async function serve(ctx: ProxyContext, next: Next): Promise<void> {
    const request = http.describe(ctx.req.headers, `${ctx.path}${ctx.search}`);
    const lookup: Lookup = { http, request, clientValidators: clientValidators(ctx.req.headers) };
    const stored = await http.lookup(request);
    if (stored) {
      const { revalidation } = stored.policy.evaluateRequest(request.policyRequest);
      if (!revalidation) {
        answer(ctx, stored, 'HIT', lookup.clientValidators);
        http.count(stored.tier, 'hit');
        return;
      }
      if (
        !revalidation.synchronous &&
        mayServeStale(stored.policy, 'stale-while-revalidate', http.maxStaleSeconds)
      ) {
        answer(ctx, stored, 'STALE', lookup.clientValidators);
        http.count(stored.tier, 'stale');
        refreshInBackground(ctx, lookup, stored);
        return;
      }
      askWith(ctx.req.headers, revalidationValidators(stored.policy, request.policyRequest));
    }
    await next();
    if (stored && (await settleRevalidation(ctx, next, lookup, stored))) return;
    if (ctx.response) offer(ctx, http, request, ctx.response);
  }

  return {
    name: 'http-cache',
    async run(ctx, next) {
      const method = ctx.req.method ?? 'GET';
      if (method === 'GET' || method === 'HEAD') return serve(ctx, next);
      await next();
      const status = ctx.response?.status ?? 0;
      if (!SAFE_METHODS.has(method) && status >= 200 && status < 400)
        await http.invalidate(`${ctx.path}${ctx.search}`);
    },
  };
}
