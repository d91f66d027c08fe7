/**
 * Encoded variants of cached bodies: the response cache stores each body once, identity, and a hit
 * for a client that accepts a coding is served from here, so a hot entry is compressed once per
 * coding rather than on every hit. Bounded by bytes; a variant lost to eviction is only CPU.
 *
 * The key must name one stored body: when the cache entry is refreshed, its key here must change
 * too (for example the cache key plus the time the entry was stored), or an old variant would be
 * served for the new body.
 */
import zlib from 'node:zlib';
import { LRUCache } from 'lru-cache';
import { brotliOptions, checkLevel, zstdOptions } from './encoder.ts';
import type { ContentCoding } from './negotiate.ts';

/**
 * `body` compressed with `coding` at `level`, synchronously: cached bodies are whole, and each is
 * compressed once. On the event loop, so it suits bodies of LLM-answer size (KiB to a few MiB at
 * the default levels: milliseconds); br at 10-11 on large bodies would stall it.
 */
export function compressBuffer(body: Uint8Array, coding: ContentCoding, level: number): Buffer {
  checkLevel(coding, level);
  switch (coding) {
    case 'gzip':
      return zlib.gzipSync(body, { level });
    case 'br':
      return zlib.brotliCompressSync(body, brotliOptions(level, body.length));
    case 'zstd':
      return zlib.zstdCompressSync(body, zstdOptions(level));
  }
}

export type Compress = (body: Uint8Array, coding: ContentCoding, level: number) => Buffer;

export interface VariantCacheOptions {
  /** Bytes of encoded variants kept (keys count too). */
  readonly maxBytes: number;
  /** A variant larger than this is served but not kept (default: a quarter of maxBytes). */
  readonly maxEntryBytes?: number;
  /** Injectable for tests; compressBuffer by default. */
  readonly compress?: Compress;
}

export class VariantCache {
  private readonly cache: LRUCache<string, Buffer>;
  private readonly compress: Compress;
  /** Counts for a future metric: hits served a kept variant, misses compressed one. */
  hits = 0;
  misses = 0;

  constructor(options: VariantCacheOptions) {
    const { maxBytes } = options;
    if (!Number.isInteger(maxBytes) || maxBytes < 1) {
      throw new RangeError(`maxBytes must be an integer ≥ 1, got ${String(maxBytes)}`);
    }
    this.compress = options.compress ?? compressBuffer;
    this.cache = new LRUCache<string, Buffer>({
      maxSize: maxBytes,
      maxEntrySize: options.maxEntryBytes ?? Math.max(1, Math.floor(maxBytes / 4)),
      // One byte at least: lru-cache refuses a size of 0 (an empty body compresses to a few bytes
      // anyway, but the key alone must count).
      sizeCalculation: (value, key) => Math.max(1, value.length + key.length),
    });
  }

  /**
   * The `coding` variant of `body`, which `key` identifies: kept from an earlier call, or
   * compressed now and kept. The level is part of the identity, so a reload that changes it does
   * not serve variants made at the old one.
   */
  variant(key: string, body: Uint8Array, coding: ContentCoding, level: number): Buffer {
    const id = `${coding}:${level}:${key}`;
    const kept = this.cache.get(id);
    if (kept !== undefined) {
      this.hits++;
      return kept;
    }
    this.misses++;
    const encoded = this.compress(body, coding, level);
    this.cache.set(id, encoded);
    return encoded;
  }

  /** Bytes held now (variants and keys). */
  get bytes(): number {
    return this.cache.calculatedSize;
  }

  get size(): number {
    return this.cache.size;
  }

  clear(): void {
    this.cache.clear();
  }
}
