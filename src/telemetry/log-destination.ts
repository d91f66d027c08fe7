/**
 * Where pino's lines go: stdout, written in batches. Measured in bench/, pino.destination (sonic-boom)
 * cost about as much CPU per access-log line as serialising it: it measures the byte length of its
 * whole pending buffer on every write, and each of its writes is a thread-pool round trip. Here a
 * line costs an array push; the batch is joined and written once it reaches BATCH_BYTES, or by a
 * timer so a quiet proxy's lines still appear within the flush interval. A stuck reader cannot
 * grow memory without bound: past MAX_PENDING_BYTES lines are dropped and counted.
 */
import { write, writeSync } from 'node:fs';

/** How long a log line may wait in the stdout batch before it is written. */
export const LOG_FLUSH_INTERVAL_MS = 250;
const BATCH_BYTES = 64 * 1024;
const MAX_PENDING_BYTES = 16 * 1024 * 1024;
/** A non-blocking stdout pipe that is full answers EAGAIN; try again after this long. */
const EAGAIN_RETRY_MS = 10;

export interface BatchedDestinationOptions {
  readonly fd: number;
  readonly flushIntervalMs: number;
  /** Called with the number of lines dropped because the reader fell too far behind. */
  readonly onDrop?: (lines: number) => void;
}

export class BatchedDestination {
  private pending: string[] = [];
  private pendingBytes = 0;
  private writing = false;
  private waiters: ((error?: Error) => void)[] = [];
  private readonly fd: number;
  private readonly onDrop: ((lines: number) => void) | undefined;
  private readonly timer: NodeJS.Timeout;
  private readonly flushAtExit = () => this.flushSync();

  constructor(options: BatchedDestinationOptions) {
    this.fd = options.fd;
    this.onDrop = options.onDrop;
    this.timer = setInterval(() => this.flush(), options.flushIntervalMs).unref();
    process.once('exit', this.flushAtExit);
  }

  /** pino's DestinationStream contract. String length stands in for bytes: lines are mostly ASCII. */
  write(line: string): boolean {
    if (this.pendingBytes + line.length > MAX_PENDING_BYTES) {
      this.onDrop?.(1);
      return false;
    }
    this.pending.push(line);
    this.pendingBytes += line.length;
    if (this.pendingBytes >= BATCH_BYTES && !this.writing) this.flush();
    return true;
  }

  /** Writes what is pending; `done` runs once it (and any write in progress) reached the fd. */
  flush(done?: (error?: Error) => void): void {
    if (done) this.waiters.push(done);
    if (this.writing) return;
    if (this.pending.length === 0) {
      this.settle();
      return;
    }
    const buffer = Buffer.from(this.pending.join(''));
    this.pending = [];
    this.pendingBytes = 0;
    this.writing = true;
    this.writeFrom(buffer, 0);
  }

  /** At exit, or when the process is about to stop: everything pending, synchronously. */
  flushSync(): void {
    if (this.pending.length === 0) return;
    const buffer = Buffer.from(this.pending.join(''));
    this.pending = [];
    this.pendingBytes = 0;
    let offset = 0;
    for (let attempts = 0; offset < buffer.length && attempts < 1000; attempts++) {
      try {
        offset += writeSync(this.fd, buffer, offset);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') return;
      }
    }
  }

  /** Stops the timer and the exit hook (tests and embedders that create several loggers). */
  close(): void {
    clearInterval(this.timer);
    process.off('exit', this.flushAtExit);
    this.flushSync();
  }

  private writeFrom(buffer: Buffer, offset: number): void {
    write(this.fd, buffer, offset, buffer.length - offset, null, (error, written) => {
      if (error && error.code === 'EAGAIN') {
        setTimeout(() => this.writeFrom(buffer, offset), EAGAIN_RETRY_MS).unref();
        return;
      }
      if (!error && offset + written < buffer.length) return this.writeFrom(buffer, offset + written);
      this.writing = false;
      if (error) this.onDrop?.(countLines(buffer, offset));
      // Someone waits for a flush: lines that came in meanwhile go out now, not at the next tick.
      if (this.pendingBytes >= BATCH_BYTES || (this.waiters.length > 0 && this.pending.length > 0))
        this.flush();
      else this.settle(error ?? undefined);
    });
  }

  private settle(error?: Error): void {
    if (this.writing || this.pending.length > 0) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter(error);
  }
}

function countLines(buffer: Buffer, offset: number): number {
  let lines = 0;
  for (let i = buffer.indexOf(10, offset); i !== -1; i = buffer.indexOf(10, i + 1)) lines++;
  return lines;
}
