/**
 * A limit on requests in flight with a bounded priority queue in front of it. A freed slot goes to
 * the oldest waiter of the highest non-empty class. All waiters share one queue timeout, so their
 * deadlines come in arrival order within each class: one timer, armed for the earliest class head,
 * serves the whole queue — no timer or closure per waiter beyond its promise and abort listener.
 */
import { AdaptiveLimit, type ReleaseOutcome } from './adaptive-limit.ts';
import {
  type ConcurrencyOptions,
  defaultNow,
  defaultSetTimer,
  type SetTimer,
  validateConcurrencyOptions,
} from './concurrency-options.ts';
import {
  type ConcurrencyCounters,
  type ConcurrencyEvent,
  ConcurrencyRejection,
  estimateRetryAfterMs,
  type LimitCause,
  type Permit,
  type RejectionReason,
} from './concurrency-types.ts';
import { PriorityQueue, type QueueEntry } from './priority-queue.ts';

export type { ReleaseOutcome } from './adaptive-limit.ts';
export type {
  AdaptiveOptions,
  AimdOptions,
  ConcurrencyOptions,
  GradientOptions,
  SetTimer,
} from './concurrency-options.ts';
export {
  type ConcurrencyCounters,
  type ConcurrencyEvent,
  ConcurrencyRejection,
  estimateRetryAfterMs,
  type LimitCause,
  type Permit,
  type RejectionReason,
} from './concurrency-types.ts';

interface Waiter {
  readonly requested: string;
  /** Arrival order, so a reload that merges classes keeps first-come first-served. */
  readonly seq: number;
  readonly enqueuedAt: number;
  deadline: number;
  entry: QueueEntry<Waiter> | undefined;
  readonly resolve: (permit: Permit) => void;
  readonly reject: (error: ConcurrencyRejection) => void;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: () => void;
}

/** Weight of the newest hold time in the service-time average behind retryAfterMs. */
const SERVICE_EWMA = 0.1;

function indexClasses(classes: readonly string[]): Map<string, number> {
  return new Map(classes.map((name, index) => [name, index]));
}

export class ConcurrencyLimiter {
  private options: ConcurrencyOptions;
  private readonly now: () => number;
  private readonly setTimer: SetTimer;
  private classIndex: Map<string, number>;
  private queue: PriorityQueue<Waiter>;
  private adaptive: AdaptiveLimit | undefined;
  private running = 0;
  private avgHoldMs: number | undefined;
  private cancelTimer: (() => void) | undefined;
  private readonly listeners = new Set<(event: ConcurrencyEvent) => void>();
  private readonly rejected: Record<RejectionReason, number> = {
    queue_full: 0,
    queue_timeout: 0,
    aborted: 0,
  };
  private granted = 0;
  private arrivals = 0;
  private limitChanges = 0;

  constructor(options: ConcurrencyOptions) {
    validateConcurrencyOptions(options);
    this.options = options;
    this.now = options.now ?? defaultNow;
    this.setTimer = options.setTimer ?? defaultSetTimer;
    this.queue = new PriorityQueue(options.classes.length);
    this.classIndex = indexClasses(options.classes);
    if (options.adaptive)
      this.adaptive = new AdaptiveLimit(options.adaptive, options.maxInFlight, this.now());
  }

  get inFlight(): number {
    return this.running;
  }

  get limit(): number {
    return this.adaptive?.limit ?? this.options.maxInFlight;
  }

  queued(): Record<string, number> {
    const counts: Record<string, number> = {};
    this.options.classes.forEach((name, index) => {
      counts[name] = this.queue.sizeOf(index);
    });
    return counts;
  }

  get counters(): ConcurrencyCounters {
    return { granted: this.granted, rejected: { ...this.rejected }, limitChanges: this.limitChanges };
  }

