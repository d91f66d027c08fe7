/**
 * The response cache of one Sluice process: the L1 memory tier, the optional L2 Redis tier, and
 * the flights in progress. It outlives config reloads (answers and flights survive them); tier
 * settings that change are applied by rebuilding the tier that changed.
 */
import type { OutgoingHttpHeaders } from 'node:http';
import type { Logger } from 'pino';
import type { DeepReadonly } from '../config/freeze.ts';
import type { CacheConfig } from '../config/types.generated.ts';
import { canDecodeJson, decodeBody } from '../llm/body-decoding.ts';
import { type HotCounter, hotCounter } from '../telemetry/hot-children.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { CacheDecision } from './decide.ts';
import type { CachedResponse } from './entry.ts';
import { decodeEntry, encodeEntry } from './entry-codec.ts';
import { Flight } from './flight.ts';
import { MemoryTier } from './memory-tier.ts';
import { RedisTier } from './redis-tier.ts';
import { ReplicaFlights, type ReplicaLock } from './replica-flight.ts';
import { storableHeaders } from './stored-headers.ts';
import { jsonIsComplete, streamIsComplete } from './stream-complete.ts';

export type LookupTier = 'l1' | 'l2' | 'none';
/** `stale` and `revalidated` come from the HTTP cache of GET routes (src/stages/http-cache.ts). */
export type LookupResult = 'hit' | 'miss' | 'bypass' | 'coalesced' | 'stale' | 'revalidated';
/** `not_storable`: the HTTP cache's rules refuse the response (no-store, private, Authorization, ...). */
export type StoreResult = 'stored' | 'not_ok' | 'incomplete' | 'too_large' | 'not_storable';

type Cacheable = Extract<CacheDecision, { kind: 'cache' }>;

export interface StoredAnswer {
  readonly status: number;
  readonly headers: OutgoingHttpHeaders;
  readonly body: Buffer;
}

export class ResponseCache {
  private memory: MemoryTier;
  private redis: RedisTier | undefined;
  private replicas: ReplicaFlights | undefined;
  private settingsKey = '';
  private settings: DeepReadonly<CacheConfig>;
  private readonly flights = new Map<string, Flight>();
  /** Counted on every request of a caching route: series looked up once, like the HTTP ones. */
  private readonly lookupCounters = new Map<string, HotCounter>();
  private readonly metrics: Metrics;
  private readonly log: Logger;

  constructor(settings: DeepReadonly<CacheConfig>, metrics: Metrics, log: Logger) {
    this.metrics = metrics;
    this.log = log;
    this.settings = settings;
    this.memory = this.memoryTier(settings);
    this.configure(settings);
  }

  /** Applies new tier settings; a tier whose settings did not change keeps its entries and connection. */
  configure(settings: DeepReadonly<CacheConfig>): void {
    const memoryChanged =
      settings.l1_max_bytes !== this.settings.l1_max_bytes ||
      settings.max_entry_bytes !== this.settings.max_entry_bytes;
    if (memoryChanged) this.memory = this.memoryTier(settings);
    const redisKey = JSON.stringify(settings.redis ?? null);
    if (redisKey !== this.settingsKey) {
      void this.redis?.close();
      this.redis = settings.redis
        ? new RedisTier(settings.redis, this.log, {
            onEvent: (event, seconds) => {
              this.metrics.cacheL2Operations.labels(event).inc();
              if (event !== 'rejected') this.metrics.cacheL2Duration.observe(seconds);
            },
          })
        : undefined;
      this.replicas = this.redis ? new ReplicaFlights(this.redis) : undefined;
      this.settingsKey = redisKey;
    }
    this.settings = settings;
  }

  count(route: string, tier: LookupTier, result: LookupResult): void {
    const key = `${route}\u0000${tier}\u0000${result}`;
    let counter = this.lookupCounters.get(key);
    if (counter === undefined) {
      counter = hotCounter(this.metrics.cacheLookups, [route, tier, result]);
      this.lookupCounters.set(key, counter);
    }
    counter.inc();
  }

