/**
 * The cache stage of routes with `cache` or `dedupe`: answers identical requests from the cache
 * (`x-sluice-cache: HIT`, with `Age`), lets identical requests in flight share one upstream call
 * (`COALESCED`), and stores complete 2xx answers on the way back (`MISS`). It sits before the LLM
 * stage, so answers Sluice did not buy from the provider are not counted as token usage.
 */
import type { OutgoingHttpHeaders } from 'node:http';
import { type CacheDecision, DecisionMemo } from '../cache/decide.ts';
import type { CachedResponse } from '../cache/entry.ts';
import type { Flight, FlightHead } from '../cache/flight.ts';
import type { ReplicaLock } from '../cache/replica-flight.ts';
import type { ResponseCache } from '../cache/response-cache.ts';
import type { DeepReadonly } from '../config/freeze.ts';
import type { RouteCacheConfig } from '../config/types.generated.ts';
import type { Stage } from '../pipeline/compose.ts';
import type { ProxyContext, ResponseDraft } from '../pipeline/context.ts';

export type CacheStatus = 'HIT' | 'MISS' | 'BYPASS' | 'COALESCED';

function entryHeaders(entry: CachedResponse, status: CacheStatus): OutgoingHttpHeaders {
  const ageSeconds = Math.max(0, Math.floor((Date.now() - entry.storedAt) / 1000));
  return {
    ...entry.headers,
    'content-length': String(entry.body.length),
    age: String(ageSeconds),
    'x-sluice-cache': status,
  };
}

function answerFromEntry(ctx: ProxyContext, entry: CachedResponse): void {
  ctx.response = { status: entry.status, headers: entryHeaders(entry, 'HIT'), body: entry.body };
}

/** Another replica answered while this flight waited: its clients all get that answer. */
function shareEntry(ctx: ProxyContext, cache: ResponseCache, flight: Flight, entry: CachedResponse): void {
  const headers = entryHeaders(entry, 'COALESCED');
  flight.start({ status: entry.status, headers }, entry.body);
  void flight.end.then(() => cache.endFlight(flight));
  ctx.response = { status: entry.status, headers: { ...headers }, body: entry.body };
}

function mark(draft: ResponseDraft | undefined, status: CacheStatus): void {
  if (draft) draft.headers['x-sluice-cache'] = status;
}

/**
 * A follower takes the leader's answer: the same head, and the body from its first byte. When the
 * leader failed before answering, the follower fails the same way, or — with `follower_retry` —
 * returns false and makes one call of its own (the first such follower leads it, the others join).
 */
async function follow(ctx: ProxyContext, flight: Flight, retry: boolean): Promise<boolean> {
  let head: FlightHead;
  try {
    head = await flight.head;
  } catch (error) {
    if (retry) return false;
    throw error;
  }
  // The leader's call failed and Sluice answered with its own error (x-sluice-error): retry.
  if (retry && head.headers['x-sluice-error'] !== undefined) return false;
  const body = flight.join();
  if (!body) return false;
  const headers: OutgoingHttpHeaders = { ...head.headers, 'x-sluice-cache': 'COALESCED' };
  ctx.response = { status: head.status, headers, body };
  return true;
}

/**
 * Leads a flight: the upstream call is the flight's, the answer is shared and, when it qualifies,
 * stored. With `acrossReplicasMs`, the flight first asks Redis whether another replica is already
 * calling; local clients that join meanwhile share that one wait.
 */
async function lead(
  ctx: ProxyContext,
  cache: ResponseCache,
  decision: Extract<CacheDecision, { kind: 'cache' | 'dedupe' }>,
  next: () => Promise<void>,
  acrossReplicasMs: number | undefined,
): Promise<void> {
  const flight = cache.beginFlight(decision.key);
  ctx.upstreamSignal = flight.upstreamAbort.signal;
  let lock: ReplicaLock | undefined;
  if (decision.kind === 'cache' && acrossReplicasMs !== undefined) {
    const claim = await cache.claimAcrossReplicas(ctx.route.name, decision, acrossReplicasMs);
    if (claim.entry) {
      shareEntry(ctx, cache, flight, claim.entry);
      return;
    }
    lock = claim.lock;
  }
  if (decision.kind === 'cache') cache.count(ctx.route.name, 'none', 'miss');
  // The leader's own client leaving must not end the call for the others: its reader leaving does.
  try {
    await next();
  } catch (error) {
    flight.fail(error);
    cache.endFlight(flight);
    void lock?.release();
    throw error;
  }
  const draft = ctx.response;
  if (!draft) {
    flight.fail(new Error('no response'));
    cache.endFlight(flight);
    void lock?.release();
    return;
  }
  flight.start({ status: draft.status, headers: { ...draft.headers } }, draft.body);
  const body = flight.join();
  if (body) draft.body = body;
  mark(draft, decision.kind === 'cache' ? 'MISS' : 'BYPASS');
  const { status, headers } = draft;
  void flight.end.then(async (end) => {
    cache.endFlight(flight);
    // Released only once L2 has the answer: a replica that sees the lock gone stops waiting.
    try {
      if (decision.kind === 'cache' && end.complete)
        await cache.store(ctx.route.name, decision, { status, headers, body: end.body });
    } finally {
      await lock?.release();
    }
  });
}

export function cacheStage(
  cache: ResponseCache,
  settings: DeepReadonly<RouteCacheConfig> | undefined,
  dedupe: boolean,
): Stage {
  const memo = new DecisionMemo();
  const acrossReplicas = settings?.across_replicas;
  const acrossReplicasMs = acrossReplicas === undefined ? undefined : acrossReplicas.wait_seconds * 1000;
  return {
    name: 'cache',
    async run(ctx, next) {
      const decision = memo.decide(ctx, settings, dedupe);
      if (decision.kind === 'pass') {
        await next();
        return;
      }
      if (decision.kind === 'bypass') {
        await next();
        mark(ctx.response, 'BYPASS');
        cache.count(ctx.route.name, 'none', 'bypass');
        return;
      }
      if (decision.kind === 'cache' && decision.read) {
        const hit =
          cache.lookupLocal(ctx.route.name, decision.key) ??
          (cache.hasShared ? await cache.lookupShared(ctx.route.name, decision.key) : undefined);
        if (hit) {
          answerFromEntry(ctx, hit);
          return;
        }
      }
      const flight = decision.shareInFlight ? cache.flightFor(decision.key) : undefined;
      const retry = settings?.follower_retry === true;
      if (flight && (await follow(ctx, flight, retry))) {
        cache.count(ctx.route.name, 'none', 'coalesced');
        return;
      }
      // After a failed leader, a retry joins the call another follower already started again.
      const again = flight && retry ? cache.flightFor(decision.key) : undefined;
      if (again && again !== flight && (await follow(ctx, again, false))) {
        cache.count(ctx.route.name, 'none', 'coalesced');
        return;
      }
      // Clients that asked for a fresh answer never wait for another replica's.
      const across = decision.shareInFlight && cache.hasShared ? acrossReplicasMs : undefined;
      await lead(ctx, cache, decision, next, across);
    },
  };
}
