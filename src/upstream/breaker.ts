/**
 * One target's circuit breaker. opossum is the state machine (error rate over its rolling window,
 * volume threshold, reset timer, half-open → closed on success or → open on failure), but it does
 * not wrap the request:
 *
 * - An LLM response streams for seconds or minutes and the caller owns its abort signal (client
 *   abort + per-try deadline). opossum's `timeout` would time it out on its own clock, and its
 *   AbortController is shared by every call of the breaker, so one timeout would abort them all.
 *   `timeout` is off and no AbortController is given.
 * - The caller asks `admit()` before the request (no promise, no closure: a shared ticket while
 *   closed) and reports with `record()` once it knows the status, or `release()` when it gave up.
 *   `record` replays the outcome through `fire()` with an action that returns at once, so opossum
 *   counts it, runs `errorFilter` and decides. Its window then holds completed calls only; wrapping
 *   the whole request in `fire()` would count calls still in flight as non-failures.
 * - opossum lets exactly one call through half-open; the gate here allows `halfOpenProbes`, and the
 *   first probe outcome is the one replayed. A probe the client abandoned frees its slot, where a
 *   pending `fire()` would have left opossum half-open with its only probe spent, for good.
 *
 * Failures change state synchronously (the action throws); a success that closes a half-open
 * breaker does so a microtask later, because opossum settles successes through a promise.
 */
import type { EventEmitter } from 'node:events';
import CircuitBreaker from 'opossum';
import { type AttemptStatus, type BreakerSettings, isClientError, isFailure } from './breaker-options.ts';
import { type Admission, PASS, ProbeGate } from './breaker-probe.ts';
import { SlowCallWindow } from './breaker-window.ts';

export type BreakerState = 'closed' | 'open' | 'half_open';
export type BreakerReason =
  | 'error_rate'
  | 'slow_calls'
  | 'probe_failed'
  | 'reset_timeout'
  | 'probe_succeeded';

export interface BreakerChange {
  readonly state: BreakerState;
  readonly reason: BreakerReason;
}

export interface TargetBreakerDeps {
  /** Monotonic clock in ms, for the time the breaker opened (opossum's own timer uses wall time). */
  readonly now: () => number;
  /** Emits 'rotate' once per bucket; opossum and the slow-call window both listen. */
  readonly rotation: EventEmitter;
  /** Called after each state change; must not throw. */
  readonly onChange?: (change: BreakerChange) => void;
}

/** What opossum's action rejects with: plain data, not an Error, so a failure costs no stack trace. */
class AttemptFailure {
  readonly status: AttemptStatus;
  /** A slow probe fails the trial even with a 2xx, and is never filtered. */
  readonly slowProbe: boolean;

  constructor(status: AttemptStatus, slowProbe: boolean) {
    this.status = status;
    this.slowProbe = slowProbe;
  }
}

const RESOLVED: Promise<void> = Promise.resolve();
const ignore = (): void => undefined;

function replay(failure: AttemptFailure | undefined): Promise<void> {
  if (failure !== undefined) throw failure;
  return RESOLVED;
}

/** Client 4xx (but 429) are answers from a working target: opossum counts them as successes. */
function errorFilter(error: unknown): boolean {
  return error instanceof AttemptFailure && !error.slowProbe && isClientError(error.status);
}

export class TargetBreaker {
  readonly name: string;
  private readonly settings: BreakerSettings;
  private readonly breaker: CircuitBreaker<[AttemptFailure | undefined], void>;
  private readonly window: SlowCallWindow;
  private readonly gate = new ProbeGate();
  private readonly deps: TargetBreakerDeps;
  private readonly rotate = (): void => this.window.rotate();
  private current: BreakerState = 'closed';
  private openedAt = 0;
  /** Set just before this class opens the breaker itself, so the 'open' event can say why. */
  private tripReason: BreakerReason | undefined;
  private disposed = false;