  /**
   * L1 only, without a promise: a hit in memory is answered in the same tick. Counts hits; the
   * stage asks L2 (`lookupShared`) on a miss when `hasShared`.
   */
  lookupLocal(route: string, key: string): CachedResponse | undefined {
    const local = this.memory.get(key);
    if (local === undefined || local.expiresAt <= Date.now()) return undefined;
    this.count(route, 'l1', 'hit');
    return local;
  }

  get hasShared(): boolean {
    return this.redis !== undefined;
  }

  /** L2, promoting a hit to L1; counts hits. */
  async lookupShared(route: string, key: string): Promise<CachedResponse | undefined> {
    const raw = this.redis ? await this.redis.get(key) : undefined;
    const shared = raw ? decodeEntry(raw) : undefined;
    if (shared && shared.expiresAt > Date.now()) {
      this.memory.set(key, shared);
      this.count(route, 'l2', 'hit');
      return shared;
    }
    // Not counted as a miss yet: the request may still join a flight (coalesced); the stage counts it.
    return undefined;
  }

  countStore(route: string, result: StoreResult, storedBytes?: number): void {
    this.metrics.cacheStores.labels(route, result).inc();
    if (result === 'stored' && storedBytes !== undefined)
      this.metrics.cacheEntryBytes.labels(route).observe(storedBytes);
  }

  /** The largest body any tier keeps (cache.max_entry_bytes). */
  get maxEntryBytes(): number {
    return this.settings.max_entry_bytes;
  }

  /**
   * The entry under `key` as stored, from L1, then L2 (promoting it to L1), with the tier that held
   * it; nothing is counted. For callers with their own entry rules, such as the HTTP cache.
   */
  async lookupEntry(key: string): Promise<{ entry: CachedResponse; tier: 'l1' | 'l2' } | undefined> {
    const now = Date.now();
    const local = this.memory.get(key);
    if (local && local.expiresAt > now) return { entry: local, tier: 'l1' };
    const raw = this.redis ? await this.redis.get(key) : undefined;
    const shared = raw ? decodeEntry(raw) : undefined;
    if (!shared || shared.expiresAt <= now) return undefined;
    this.memory.set(key, shared);
    return { entry: shared, tier: 'l2' };
  }

  /** Keeps `entry` under `key` in every tier until its `expiresAt`, as given: no checks, nothing counted. */
  storeEntry(key: string, entry: CachedResponse): void {
    this.memory.set(key, entry);
    if (this.redis) {
      const encoded = encodeEntry(entry, this.settings.redis?.compress_above_bytes ?? 1024);
      void this.redis.set(key, encoded, entry.expiresAt - Date.now());
    }
  }

  /** Drops the entry under `key` from every tier; resolves when L2 answered or gave up. */
  async deleteEntry(key: string): Promise<void> {
    this.memory.delete(key);
    await this.redis?.delete(key);
  }

  /** The flight for `key` a new client can still join from its start, if any. */
  flightFor(key: string): Flight | undefined {
    const flight = this.flights.get(key);
    return flight?.joinable ? flight : undefined;
  }

  beginFlight(key: string): Flight {
    const flight = new Flight(key, this.settings.max_entry_bytes);
    this.flights.set(key, flight);
    return flight;
  }

  endFlight(flight: Flight): void {
    if (this.flights.get(flight.key) === flight) this.flights.delete(flight.key);
  }

