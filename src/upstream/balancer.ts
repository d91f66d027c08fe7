/**
 * Chooses the target of one upstream attempt, first step of the upstream call (balancer → breaker →
 * retry). The breaker and health checks say which targets may take traffic (`available`); the
 * balancer decides which of those gets this attempt, and learns from how the attempt went.
 *
 * `pick` returns undefined when no target may take the request: the caller answers 503 (or stale
 * if error). `exclude` holds the targets this request already tried, so a retry or a hedge goes
 * elsewhere when it can.
 */
import type { Candidate, PickIn } from './balancer-candidates.ts';
import { pickCheapest } from './balancer-cost.ts';
import { leastLoadedPicker } from './balancer-least-loaded.ts';
import { pickWeightedRoundRobin } from './balancer-wrr.ts';
import {
  type BalancerHandle,
  type LatencyOptions,
  latencySettings,
  type Target,
  TargetState,
  validateTargets,
} from './target-stats.ts';

export type { AttemptResult, BalancerHandle, LatencyOptions, Target } from './target-stats.ts';
export { latencyDefaults, TargetState } from './target-stats.ts';

export const strategies = ['weighted-round-robin', 'least-loaded', 'cost-aware', 'priority'] as const;
export type Strategy = (typeof strategies)[number];
export type TierStrategy = Exclude<Strategy, 'priority'>;

export interface BalancerOptions {
  readonly strategy: Strategy;
  readonly latency?: Partial<LatencyOptions>;
  /** cost-aware: costs within this fraction of the cheapest count as equal (default 0: exact ties). */
  readonly costTolerance?: number;
  /** priority: how a tier shares its traffic (default 'least-loaded'). */
  readonly withinTier?: TierStrategy;
  /** priority: a target with this many requests in flight counts as full. Absent: never full. */
  readonly maxOutstandingPerTarget?: number;
  /** Monotonic clock in ms (default performance.now). */
  readonly now?: () => number;
  /** Uniform in [0, 1) (default Math.random); least-loaded only. Injectable so tests are exact. */
  readonly random?: () => number;
}

export interface TargetSnapshot {
  readonly name: string;
  readonly available: boolean;
  readonly outstanding: number;
  readonly latencyMs: number;
}

export interface Balancer {
  readonly strategy: Strategy;
  /** In the order given (the priority strategy reads tiers from `priority`, not from the order). */
  readonly targets: readonly Target[];
  pick(exclude?: ReadonlySet<string>): Target | undefined;
  /** Counts the attempt as in flight on `target` until the handle ends. Throws for an unknown name. */
  start(target: Target | string): BalancerHandle;
  state(name: string): TargetState | undefined;
  /** For the breaker and health checks; false when the name is unknown. */
  setAvailable(name: string, available: boolean): boolean;
  snapshot(): TargetSnapshot[];
}

function check(ok: boolean, path: string, rule: string, value: unknown): void {
  if (!ok) throw new RangeError(`${path} must be ${rule}, got ${String(value)}`);
}

function validateOptions(options: BalancerOptions): void {
  const list = strategies.map((name) => `'${name}'`).join(', ');
  check(strategies.includes(options.strategy), 'strategy', `one of ${list}`, options.strategy);
  const { costTolerance, withinTier, maxOutstandingPerTarget } = options;
  if (costTolerance !== undefined) {
    check(
      Number.isFinite(costTolerance) && costTolerance >= 0,
      'costTolerance',
      'a number ≥ 0',
      costTolerance,
    );
  }
  if (withinTier !== undefined) {
    const value: string = withinTier;
    const ok = value !== 'priority' && (strategies as readonly string[]).includes(value);
    check(ok, 'withinTier', "'weighted-round-robin', 'least-loaded' or 'cost-aware'", withinTier);
  }
  if (maxOutstandingPerTarget !== undefined) {
    const ok = Number.isInteger(maxOutstandingPerTarget) && maxOutstandingPerTarget >= 1;
    check(ok, 'maxOutstandingPerTarget', 'an integer ≥ 1', maxOutstandingPerTarget);
  }
}

const defaultNow = (): number => performance.now();

function strategyPick(strategy: TierStrategy, options: BalancerOptions, size: number): PickIn {
  if (strategy === 'weighted-round-robin') return pickWeightedRoundRobin;
  if (strategy === 'cost-aware') {
    const tolerance = options.costTolerance ?? 0;
    return (candidates, lo, hi, exclude, cap, now) =>
      pickCheapest(candidates, lo, hi, exclude, cap, now, tolerance);
  }
  return leastLoadedPicker(size, options.random ?? Math.random);
}

const tierOf = (target: Target): number => target.priority ?? 0;