  constructor(name: string, settings: BreakerSettings, deps: TargetBreakerDeps) {
    this.name = name;
    this.settings = settings;
    this.deps = deps;
    this.window = new SlowCallWindow(settings.windowBuckets);
    this.breaker = new CircuitBreaker(replay, {
      name,
      timeout: false,
      errorThresholdPercentage: settings.errorThresholdPercent,
      volumeThreshold: settings.volumeThreshold,
      rollingCountTimeout: settings.windowMs,
      rollingCountBuckets: settings.windowBuckets,
      resetTimeout: settings.resetTimeoutMs,
      errorFilter,
      // One shared rotation instead of two intervals per breaker; no snapshots, no latency arrays
      // sorted on every failure (opossum's latencies would be ~0 here anyway).
      rotateBucketController: deps.rotation,
      enableSnapshots: false,
      rollingPercentilesEnabled: false,
    });
    this.breaker.on('open', () => this.onOpen());
    this.breaker.on('halfOpen', () => {
      this.gate.start(this.settings.halfOpenProbes);
      this.change('half_open', 'reset_timeout');
    });
    this.breaker.on('close', () => {
      this.gate.stop();
      this.change('closed', 'probe_succeeded');
    });
    if (settings.slowCallMs > 0) deps.rotation.on('rotate', this.rotate);
  }

  get state(): BreakerState {
    return this.current;
  }

  /** Whether `admit()` would let a request through now. */
  available(): boolean {
    if (this.disposed) return false;
    return this.current === 'closed' || (this.current === 'half_open' && this.gate.free);
  }

  /** A ticket for one request, or undefined: open, or half-open with every probe slot taken. */
  admit(): Admission | undefined {
    if (this.disposed) return undefined;
    if (this.current === 'closed') return PASS;
    return this.current === 'half_open' ? this.gate.take() : undefined;
  }

  /**
   * Reports how an admitted request went: the status, or the transport failure, and the time to
   * response headers. Outcomes arriving while open, and non-probe outcomes while half-open, come
   * from requests admitted before the breaker opened: they are not news, and are dropped.
   */
  record(admission: Admission, status: AttemptStatus, latencyMs: number): void {
    const probe = this.gate.settle(admission);
    if (this.disposed) return;
    const { slowCallMs } = this.settings;
    const slow = slowCallMs > 0 && latencyMs >= slowCallMs;
    if (this.current === 'closed') {
      this.fire(isFailure(status) || isClientError(status) ? new AttemptFailure(status, false) : undefined);
      if (slowCallMs > 0 && this.current === 'closed') this.observeLatency(slow);
    } else if (probe && this.current === 'half_open' && this.breaker.pendingClose) {
      const failed = slow || isFailure(status) || isClientError(status);
      this.fire(failed ? new AttemptFailure(status, slow) : undefined);
    }
  }

  /** The request ended without an outcome (client gone, hedge lost): frees its probe slot, if any. */
  release(admission: Admission): void {
    this.gate.settle(admission);
  }

  /**
   * When the breaker stops refusing requests: `now` if it does not, the end of the reset timeout if
   * open, undefined while every probe slot is busy (that depends on how the probes end).
   */
  retryAt(now: number): number | undefined {
    if (this.available()) return now;
    if (this.current !== 'open' || this.disposed) return undefined;
    // opossum's timer may fire late: never a time in the past.
    return Math.max(now, this.openedAt + this.settings.resetTimeoutMs);
  }

  /** Stops opossum's reset timer and rotation listener; the breaker refuses everything after. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.gate.stop();
    this.deps.rotation.off('rotate', this.rotate);
    this.breaker.shutdown();
  }

  private fire(failure: AttemptFailure | undefined): void {
    const call = this.breaker.fire(failure);
    // A failure rejects the call promise; the breaker has counted it, nobody else waits for it.
    if (failure !== undefined) call.catch(ignore);
  }

  private observeLatency(slow: boolean): void {
    this.window.add(slow);
    const { volumeThreshold, slowCallRatePercent } = this.settings;
    if (!this.window.exceeds(volumeThreshold, slowCallRatePercent)) return;
    this.tripReason = 'slow_calls';
    this.breaker.open();
  }

  private onOpen(): void {
    const reason = this.tripReason ?? (this.current === 'half_open' ? 'probe_failed' : 'error_rate');
    this.tripReason = undefined;
    this.openedAt = this.deps.now();
    this.gate.stop();
    // The slow calls that opened the breaker have been acted on; a trial starts from a clean window.
    this.window.clear();
    this.change('open', reason);
  }

  private change(state: BreakerState, reason: BreakerReason): void {
    this.current = state;
    this.deps.onChange?.({ state, reason });
  }
}