  /**
   * Who answers a cacheable miss across replicas (routes with `across_replicas`): another
   * replica's stored answer (`entry`, counted as coalesced from L2 and kept in L1), or this
   * replica's call, under a lock other replicas wait on while it is held.
   */
  async claimAcrossReplicas(
    route: string,
    decision: Cacheable,
    waitMs: number,
  ): Promise<{ readonly entry?: CachedResponse; readonly lock?: ReplicaLock }> {
    if (this.replicas === undefined) return {};
    const claim = await this.replicas.claim(decision.key, waitMs);
    if (claim.kind === 'call') {
      if (claim.outcome !== undefined) this.metrics.cacheReplicaWaits.labels(route, claim.outcome).inc();
      return claim.lock === undefined ? {} : { lock: claim.lock };
    }
    const entry = decodeEntry(claim.entry);
    if (entry === undefined || entry.expiresAt <= Date.now()) {
      // Unreadable or already gone: as if the leader had failed, without waiting again.
      this.metrics.cacheReplicaWaits.labels(route, 'leader_failed').inc();
      return {};
    }
    this.metrics.cacheReplicaWaits.labels(route, 'answered').inc();
    this.memory.set(decision.key, entry);
    this.count(route, 'l2', 'coalesced');
    return { entry };
  }

  /**
   * Stores a complete 2xx answer in every tier; anything else is counted and dropped. L1 has it
   * at once; the promise settles when L2 has it too (or gave up), which is when another replica
   * waiting for this answer can find it.
   */
  async store(route: string, decision: Cacheable, answer: StoredAnswer): Promise<StoreResult> {
    const result = this.storable(decision, answer);
    this.countStore(route, result, answer.body.length);
    if (result !== 'stored') return result;
    const storedAt = Date.now();
    const entry: CachedResponse = {
      status: answer.status,
      headers: storableHeaders(answer.headers),
      body: answer.body,
      stream: decision.stream,
      storedAt,
      expiresAt: storedAt + decision.ttlMs,
    };
    this.memory.set(decision.key, entry);
    if (this.redis) {
      const encoded = encodeEntry(entry, this.settings.redis?.compress_above_bytes ?? 1024);
      await this.redis.set(decision.key, encoded, decision.ttlMs);
    }
    return 'stored';
  }

  private storable(decision: Cacheable, answer: StoredAnswer): StoreResult {
    if (answer.status < 200 || answer.status >= 300) return 'not_ok';
    if (answer.body.length > this.settings.max_entry_bytes) return 'too_large';
    // A compressed answer is checked decompressed; it is replayed as it came (the client's
    // accept-encoding is part of the key, so only clients that accept it get it).
    const encoding = answer.headers['content-encoding'];
    let plain = answer.body;
    if (typeof encoding === 'string' && encoding !== 'identity') {
      if (!canDecodeJson(encoding)) return 'incomplete';
      try {
        plain = decodeBody(answer.body, encoding, this.settings.max_entry_bytes * 16);
      } catch {
        return 'incomplete';
      }
    }
    const complete = decision.stream ? streamIsComplete(decision.protocol, plain) : jsonIsComplete(plain);
    return complete ? 'stored' : 'incomplete';
  }

  async purge(prefix: string): Promise<number> {
    const local = this.memory.purge((key) => key.startsWith(prefix));
    const shared = this.redis ? await this.redis.purge(prefix) : 0;
    return local + shared;
  }

  private memoryTier(settings: DeepReadonly<CacheConfig>): MemoryTier {
    return new MemoryTier({
      maxBytes: settings.l1_max_bytes,
      maxEntryBytes: settings.max_entry_bytes,
      onEvict: () => this.metrics.cacheEvictions.labels('l1').inc(),
    });
  }

  /** The L1 gauges, refreshed before each scrape. */
  reportGauges(): void {
    const { entries, bytes, maxBytes } = this.memory.stats();
    this.metrics.cacheEntries.labels('l1').set(entries);
    this.metrics.cacheBytes.labels('l1').set(bytes);
    this.metrics.cacheMaxBytes.labels('l1').set(maxBytes);
    this.metrics.cacheL2Up.set(this.redis === undefined ? 0 : this.redis.state() === 'up' ? 1 : 0);
  }

  stats() {
    return {
      l1: this.memory.stats(),
      l2: this.redis ? { state: this.redis.state(), ...this.redis.stats() } : { state: 'off' },
      flights: this.flights.size,
    };
  }

  async close(): Promise<void> {
    await this.redis?.close();
  }
}
