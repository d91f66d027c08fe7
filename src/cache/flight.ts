/**
 * One upstream answer shared by every identical request in flight (single-flight). The leader's
 * response body is read once; each client (the leader's included) gets its own readable that
 * replays what was recorded so far and then follows the live body, so a follower that joins
 * mid-stream still receives the stream from its first byte. The upstream call is aborted only when
 * every client has gone; the source flows while every client has room (the slowest sets the pace).
 */
import type { OutgoingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';

export interface FlightHead {
  readonly status: number;
  readonly headers: OutgoingHttpHeaders;
}

/** How a flight ended: the whole body, or that it broke off or grew past the recording limit. */
export type FlightEnd = { readonly complete: true; readonly body: Buffer } | { readonly complete: false };

/** One client's view of the flight. */
class FlightReader extends Readable {
  private readonly flight: Flight;
  /** Absolute index of the next chunk this client has not been given. */
  next = 0;
  /** Asked for more (`_read`) and has not refused a chunk since: the source may flow for it. */
  wantsMore = true;

  constructor(flight: Flight) {
    super();
    this.flight = flight;
  }

  override _read(): void {
    this.wantsMore = true;
    this.flight.feed(this);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.flight.leave(this);
    callback(error);
  }
}

export class Flight {
  readonly key: string;
  /** Aborts the upstream call: the leader's upstream stage uses it instead of its client's signal. */
  readonly upstreamAbort = new AbortController();
  /** The leader's response head, or the error it failed with before one. */
  readonly head: Promise<FlightHead>;
  /** Settles when the body ended, broke off, or outgrew the recording. */
  readonly end: Promise<FlightEnd>;
  private readonly readers = new Set<FlightReader>();
  /** Chunks not yet given to every client; the whole body while it fits `maxRecordedBytes`. */
  private chunks: Buffer[] = [];
  /** Absolute index of chunks[0]: chunks every client has are dropped once the body is too big to keep. */
  private base = 0;
  private recordedBytes = 0;
  private readonly maxRecordedBytes: number;
  private overflowed = false;
  private source: Readable | undefined;
  private ended = false;
  private failure: Error | undefined;
  private started = false;
  private resolveHead!: (head: FlightHead) => void;
  private rejectHead!: (error: unknown) => void;
  private resolveEnd!: (end: FlightEnd) => void;

  constructor(key: string, maxRecordedBytes: number) {
    this.key = key;
    this.maxRecordedBytes = maxRecordedBytes;
    this.head = new Promise((resolve, reject) => {
      this.resolveHead = resolve;
      this.rejectHead = reject;
    });
    // A failure nobody waited for must not become an unhandled rejection.
    this.head.catch(() => undefined);
    this.end = new Promise((resolve) => {
      this.resolveEnd = resolve;
    });
  }

  /** A new client can still be given every byte from the start. */
  get joinable(): boolean {
    return !this.overflowed && this.failure === undefined && !this.upstreamAbort.signal.aborted;
  }

  /** The leader's upstream stage failed before a response: every waiting client gets this error. */
  fail(error: unknown): void {
    if (this.started) return;
    this.started = true;
    this.failure = error instanceof Error ? error : new Error(String(error));
    this.rejectHead(error);
    this.resolveEnd({ complete: false });
  }

  /** The leader's response: its body becomes the flight's source, read once for every client. */
  start(head: FlightHead, body: Readable | Buffer | string | null): void {
    if (this.started) return;
    this.started = true;
    const source = body instanceof Readable ? body : Readable.from(body === null ? [] : [Buffer.from(body)]);
    this.source = source;
    source.on('data', (chunk: Buffer) => this.onChunk(chunk));
    source.once('end', () => this.onEnd());
    source.once('error', (error: Error) => this.onError(error));
    // Destroyed without an error (every client left): the body will never be complete.
    source.once('close', () => {
      if (!this.ended && this.failure === undefined)
        this.onError(new Error('the upstream body was closed early'));
    });
    this.resolveHead(head);
  }

  /** A readable of the whole body for one more client, or undefined when it can no longer join. */
  join(): Readable | undefined {
    if (!this.joinable) return undefined;
    const reader = new FlightReader(this);
    reader.next = this.base;
    this.readers.add(reader);
    return reader;
  }

  /** Gives `reader` the chunks it has not seen, then ends or fails it when the source did. */
  feed(reader: FlightReader): void {
    while (reader.wantsMore && reader.next - this.base < this.chunks.length) {
      reader.wantsMore = reader.push(this.chunks[reader.next - this.base]!);
      reader.next++;
    }
    if (reader.next - this.base === this.chunks.length) {
      if (this.ended) reader.push(null);
      else if (this.failure) reader.destroy(this.failure);
    }
    this.pace();
  }

  leave(reader: FlightReader): void {
    this.readers.delete(reader);
    if (this.readers.size === 0 && !this.ended && this.started) {
      // Nobody is reading any more: stop the upstream call and the transfer.
      this.upstreamAbort.abort(new Error('every client of the flight went away'));
      this.source?.destroy();
    } else this.trim();
  }

  /** Clients with no room left hold the source; it flows again once every one has room. */
  private pace(): void {
    if (!this.source || this.ended) return;
    let full = false;
    for (const reader of this.readers)
      if (!reader.wantsMore || reader.next - this.base < this.chunks.length) full = true;
    if (full) this.source.pause();
    else this.source.resume();
  }

  private onChunk(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.recordedBytes += chunk.length;
    if (this.recordedBytes > this.maxRecordedBytes) this.overflowed = true;
    for (const reader of this.readers) this.feed(reader);
    this.trim();
  }

  /** Past the recording limit, chunks every client already has are let go. */
  private trim(): void {
    if (!this.overflowed) return;
    let oldest = this.base + this.chunks.length;
    for (const reader of this.readers) oldest = Math.min(oldest, reader.next);
    this.chunks = this.chunks.slice(oldest - this.base);
    this.base = oldest;
  }

  private onEnd(): void {
    this.ended = true;
    for (const reader of this.readers) this.feed(reader);
    this.resolveEnd(
      this.overflowed
        ? { complete: false }
        : { complete: true, body: Buffer.concat(this.chunks, this.recordedBytes) },
    );
  }

  private onError(error: Error): void {
    this.failure = error;
    for (const reader of [...this.readers]) {
      // Clients behind get what was recorded before the error reaches them.
      if (reader.next - this.base >= this.chunks.length) reader.destroy(error);
    }
    this.resolveEnd({ complete: false });
  }
}
