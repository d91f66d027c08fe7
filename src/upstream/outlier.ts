/**
 * Outlier ejection of one target, after Envoy's consecutive_5xx: N server errors or transport
 * failures in a row eject it for baseEjectionMs × (ejections so far), capped at maxEjectionMs. When
 * the time is up it is on trial: the first probe that succeeds brings it fully back, the first that
 * fails ejects it again for longer. Each ejectionDecayMs it then stays healthy takes one step off
 * the multiplier, so a target that failed once last week is not punished for it today.
 *
 * The group's EjectionBudget decides whether an ejection may happen at all (max ejection percent).
 * A refused ejection leaves the target in service with its failure count at the threshold, so the
 * next failure asks again: a slot may have freed meanwhile.
 */
import type { SetTimer } from '../concurrency/concurrency-options.ts';
import { type AttemptStatus, isServerFailure, type OutlierSettings } from './breaker-options.ts';
import { type Admission, PASS, ProbeGate } from './breaker-probe.ts';

export type OutlierState = 'active' | 'ejected' | 'returning';
export type OutlierReason =
  | 'consecutive_failures'
  | 'probe_failed'
  | 'ejection_ended'
  | 'probe_succeeded'
  /** A probe failed but the group is at its ejection limit: back in service, still counting. */
  | 'ejection_refused';

export interface OutlierChange {
  readonly state: OutlierState;
  readonly reason: OutlierReason;
}

export interface Ejection {
  readonly durationMs: number;
  /** The multiplier this ejection used: 1 for a first (or long forgiven) ejection. */
  readonly ejections: number;
}

/** Shared by the targets of one group, so that not all of them can be ejected at once. */
export interface EjectionBudget {
  /** Takes a slot and returns true, or returns false when the group is at its limit. */
  tryEject(): boolean;
  /** Gives the slot back: the ejection ended, or the target was removed while ejected. */
  release(): void;
}

export interface OutlierDeps {
  readonly now: () => number;
  readonly setTimer: SetTimer;
  readonly budget: EjectionBudget;
  /** Probes allowed at once while on trial. */
  readonly probes: number;
  /** Called after each state change; must not throw. */
  readonly onChange?: (change: OutlierChange) => void;
  /** Called for each ejection, before the matching onChange; must not throw. */
  readonly onEject?: (ejection: Ejection) => void;
}

export class OutlierDetector {
  private readonly settings: OutlierSettings;
  private readonly deps: OutlierDeps;
  private readonly gate = new ProbeGate();
  private current: OutlierState = 'active';
  private consecutive = 0;
  private multiplier = 0;
  private until = 0;
  /** When the target last came fully back; undefined while it has not been healthy since. */
  private healthySince: number | undefined;
  private cancelTimer: (() => void) | undefined;
  private disposed = false;

  constructor(settings: OutlierSettings, deps: OutlierDeps) {
    this.settings = settings;
    this.deps = deps;
  }

  get state(): OutlierState {
    return this.current;
  }

  /**
   * When this detector stops refusing requests: `now` if it does not, the end of the ejection, or
   * undefined while every probe slot of the trial is busy (that depends on how the probes end).
   */
  retryAt(now: number): number | undefined {
    if (this.available(now)) return now;
    return this.current === 'ejected' && !this.disposed ? this.until : undefined;
  }

  /**
   * Whether `admit()` would let a request through at `now`. A due ejection ends here too, since
   * timers can fire late and the target should not wait for one.
   */
  available(now: number): boolean {
    this.returnIfDue(now);
    if (this.disposed) return false;
    return this.current === 'active' || (this.current === 'returning' && this.gate.free);
  }

  admit(now: number): Admission | undefined {
    this.returnIfDue(now);
    if (this.disposed || this.current === 'ejected') return undefined;
    return this.current === 'active' ? PASS : this.gate.take();
  }

  /**
   * Counts an admitted request's result. While ejected, and for non-probes while on trial, results
   * come from requests sent before the ejection and are ignored: the ejection already acted on them.
   */
  record(admission: Admission, status: AttemptStatus, now: number): void {
    const probe = this.gate.settle(admission);
    if (this.disposed || this.settings.consecutiveFailures === 0) return;
    const failed = isServerFailure(status);
    if (this.current === 'returning') {
      if (!probe) return;
      if (failed) this.eject(now, 'probe_failed');
      else this.reinstate(now, 'probe_succeeded');
    } else if (this.current === 'active') {
      if (!failed) this.consecutive = 0;
      else if (++this.consecutive >= this.settings.consecutiveFailures)
        this.eject(now, 'consecutive_failures');
    }
  }

  release(admission: Admission): void {
    this.gate.settle(admission);
  }

  /** Cancels the return timer and gives back the group's slot if ejected. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    this.gate.stop();
    if (this.current === 'ejected') this.deps.budget.release();
  }

  private eject(now: number, reason: OutlierReason): void {
    if (!this.deps.budget.tryEject()) {
      if (this.current === 'returning') this.reinstate(undefined, 'ejection_refused');
      this.consecutive = this.settings.consecutiveFailures;
      return;
    }
    const { baseEjectionMs, maxEjectionMs, ejectionDecayMs } = this.settings;
    if (this.healthySince !== undefined) {
      const forgiven = Math.floor((now - this.healthySince) / ejectionDecayMs);
      this.multiplier = Math.max(0, this.multiplier - forgiven);
    }
    this.multiplier++;
    this.healthySince = undefined;
    this.consecutive = 0;
    const durationMs = Math.min(baseEjectionMs * this.multiplier, maxEjectionMs);
    this.until = now + durationMs;
    this.gate.stop();
    this.cancelTimer = this.deps.setTimer(() => this.returnIfDue(this.until), durationMs);
    this.current = 'ejected';
    this.deps.onEject?.({ durationMs, ejections: this.multiplier });
    this.deps.onChange?.({ state: 'ejected', reason });
  }

  private returnIfDue(now: number): void {
    if (this.current !== 'ejected' || this.disposed || now < this.until) return;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    this.deps.budget.release();
    this.gate.start(this.deps.probes);
    this.current = 'returning';
    this.deps.onChange?.({ state: 'returning', reason: 'ejection_ended' });
  }

  /** `healthySince` undefined: back in service without proof of health, so nothing is forgiven. */
  private reinstate(healthySince: number | undefined, reason: OutlierReason): void {
    this.current = 'active';
    this.consecutive = 0;
    this.healthySince = healthySince;
    this.gate.stop();
    this.deps.onChange?.({ state: 'active', reason });
  }
}
