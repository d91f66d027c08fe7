/**
 * L1: cached answers in this process's memory, least recently used first out, bounded by bytes.
 * Answers range from a few hundred bytes to megabytes, so a bound on the number of entries would
 * bound nothing; the budget is what the entries cost in memory, estimated by `entryBytes`.
 */
import { LRUCache } from 'lru-cache';
import type { CachedResponse } from './entry.ts';

/**
 * What an entry costs besides its body, key and header text. Measured on Node 24 with 100 000
 * entries (80-character keys, two headers, 16-byte to 2 KiB bodies): ~750 bytes of V8 heap each —
 * the entry and headers objects, the Buffer and its backing-store record, the key's slot in the
 * Map and in lru-cache's index arrays (next, prev, sizes, TTLs, starts) — and ~1.2–1.4 KiB of
 * RSS once the allocator's overhead for each body's separate allocation is counted. 1 KiB sits
 * between the two: real memory may pass the budget by a few hundred bytes per entry, which only a
 * budget filled with tiny entries would notice.
 */
export const ENTRY_OVERHEAD_BYTES = 1024;

/** What one entry under `key` counts against the budget. Header text is one byte per character (latin1). */
export function entryBytes(key: string, entry: CachedResponse): number {
  let headerBytes = 0;
  for (const name in entry.headers) headerBytes += name.length + entry.headers[name]!.length;
  return ENTRY_OVERHEAD_BYTES + key.length + headerBytes + entry.body.length;
}

export interface MemoryTierOptions {
  /** The byte budget (see entryBytes). 0 disables the tier: nothing is stored. */
  readonly maxBytes: number;
  /** The largest single entry kept, in the same bytes; defaults to (and is capped at) maxBytes. */
  readonly maxEntryBytes?: number;
  /** Called for each fresh entry pushed out to make room (not for expiry, replacement or purge). */
  readonly onEvict?: (key: string, bytes: number) => void;
  /** Epoch milliseconds, the clock `expiresAt` is read against; tests pass their own. */
  readonly now?: () => number;
}

export interface MemoryTierStats {
  readonly entries: number;
  /** Bytes held, by entryBytes; expired entries not yet reclaimed still count (they still hold memory). */
  readonly bytes: number;
  readonly maxBytes: number;
  /** Fresh entries evicted to stay within the budget since start: a budget too small shows here. */
  readonly evictions: number;
}

/**
 * A body that shares its memory (a slice of a socket read, a Redis reply or Node's 8 KiB pool)
 * would keep all of that memory alive while cached yet count only its own length: copy it.
 */
function ownedBody(body: Buffer): Buffer {
  if (body.byteOffset === 0 && body.buffer.byteLength === body.byteLength) return body;
  const copy = Buffer.allocUnsafeSlow(body.length);
  body.copy(copy);
  return copy;
}

export class MemoryTier {
  readonly #maxBytes: number;
  readonly #maxEntryBytes: number;
  readonly #now: () => number;
  readonly #onEvict: ((key: string, bytes: number) => void) | undefined;
  /** Undefined when the budget is 0: lru-cache refuses a maxSize of 0, and there is nothing to keep. */
  readonly #cache: LRUCache<string, CachedResponse> | undefined;
  #evictions = 0;

  constructor(options: MemoryTierOptions) {
    const { maxBytes } = options;
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
      throw new RangeError(`memory tier maxBytes must be a non-negative integer, got ${maxBytes}`);
    }
    this.#maxBytes = maxBytes;
    this.#maxEntryBytes = Math.min(options.maxEntryBytes ?? maxBytes, maxBytes);
    this.#now = options.now ?? Date.now;
    this.#onEvict = options.onEvict;
    if (maxBytes === 0) return;
    this.#cache = new LRUCache<string, CachedResponse>({
      maxSize: maxBytes,
      maxEntrySize: this.#maxEntryBytes,
      sizeCalculation: (entry, key) => entryBytes(key, entry),
      // The same clock as expiresAt, so the per-entry TTL ends exactly there.
      perf: { now: this.#now },
      // Read the clock on every check instead of caching it for 1 ms behind a timer: Date.now() is
      // cheaper than the timer churn, and an entry is never served past its expiresAt.
      ttlResolution: 0,
      dispose: (entry, key, reason) => this.#disposed(entry, key, reason),
    });
  }

  #disposed(entry: CachedResponse, key: string, reason: LRUCache.DisposeReason): void {
    // Reclaiming an entry that had expired anyway says nothing about the budget.
    if (reason !== 'evict' || entry.expiresAt <= this.#now()) return;
    this.#evictions++;
    this.#onEvict?.(key, entryBytes(key, entry));
  }

  /** The entry, if held and not expired; it becomes the most recently used. */
  get(key: string): CachedResponse | undefined {
    return this.#cache?.get(key);
  }

  /**
   * Stores the entry until its `expiresAt`, evicting least recently used entries to make room.
   * False, and nothing stored, when the tier is disabled, the entry has already expired, or it
   * alone is larger than the entry cap: an older entry under the key is then dropped too, since
   * the caller has a newer answer than it.
   */
  set(key: string, entry: CachedResponse): boolean {
    const cache = this.#cache;
    if (cache === undefined) return false;
    const ttl = Math.ceil(entry.expiresAt - this.#now());
    if (ttl <= 0 || entryBytes(key, entry) > this.#maxEntryBytes) {
      cache.delete(key);
      return false;
    }
    const body = ownedBody(entry.body);
    cache.set(key, body === entry.body ? entry : { ...entry, body }, { ttl });
    return true;
  }

  delete(key: string): boolean {
    return this.#cache?.delete(key) ?? false;
  }

  /**
   * Drops every entry whose key matches; returns how many fresh ones went. Keys are
   * `route:tenant:digest`, so a route's entries are `(key) => key.startsWith(`${route}:`)`
   * (the colon keeps route `chat` from matching `chat2`).
   */
  purge(matches: (key: string) => boolean): number {
    const cache = this.#cache;
    if (cache === undefined) return 0;
    // keys() skips expired entries; reclaim them first so a purge leaves nothing of theirs behind.
    cache.purgeStale();
    const doomed = [...cache.keys()].filter(matches);
    for (const key of doomed) cache.delete(key);
    return doomed.length;
  }

  stats(): MemoryTierStats {
    return {
      entries: this.#cache?.size ?? 0,
      bytes: this.#cache?.calculatedSize ?? 0,
      maxBytes: this.#maxBytes,
      evictions: this.#evictions,
    };
  }
}
