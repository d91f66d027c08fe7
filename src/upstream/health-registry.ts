/**
 * The health of every target of one upstream group. Bounded: only the group's configured target
 * names ever get an entry (created on first use), at most `maxTargets` of them, so nothing a client
 * sends can grow it. The group is also the unit of the max-ejection-percent budget, and the answer
 * to "when can anything here take traffic again?" that a 503's Retry-After needs.
 *
 * On reload, `sync()` takes the new target list: entries of removed targets are disposed (opossum
 * shut down, reset and ejection timers cancelled, their ejection slot given back) and their names
 * returned so the caller can delete their metric series; kept targets keep their state. Settings are
 * fixed at construction: a reload that changes them builds a new registry and disposes this one.
 */
import { EventEmitter } from 'node:events';
import { defaultSetTimer, type SetTimer } from '../concurrency/concurrency-options.ts';
import {
  type BreakerSettings,
  breakerSettings,
  ejectionAllowance,
  type OutlierSettings,
  outlierSettings,
} from './breaker-options.ts';
import { type HealthState, type HealthTransition, type TargetEjection, TargetHealth } from './health.ts';
import type { EjectionBudget } from './outlier.ts';

export interface HealthRegistryOptions {
  readonly breaker?: Partial<BreakerSettings>;
  readonly outlier?: Partial<OutlierSettings>;
  /** Most targets the group may name (default 64). */
  readonly maxTargets?: number;
  /** Monotonic clock in ms (default performance.now). Fixed at construction. */
  readonly now?: () => number;
  /** Timer for ejections and window rotation (default an unref'd setTimeout). */
  readonly setTimer?: SetTimer;
  /** Each change of a target's state, for the state gauges and transitions counter; must not throw. */
  readonly onTransition?: (transition: HealthTransition) => void;
  /** Each outlier ejection, for the ejections counter; must not throw. */
  readonly onEjection?: (ejection: TargetEjection) => void;
}

export const defaultMaxTargets = 64;

export interface TargetHealthSnapshot {
  readonly name: string;
  readonly state: HealthState;
  readonly available: boolean;
}

export class HealthRegistry implements EjectionBudget {
  readonly breaker: BreakerSettings;
  readonly outlier: OutlierSettings;
  private readonly maxTargets: number;
  private readonly now: () => number;
  private readonly setTimer: SetTimer;
  private readonly options: HealthRegistryOptions;
  private readonly entries = new Map<string, TargetHealth>();
  private configured: ReadonlySet<string> = new Set();
  /** One rotation for every breaker of the group: one timer instead of one interval per breaker. */
  private readonly rotation = new EventEmitter();
  private cancelRotation: (() => void) | undefined;
  private ejected = 0;
  private disposed = false;

  constructor(targets: readonly string[], options: HealthRegistryOptions = {}) {
    this.breaker = breakerSettings(options.breaker);
    this.outlier = outlierSettings(options.outlier);
    this.maxTargets = options.maxTargets ?? defaultMaxTargets;
    if (!Number.isInteger(this.maxTargets) || this.maxTargets < 1) {
      throw new RangeError(`maxTargets must be an integer ≥ 1, got ${String(this.maxTargets)}`);
    }
    this.now = options.now ?? performance.now.bind(performance);
    this.setTimer = options.setTimer ?? defaultSetTimer;
    this.options = options;
    // Two listeners per breaker (opossum's window and the slow-call window), bounded by maxTargets.
    this.rotation.setMaxListeners(this.maxTargets * 2 + 1);
    this.sync(targets);
  }

  /** The configured target names, in no particular order. */
  get names(): readonly string[] {
    return [...this.configured];
  }

  /** Targets ejected right now, against the group's max-ejection-percent budget. */
  get ejectedCount(): number {
    return this.ejected;
  }

  /** The target's health, created on first use; undefined for a name that is not configured. */
  get(name: string): TargetHealth | undefined {
    const existing = this.entries.get(name);
    if (existing !== undefined || this.disposed || !this.configured.has(name)) return existing;
    const health = new TargetHealth(name, this.breaker, this.outlier, {
      now: this.now,
      setTimer: this.setTimer,
      rotation: this.rotation,
      budget: this,
      onTransition: this.options.onTransition,
      onEjection: this.options.onEjection,
    });
    this.entries.set(name, health);
    if (this.cancelRotation === undefined) this.scheduleRotation();
    return health;
  }

  /** Takes the reloaded target list; returns the names whose entries were disposed. */
  sync(targets: readonly string[]): string[] {
    const next = new Set(targets);
    if (next.size !== targets.length) throw new RangeError('targets must have unique names');
    if (next.size > this.maxTargets) {
      throw new RangeError(`a group has at most ${this.maxTargets} targets, got ${next.size}`);
    }
    for (const name of next) {
      if (name.length === 0) throw new RangeError('target names must be non-empty');
    }
    this.configured = next;
    const removed: string[] = [];
    for (const [name, health] of this.entries) {
      if (next.has(name)) continue;
      health.dispose();
      this.entries.delete(name);
      removed.push(name);
    }
    if (this.entries.size === 0) this.stopRotation();
    return removed;
  }

  /**
   * The earliest time (on the injected clock) one target may take traffic again: `now` when one
   * already may, undefined when no target can say (failing active checks, busy probes). For the
   * Retry-After of the 503 the caller answers when every target is unavailable.
   */
  earliestAvailableAt(now: number = this.now()): number | undefined {
    let earliest: number | undefined;
    for (const name of this.configured) {
      const health = this.entries.get(name);
      // Never used: nothing speaks against it.
      if (health === undefined) return now;
      const at = health.retryAt(now);
      if (at !== undefined && (earliest === undefined || at < earliest)) earliest = at;
    }
    return earliest;
  }

  snapshot(now: number = this.now()): TargetHealthSnapshot[] {
    return [...this.entries.values()].map((health) => ({
      name: health.name,
      state: health.state(),
      available: health.available(now),
    }));
  }

  /** Disposes every entry; the registry hands out nothing after. */
  dispose(): void {
    if (this.disposed) return;
    this.sync([]);
    this.disposed = true;
  }

  /** @internal EjectionBudget, for the group's outlier detectors. */
  tryEject(): boolean {
    if (this.ejected >= ejectionAllowance(this.configured.size, this.outlier.maxEjectionPercent))
      return false;
    this.ejected++;
    return true;
  }

  /** @internal EjectionBudget. */
  release(): void {
    this.ejected = Math.max(0, this.ejected - 1);
  }

  private scheduleRotation(): void {
    const bucketMs = this.breaker.windowMs / this.breaker.windowBuckets;
    this.cancelRotation = this.setTimer(() => {
      this.rotation.emit('rotate');
      this.scheduleRotation();
    }, bucketMs);
  }

  private stopRotation(): void {
    this.cancelRotation?.();
    this.cancelRotation = undefined;
  }
}
