/**
 * Response compressors: a node:zlib stream per coding, and an SSE mode that flushes after every
 * event, so a client reading `text/event-stream` still gets each event the moment the upstream sent
 * it (a compressor otherwise keeps up to its window, tens of KiB, before emitting anything).
 */
import { Duplex } from 'node:stream';
import zlib from 'node:zlib';
import type { ContentCoding } from './negotiate.ts';

/** Valid levels per coding, as the libraries define them. */
export const levelRanges: Readonly<Record<ContentCoding, readonly [min: number, max: number]>> = {
  gzip: [1, 9],
  br: [0, 11],
  zstd: [1, 22],
};

/**
 * Defaults for compressing on the fly, where latency counts more than the last percent of ratio:
 * br's own default (11) is ~50× slower than 4 for little gain on text, zstd 3 is its default.
 */
export const defaultLevels: Readonly<Record<ContentCoding, number>> = { gzip: 6, br: 4, zstd: 3 };

export function checkLevel(coding: ContentCoding, level: number): void {
  const [min, max] = levelRanges[coding];
  if (!Number.isInteger(level) || level < min || level > max) {
    throw new RangeError(`${coding} level must be an integer ${min}-${max}, got ${String(level)}`);
  }
}

/**
 * RFC 9659 §3: zstd decoders for HTTP need not accept windows over 8 MiB (Chrome refuses them), and
 * levels 20-22 pick larger ones, so their window is capped at 2^23.
 */
const MAX_HTTP_ZSTD_WINDOW_LOG = 23;

/** Options for a compressor, shared by streams and the one-shot helper in variants.ts. */
export function zstdOptions(level: number): zlib.ZstdOptions {
  const params: Record<number, number> = { [zlib.constants.ZSTD_c_compressionLevel]: level };
  if (level >= 20) params[zlib.constants.ZSTD_c_windowLog] = MAX_HTTP_ZSTD_WINDOW_LOG;
  return { params };
}

export function brotliOptions(level: number, sizeHint?: number): zlib.BrotliOptions {
  const params: Record<number, number> = {
    [zlib.constants.BROTLI_PARAM_QUALITY]: level,
    // Everything we compress passes a text content-type filter; the hint tunes brotli's modelling.
    [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_TEXT,
  };
  if (sizeHint !== undefined) params[zlib.constants.BROTLI_PARAM_SIZE_HINT] = sizeHint;
  return { params };
}

type Compressor = zlib.Gzip | zlib.BrotliCompress | zlib.ZstdCompress;

export interface EncoderOptions {
  readonly level: number;
  /** Flush after every SSE event (for `text/event-stream` bodies). */
  readonly sse?: boolean;
  /** The body's length when known: brotli uses it to size its window. */
  readonly sizeHint?: number;
}

function createCompressor(coding: ContentCoding, level: number, sizeHint: number | undefined): Compressor {
  checkLevel(coding, level);
  switch (coding) {
    case 'gzip':
      return zlib.createGzip({ level });
    case 'br':
      return zlib.createBrotliCompress(brotliOptions(level, sizeHint));
    case 'zstd':
      return zlib.createZstdCompress(zstdOptions(level));
  }
}

/** The flush that ends a decodable block without ending the stream, per coding. */
const flushKinds: Readonly<Record<ContentCoding, number>> = {
  gzip: zlib.constants.Z_SYNC_FLUSH,
  br: zlib.constants.BROTLI_OPERATION_FLUSH,
  zstd: zlib.constants.ZSTD_e_flush,
};

const LF = 0x0a;
const CR = 0x0d;
const isLineBreak = (byte: number | undefined): boolean => byte === LF || byte === CR;

/**
 * Finds where SSE events end in a byte stream fed chunk by chunk. An event ends at a blank line:
 * two line ends in a row, a line end being CRLF, LF or CR. So a run of line-break bytes ends an
 * event once it is 3 bytes or longer, or 2 bytes that are not one CRLF. Only the run at the end of
 * what was fed before is carried over (its length, capped at 3, and its last byte).
 */
export class SseBoundaryTracker {
  private runLength = 0;
  private lastByte = 0;

  /**
   * The end (exclusive) of the last event that `chunk` completes, or -1. Call once per chunk in
   * stream order; the state moves to the end of `chunk`.
   */
  lastBoundary(chunk: Uint8Array): number {
    const found = this.search(chunk);
    this.advance(chunk);
    return found;
  }

  private search(chunk: Uint8Array): number {
    let end = chunk.length - 1;
    while (end >= 0) {
      if (!isLineBreak(chunk[end])) {
        end--;
        continue;
      }
      let start = end;
      while (start > 0 && isLineBreak(chunk[start - 1])) start--;
      const inChunk = end - start + 1;
      const length = start === 0 ? inChunk + this.runLength : inChunk;
      // The byte before the run's last one, for telling a lone CRLF from a blank line.
      const before = inChunk >= 2 ? chunk[end - 1] : this.lastByte;
      // A run that does not end an event at its end does not at any shorter length either.
      if (length >= 3 || (length === 2 && !(before === CR && chunk[end] === LF))) return end + 1;
      end = start - 1;
    }
    return -1;
  }

  private advance(chunk: Uint8Array): void {
    let trailing = 0;
    while (trailing < chunk.length && trailing < 3 && isLineBreak(chunk[chunk.length - 1 - trailing])) {
      trailing++;
    }
    if (chunk.length === 0) return;
    this.runLength = trailing === chunk.length ? Math.min(3, this.runLength + trailing) : trailing;
    this.lastByte = chunk[chunk.length - 1]!;
  }
}

/**
 * A compressor that flushes at every event boundary. A Duplex around the zlib stream rather than a
 * pipe into it, because a flush must come after exactly the bytes of the event it closes. It keeps
 * zlib's backpressure both ways: a write completes only once zlib took it (and flushed it, at a
 * boundary), and zlib is paused while this stream's reader is not reading.
 */
class SseCompressStream extends Duplex {
  private readonly compressor: Compressor;
  private readonly flushKind: number;
  private readonly boundaries = new SseBoundaryTracker();

  constructor(compressor: Compressor, flushKind: number) {
    super();
    this.compressor = compressor;
    this.flushKind = flushKind;
    compressor.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) compressor.pause();
    });
    compressor.once('end', () => this.push(null));
    compressor.once('error', (error: Error) => this.destroy(error));
  }

  override _read(): void {
    this.compressor.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const boundary = this.boundaries.lastBoundary(chunk);
    if (boundary === -1) {
      this.writeThrough(chunk, callback);
      return;
    }
    // Events that end inside the chunk go out now; the start of the next one waits for its end.
    this.compressor.write(chunk.subarray(0, boundary));
    this.compressor.flush(this.flushKind, () => {
      if (boundary === chunk.length) callback();
      else this.writeThrough(chunk.subarray(boundary), callback);
    });
  }

  private writeThrough(chunk: Buffer, callback: (error?: Error | null) => void): void {
    if (this.compressor.write(chunk)) callback();
    else this.compressor.once('drain', () => callback());
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.compressor.end(() => callback());
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.compressor.destroy();
    callback(error);
  }
}

/**
 * A stream that compresses what is written to it with `coding`. Without `sse` it is the zlib stream
 * itself, which emits as its window fills; with `sse` it flushes after every event.
 */
export function createEncoder(coding: ContentCoding, options: EncoderOptions): Duplex {
  const compressor = createCompressor(coding, options.level, options.sizeHint);
  return options.sse ? new SseCompressStream(compressor, flushKinds[coding]) : compressor;
}
