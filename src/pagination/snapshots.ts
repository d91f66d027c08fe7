/**
 * Snapshots of upstream lists, so that every page of one walk comes from the same list: the first
 * page fetches the list fresh and stores it here; later pages (carrying a cursor) read only the
 * snapshot, never the upstream. A walk therefore sees every item once and in order even while the
 * upstream list changes, and costs the upstream one request instead of one per page.
 *
 * The store is bounded three ways, because clients start walks and never finish them: by count,
 * by bytes (the upstream JSON bytes of the lists) and by age. When full, the least recently used
 * snapshot goes, which is most likely an abandoned walk. Snapshots live in this process only: a
 * cursor reaching another replica finds no snapshot (see cursor.ts).
 */
import { randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { JsonObject } from '../llm/json.ts';
import { fail, ok, type Result } from './result.ts';

/** Raw bytes of a snapshot id; ids are their base64url text (22 characters). cursor.ts packs them raw. */
export const SNAPSHOT_ID_BYTES = 16;

/** 128 random bits: a client cannot guess a live snapshot's id, even before the cursor's HMAC. */
export const newSnapshotId = (): string => randomBytes(SNAPSHOT_ID_BYTES).toString('base64url');

export const UNKNOWN_SNAPSHOT_MESSAGE =
  'The list snapshot this cursor refers to is no longer held (evicted, restarted, or another replica); start again without a cursor.';

export interface Snapshot {
  readonly id: string;
  /** A frozen shallow copy of the list: the caller's array may change, the snapshot does not. */
  readonly items: readonly unknown[];
  /** The upstream body's other top-level fields (UpstreamList.template), for every page's response. */
  readonly template: JsonObject | undefined;
  /** The bytes it counts against the budget: the upstream body's length. */
  readonly bytes: number;
  /** Epoch milliseconds after which it is gone; the walk's cursors carry the same instant. */
  readonly expiresAt: number;
}

export interface SnapshotStoreOptions {
  readonly maxSnapshots: number;
  /**
   * Budget in upstream JSON bytes. The parsed items take more V8 heap than their JSON (roughly 2-4×
   * for typical objects), so set it with that factor in mind.
   */
  readonly maxBytes: number;
  /** Lifetime from creation; reads do not extend it, which bounds how stale a page can be. */
  readonly ttlMs: number;
  /** Epoch milliseconds; tests pass their own clock. */
  readonly now?: () => number;
}

export interface SnapshotStoreStats {
  readonly snapshots: number;
  readonly bytes: number;
  /** Live snapshots pushed out by the count or byte bound: walks that will fail with unknown_snapshot. */
  readonly evictions: number;
}

/** What the first page's fetch yields: the list and its size in upstream bytes. */
export interface FreshList {
  readonly items: readonly unknown[];
  readonly bytes: number;
  readonly template?: JsonObject | undefined;
}

export class SnapshotStore {
  readonly #cache: LRUCache<string, Snapshot>;
  readonly #ttlMs: number;
  readonly #maxBytes: number;
  readonly #now: () => number;
  #evictions = 0;

  constructor(options: SnapshotStoreOptions) {
    const { maxSnapshots, maxBytes, ttlMs } = options;
    if (!Number.isSafeInteger(maxSnapshots) || maxSnapshots < 1) {
      throw new RangeError(`snapshot store maxSnapshots must be an integer ≥ 1, got ${maxSnapshots}`);
    }
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) {
      throw new RangeError(`snapshot store maxBytes must be an integer ≥ 1, got ${maxBytes}`);
    }
    if (!Number.isSafeInteger(ttlMs) || ttlMs < 1) {
      throw new RangeError(`snapshot store ttlMs must be an integer ≥ 1, got ${ttlMs}`);
    }
    this.#ttlMs = ttlMs;
    this.#maxBytes = maxBytes;
    this.#now = options.now ?? Date.now;
    this.#cache = new LRUCache<string, Snapshot>({
      max: maxSnapshots,
      maxSize: maxBytes,
      // An empty list still costs an entry; 1 keeps lru-cache from refusing a size of 0.
      sizeCalculation: (snapshot) => Math.max(1, snapshot.bytes),
      ttl: ttlMs,
      perf: { now: this.#now },
      // Read the clock on every check rather than a cached value behind a timer.
      ttlResolution: 0,
      updateAgeOnGet: false,
      dispose: (snapshot, _id, reason) => {
        if (reason === 'evict' && snapshot.expiresAt > this.#now()) this.#evictions++;
      },
    });
  }

  /**
   * Stores a copy of `items`, counted as `bytes`, and returns it with its fresh id. Throws when
   * `bytes` alone exceeds the budget: the caller's list cap (maxListBytes ≤ maxSnapshotBytes) is
   * meant to stop such lists before they get here.
   */
  put(items: readonly unknown[], bytes: number, template?: JsonObject): Snapshot {
    if (!Number.isSafeInteger(bytes) || bytes < 0 || bytes > this.#maxBytes) {
      throw new RangeError(`snapshot bytes must be an integer 0-${this.#maxBytes}, got ${bytes}`);
    }
    const snapshot: Snapshot = {
      id: newSnapshotId(),
      items: Object.freeze([...items]),
      template,
      bytes,
      // Whole milliseconds: cursors carry it as an integer.
      expiresAt: Math.floor(this.#now()) + this.#ttlMs,
    };
    this.#cache.set(snapshot.id, snapshot);
    return snapshot;
  }

  /** The snapshot, if held and not expired; it becomes the most recently used. */
  get(id: string): Snapshot | undefined {
    return this.#fresh(id, this.#cache.get(id));
  }

  /** Whether the snapshot is held and not expired, without touching its recency. */
  has(id: string): boolean {
    return this.#fresh(id, this.#cache.peek(id)) !== undefined;
  }

  /**
   * lru-cache counts an entry stale only once its age passes the TTL; the cursor says expired at
   * expiresAt itself. Checking here makes both agree to the millisecond.
   */
  #fresh(id: string, snapshot: Snapshot | undefined): Snapshot | undefined {
    if (snapshot === undefined || snapshot.expiresAt > this.#now()) return snapshot;
    this.#cache.delete(id);
    return undefined;
  }

  /**
   * The snapshot a page reads. The first page of a walk (no snapshot id) always fetches the list
   * fresh and stores a new snapshot, so a new walk never sees an older walk's data; a later page
   * reads only its snapshot and, if that is gone, fails rather than refetching, since a silently
   * new list would break the walk's promise of each item once.
   */
  async openWalk<K extends string>(
    snapshotId: string | undefined,
    fetchFresh: () => Promise<Result<FreshList, K>>,
  ): Promise<Result<Snapshot, K | 'unknown_snapshot'>> {
    if (snapshotId !== undefined) {
      const snapshot = this.get(snapshotId);
      return snapshot !== undefined ? ok(snapshot) : fail('unknown_snapshot', UNKNOWN_SNAPSHOT_MESSAGE);
    }
    const fresh = await fetchFresh();
    if (!fresh.ok) return fresh;
    const { items, bytes, template } = fresh.value;
    return ok(this.put(items, bytes, template));
  }

  stats(): SnapshotStoreStats {
    return { snapshots: this.#cache.size, bytes: this.#cache.calculatedSize, evictions: this.#evictions };
  }
}
