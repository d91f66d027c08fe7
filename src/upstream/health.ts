/**
 * The health of one target as the upstream call sees it: its breaker, its outlier ejection and
 * (when configured) active health checks, folded into one state and one admission decision.
 *
 * State, most severe first: `ejected` (outlier ejection or a failing active check), `open`
 * (breaker), `half_open` (breaker trial or the trial after an ejection), `closed`. Every change of
 * that state is reported once, with the reason, for the state gauges and the transitions counter.
 *
 * The hot path: `admit()` (a few field reads, no allocation while healthy) before the attempt, then
 * exactly one of `record()` or `release()` with the ticket it returned.
 */
import type { EventEmitter } from 'node:events';
import type { SetTimer } from '../concurrency/concurrency-options.ts';
import { type BreakerReason, TargetBreaker } from './breaker.ts';
import type { AttemptStatus, BreakerSettings, OutlierSettings } from './breaker-options.ts';
import { type Admission, PASS } from './breaker-probe.ts';
import { type Ejection, type EjectionBudget, OutlierDetector, type OutlierReason } from './outlier.ts';

export type HealthState = 'closed' | 'open' | 'half_open' | 'ejected';
export const healthStates: readonly HealthState[] = ['closed', 'open', 'half_open', 'ejected'];

export type HealthReason = BreakerReason | OutlierReason | 'active_check_failed' | 'active_check_passed';

export interface HealthTransition {
  readonly target: string;
  readonly from: HealthState;
  readonly to: HealthState;
  readonly reason: HealthReason;
  /** On the injected monotonic clock, in ms. */
  readonly at: number;
}

export interface TargetEjection extends Ejection {
  readonly target: string;
}

/** The ticket `admit()` hands out; give it back to `record()` or `release()`. */
export interface HealthAdmission {
  readonly breaker: Admission;
  readonly outlier: Admission;
}

const HEALTHY: HealthAdmission = Object.freeze({ breaker: PASS, outlier: PASS });

export interface TargetHealthDeps {
  readonly now: () => number;
  readonly setTimer: SetTimer;
  /** Emits 'rotate' once per breaker window bucket. */
  readonly rotation: EventEmitter;
  readonly budget: EjectionBudget;
  /** Must not throw. */
  readonly onTransition?: (transition: HealthTransition) => void;
  /** Must not throw. */
  readonly onEjection?: (ejection: TargetEjection) => void;
}

export class TargetHealth {
  readonly name: string;
  private readonly breaker: TargetBreaker;
  private readonly outlier: OutlierDetector;
  private readonly deps: TargetHealthDeps;
  private activeHealthy = true;
  private last: HealthState = 'closed';
  private disposed = false;

  constructor(name: string, breaker: BreakerSettings, outlier: OutlierSettings, deps: TargetHealthDeps) {
    this.name = name;
    this.deps = deps;
    this.breaker = new TargetBreaker(name, breaker, {
      now: deps.now,
      rotation: deps.rotation,
      onChange: ({ reason }) => this.update(reason),
    });
    this.outlier = new OutlierDetector(outlier, {
      now: deps.now,
      setTimer: deps.setTimer,
      budget: deps.budget,
      probes: breaker.halfOpenProbes,
      onChange: ({ reason }) => this.update(reason),
      onEject: (ejection) => deps.onEjection?.({ target: name, ...ejection }),
    });
  }

  state(): HealthState {
    if (!this.activeHealthy || this.outlier.state === 'ejected') return 'ejected';
    const breaker = this.breaker.state;
    if (breaker !== 'closed') return breaker;
    return this.outlier.state === 'returning' ? 'half_open' : 'closed';
  }

  /** Whether `admit()` would let a request through at `now` (for the balancer's candidate set). */
  available(now: number = this.deps.now()): boolean {
    if (this.disposed || !this.activeHealthy) return false;
    return this.outlier.available(now) && this.breaker.available();
  }

  /** A ticket for one attempt, or undefined when the target must not be tried now. */
  admit(now: number = this.deps.now()): HealthAdmission | undefined {
    if (this.disposed || !this.activeHealthy) return undefined;
    const outlier = this.outlier.admit(now);
    if (outlier === undefined) return undefined;
    const breaker = this.breaker.admit();
    if (breaker === undefined) {
      this.outlier.release(outlier);
      return undefined;
    }
    return breaker === PASS && outlier === PASS ? HEALTHY : { breaker, outlier };
  }

  /**
   * Reports an admitted attempt's result: its status (or transport failure) and its time to response
   * headers in ms; the headers time, because a stream's total length depends on the output asked for.
   */
  record(admission: HealthAdmission, status: AttemptStatus, latencyMs: number): void {
    this.outlier.record(admission.outlier, status, this.deps.now());
    this.breaker.record(admission.breaker, status, latencyMs);
  }

  /** The attempt ended without a result worth counting (client abort, lost hedge). */
  release(admission: HealthAdmission): void {
    this.outlier.release(admission.outlier);
    this.breaker.release(admission.breaker);
  }

  /** Fed by active health checks once their thresholds are crossed, both ways. */
  setActiveHealth(healthy: boolean): void {
    if (healthy === this.activeHealthy || this.disposed) return;
    this.activeHealthy = healthy;
    this.update(healthy ? 'active_check_passed' : 'active_check_failed');
  }

  /**
   * When this target may take traffic again: `now` when it may already, a time when that is known
   * (end of an ejection, of an open breaker's reset timeout, whichever is later), undefined when it
   * is not (a failing active check, or every probe slot busy: it depends on how the probes end).
   */
  retryAt(now: number = this.deps.now()): number | undefined {
    if (this.available(now)) return now;
    if (this.disposed || !this.activeHealthy) return undefined;
    const outlierAt = this.outlier.retryAt(now);
    const breakerAt = this.breaker.retryAt(now);
    if (outlierAt === undefined || breakerAt === undefined) return undefined;
    // max with now: a timer that fires late must not yield a time in the past.
    return Math.max(now, outlierAt, breakerAt);
  }

  /** Cancels every timer of this target (opossum's reset timer, the ejection timer). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.breaker.dispose();
    this.outlier.dispose();
  }

  private update(reason: HealthReason): void {
    const next = this.state();
    if (next === this.last || this.disposed) return;
    const from = this.last;
    this.last = next;
    this.deps.onTransition?.({ target: this.name, from, to: next, reason, at: this.deps.now() });
  }
}