  /** Listeners run synchronously; one that throws is reported as a process warning and skipped. */
  subscribe(listener: (event: ConcurrencyEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  acquire(priorityClass: string, signal?: AbortSignal): Promise<Permit> {
    const index = this.resolveClass(priorityClass);
    if (signal?.aborted) return Promise.reject(this.rejection('aborted', index, 0));
    if (this.queue.size === 0 && this.running < this.limit) {
      return Promise.resolve(this.grant(this.options.classes[index]!, 0));
    }
    if (this.queue.size >= this.options.queue.maxSize) {
      // Priority must hold at the door too: a full queue of batch work must not turn interactive requests away.
      const shed = this.queue.popNewestBelow(index);
      if (shed === undefined) return Promise.reject(this.rejection('queue_full', index, 0));
      this.settle(shed);
      shed.reject(
        this.rejection('queue_full', this.resolveClass(shed.requested), this.now() - shed.enqueuedAt),
      );
    }
    return new Promise<Permit>((resolve, reject) => {
      const enqueuedAt = this.now();
      const waiter: Waiter = {
        requested: priorityClass,
        seq: this.arrivals++,
        enqueuedAt,
        deadline: enqueuedAt + this.options.queue.timeoutMs,
        entry: undefined,
        resolve,
        reject,
        signal,
        onAbort: () => {
          if (waiter.entry === undefined || !this.queue.remove(waiter.entry)) return;
          this.settle(waiter);
          reject(this.rejection('aborted', this.resolveClass(priorityClass), this.now() - enqueuedAt));
          if (this.queue.size === 0) this.disarm();
        },
      };
      waiter.entry = this.queue.push(index, waiter);
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      if (this.cancelTimer === undefined) this.arm();
    });
  }

  /**
   * Takes new options without dropping anyone: waiters are re-sorted into the new classes (by name,
   * unknown ones to the lowest) keeping their arrival order, their deadlines become arrival + the new
   * timeout, a smaller queue only refuses new arrivals, and a lower limit lets running requests finish.
   */
  reconfigure(options: ConcurrencyOptions): void {
    validateConcurrencyOptions(options);
    const before = this.limit;
    const waiters = this.queue.clear().sort((a, b) => a.seq - b.seq);
    this.options = options;
    this.classIndex = indexClasses(options.classes);
    this.queue = new PriorityQueue(options.classes.length);
    for (const waiter of waiters) {
      waiter.deadline = waiter.enqueuedAt + options.queue.timeoutMs;
      waiter.entry = this.queue.push(this.resolveClass(waiter.requested), waiter);
    }
    if (options.adaptive === undefined) this.adaptive = undefined;
    else if (this.adaptive === undefined) {
      this.adaptive = new AdaptiveLimit(options.adaptive, options.maxInFlight, this.now());
    } else this.adaptive.reconfigure(options.adaptive, options.maxInFlight, this.now());
    if (this.limit !== before) this.limitChanged(before, 'reconfigure');
    this.drain();
    this.disarm();
    if (this.queue.size > 0) this.arm();
  }

  private resolveClass(name: string): number {
    return this.classIndex.get(name) ?? this.options.classes.length - 1;
  }

  private grant(priorityClass: string, waitedMs: number): Permit {
    this.running++;
    this.granted++;
    this.adaptive?.observeInFlight(this.running);
    const grantedAt = this.now();
    let released = false;
    return {
      priorityClass,
      waitedMs,
      release: (outcome) => {
        if (released) return;
        released = true;
        this.release(outcome, this.now() - grantedAt);
      },
    };
  }

  private release(outcome: ReleaseOutcome, heldMs: number): void {
    const inFlight = this.running;
    this.running--;
    this.avgHoldMs =
      this.avgHoldMs === undefined ? heldMs : this.avgHoldMs + (heldMs - this.avgHoldMs) * SERVICE_EWMA;
    if (this.adaptive !== undefined) {
      const before = this.adaptive.limit;
      if (this.adaptive.record(outcome, inFlight, this.now())) this.limitChanged(before, 'adaptive');
    }
    this.drain();
  }

  private drain(): void {
    while (this.running < this.limit) {
      const waiter = this.queue.shift();
      if (waiter === undefined) break;
      this.settle(waiter);
      const index = this.resolveClass(waiter.requested);
      waiter.resolve(this.grant(this.options.classes[index]!, this.now() - waiter.enqueuedAt));
    }
    if (this.queue.size === 0) this.disarm();
  }

  /** The waiter has left the queue by whatever way: it must not hear from its signal again. */
  private settle(waiter: Waiter): void {
    waiter.entry = undefined;
    waiter.signal?.removeEventListener('abort', waiter.onAbort);
  }

  private arm(): void {
    let earliest = Number.POSITIVE_INFINITY;
    for (let index = 0; index < this.queue.classCount; index++) {
      const head = this.queue.oldest(index);
      if (head !== undefined && head.value.deadline < earliest) earliest = head.value.deadline;
    }
    if (earliest === Number.POSITIVE_INFINITY) return;
    this.cancelTimer = this.setTimer(() => this.expire(), Math.max(0, Math.ceil(earliest - this.now())));
  }

  private disarm(): void {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
  }

  private expire(): void {
    this.cancelTimer = undefined;
    const now = this.now();
    for (let index = 0; index < this.queue.classCount; index++) {
      for (let head = this.queue.oldest(index); head !== undefined && head.value.deadline <= now; ) {
        const waiter = head.value;
        this.queue.remove(head);
        this.settle(waiter);
        waiter.reject(this.rejection('queue_timeout', index, now - waiter.enqueuedAt));
        head = this.queue.oldest(index);
      }
    }
    if (this.queue.size > 0) this.arm();
  }

  /** Before any request finished, the queue timeout stands in for the hold time. */
  private retryAfter(index: number): number {
    let ahead = 0;
    for (let above = 0; above <= index; above++) ahead += this.queue.sizeOf(above);
    return estimateRetryAfterMs(this.avgHoldMs ?? this.options.queue.timeoutMs, ahead, this.limit);
  }

  private rejection(reason: RejectionReason, index: number, waitedMs: number): ConcurrencyRejection {
    const priorityClass = this.options.classes[index]!;
    const retryAfterMs = this.retryAfter(index);
    this.rejected[reason]++;
    this.emit({ type: 'rejected', reason, priorityClass, waitedMs, retryAfterMs });
    return new ConcurrencyRejection(reason, priorityClass, retryAfterMs, waitedMs);
  }

  private limitChanged(previous: number, cause: LimitCause): void {
    this.limitChanges++;
    this.emit({ type: 'limit', previous, limit: this.limit, cause });
  }

  private emit(event: ConcurrencyEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        // Telemetry must never wedge the queue half-way through handing out slots.
        process.emitWarning(`concurrency limiter listener threw: ${String(error)}`);
      }
    }
  }
}