class TargetBalancer implements Balancer {
  readonly strategy: Strategy;
  readonly targets: readonly Target[];
  private readonly candidates: Candidate[];
  private readonly byName = new Map<string, Candidate>();
  /** Start index of each tier in `candidates`, plus the end; [0, length] when tiers do not matter. */
  private readonly bounds: number[];
  private readonly pickIn: PickIn;
  private readonly cap: number;
  /** Round-robin reads no latency, so its picks skip the clock read. */
  private readonly clocked: boolean;
  private readonly now: () => number;

  constructor(targets: readonly Target[], options: BalancerOptions, previous?: Balancer) {
    validateTargets(targets);
    validateOptions(options);
    const settings = latencySettings(options.latency);
    this.strategy = options.strategy;
    this.targets = targets;
    this.now = options.now ?? defaultNow;
    const start = this.now();
    const tiered = options.strategy === 'priority';
    // Stable, so within a tier the configured order still decides round-robin order and ties.
    const ordered = tiered ? [...targets].sort((a, b) => tierOf(a) - tierOf(b)) : targets;
    this.candidates = ordered.map((target) => {
      const kept = previous?.state(target.name);
      kept?.configure(settings);
      const candidate: Candidate = {
        target,
        name: target.name,
        weight: target.weight,
        cost: target.costPerRequest ?? Number.POSITIVE_INFINITY,
        state: kept ?? new TargetState(settings, start),
        currentWeight: 0,
      };
      this.byName.set(target.name, candidate);
      return candidate;
    });
    this.bounds = [0];
    if (tiered) {
      for (let i = 1; i < ordered.length; i++) {
        if (tierOf(ordered[i]!) !== tierOf(ordered[i - 1]!)) this.bounds.push(i);
      }
    }
    this.bounds.push(ordered.length);
    const inner = tiered ? (options.withinTier ?? 'least-loaded') : (options.strategy as TierStrategy);
    this.pickIn = strategyPick(inner, options, ordered.length);
    this.clocked = inner !== 'weighted-round-robin';
    this.cap = tiered
      ? (options.maxOutstandingPerTarget ?? Number.POSITIVE_INFINITY)
      : Number.POSITIVE_INFINITY;
  }

  pick(exclude?: ReadonlySet<string>): Target | undefined {
    // A first attempt often passes an empty set; skipping it spares a hash lookup per candidate.
    if (exclude !== undefined && exclude.size === 0) exclude = undefined;
    const now = this.clocked ? this.now() : 0;
    let index = this.firstTier(exclude, this.cap, now);
    // Every tier full: overflow to the best tier that can take a request at all, since being full is
    // a preference (keep the fallback for when it is needed), not a reason to answer 503.
    if (index === -1 && this.cap !== Number.POSITIVE_INFINITY) {
      index = this.firstTier(exclude, Number.POSITIVE_INFINITY, now);
    }
    return index === -1 ? undefined : this.candidates[index]!.target;
  }

  start(target: Target | string): BalancerHandle {
    const name = typeof target === 'string' ? target : target.name;
    const candidate = this.byName.get(name);
    if (candidate === undefined) throw new RangeError(`balancer: unknown target "${name}"`);
    return candidate.state.begin(candidate.target, this.now);
  }

  state(name: string): TargetState | undefined {
    return this.byName.get(name)?.state;
  }

  setAvailable(name: string, available: boolean): boolean {
    const candidate = this.byName.get(name);
    if (candidate === undefined) return false;
    candidate.state.available = available;
    return true;
  }

  snapshot(): TargetSnapshot[] {
    const now = this.now();
    return this.targets.map((target) => {
      const state = this.byName.get(target.name)!.state;
      const { available, outstanding } = state;
      return { name: target.name, available, outstanding, latencyMs: state.latencyMs(now) };
    });
  }

  private firstTier(exclude: ReadonlySet<string> | undefined, cap: number, now: number): number {
    const { bounds, candidates } = this;
    for (let tier = 0; tier + 1 < bounds.length; tier++) {
      const index = this.pickIn(candidates, bounds[tier]!, bounds[tier + 1]!, exclude, cap, now);
      if (index !== -1) return index;
    }
    return -1;
  }
}

/**
 * Throws a RangeError naming the bad field. `previous` (the balancer this one replaces on a reload)
 * hands over the live state of targets that keep their name: learned latency, in-flight counts and
 * health survive, and attempts started before the reload still end on the right state.
 */
export function createBalancer(
  targets: readonly Target[],
  options: BalancerOptions,
  previous?: Balancer,
): Balancer {
  return new TargetBalancer(targets, options, previous);
}
