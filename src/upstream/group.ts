/**
 * An upstream group at run time: its targets, the balancer that spreads requests over them, their
 * health (breakers, outlier ejection, active checks), the retry budget every route to it shares,
 * and the per-target time-to-headers quantiles that hedging learns its delay from.
 *
 * The state that learns (health, latency, budget) outlives config generations: a reload that keeps
 * the group's resilience settings keeps it, and only swaps the targets' runtimes (pools).
 */
import type { ModelPrice, UpstreamConfig } from '../config/types.generated.ts';
import { PriceBook } from '../llm/prices.ts';
import { type Balancer, createBalancer, type Strategy, type Target } from './balancer.ts';
import type { BreakerSettings, OutlierSettings } from './breaker-options.ts';
import type { HealthAdmission, HealthTransition, TargetEjection } from './health.ts';
import { HealthChecker, healthCheckSettings } from './health-check.ts';
import { HealthRegistry } from './health-registry.ts';
import { TargetQuantiles } from './quantile.ts';
import { RetryBudget } from './retry-budget.ts';
import type { TargetRuntime } from './target.ts';

/** Models whose cost-aware balancer is kept; model names are client input, so the memo is bounded. */
const MAX_COST_BALANCERS = 256;

export interface GroupEvents {
  readonly onTransition: (upstream: string, transition: HealthTransition) => void;
  readonly onEjection: (upstream: string, ejection: TargetEjection) => void;
  readonly onHealthCheck: (upstream: string, target: string, passed: boolean, detail: string) => void;
}

/** A target that may take this attempt, with what must be handed back when the attempt ends. */
export interface AdmittedTarget {
  readonly target: TargetRuntime;
  /** Undefined when the group has no breaker, outlier detection or health checks. */
  readonly admission: HealthAdmission | undefined;
}

/** The settings that make up the learned state: when they change, the state starts over. */
export function resilienceFingerprint(config: Readonly<UpstreamConfig>): string {
  const { breaker, outlier_detection, health_check, retry_budget, balance } = config;
  return JSON.stringify({ breaker, outlier_detection, health_check, retry_budget, balance });
}

function breakerOptions(config: Readonly<UpstreamConfig>): Partial<BreakerSettings> {
  const breaker = config.breaker;
  // Outlier detection or health checks without a breaker: one that can never open.
  if (breaker === undefined) return { errorThresholdPercent: 100, slowCallMs: 0 };
  return {
    errorThresholdPercent: breaker.error_threshold_percent,
    volumeThreshold: breaker.volume_threshold,
    windowMs: breaker.window_ms,
    windowBuckets: breaker.window_buckets,
    resetTimeoutMs: breaker.reset_timeout_ms,
    halfOpenProbes: breaker.half_open_probes,
    slowCallMs: breaker.slow_call_ms,
    slowCallRatePercent: breaker.slow_call_rate_percent,
  };
}

function outlierOptions(config: Readonly<UpstreamConfig>): Partial<OutlierSettings> {
  const outlier = config.outlier_detection;
  if (outlier === undefined) return { consecutiveFailures: 0 };
  return {
    consecutiveFailures: outlier.consecutive_failures,
    baseEjectionMs: outlier.base_ejection_ms,
    maxEjectionMs: outlier.max_ejection_ms,
    maxEjectionPercent: outlier.max_ejection_percent,
  };
}

function watched(config: Readonly<UpstreamConfig>): boolean {
  return (
    config.breaker !== undefined ||
    config.outlier_detection !== undefined ||
    config.health_check !== undefined
  );
}

function balancerTarget(target: TargetRuntime, costPerRequest?: number): Target {
  return { name: target.name, weight: target.weight, priority: target.priority, costPerRequest };
}

export class UpstreamGroup {
  readonly name: string;
  readonly fingerprint: string;
  readonly budget: RetryBudget;
  readonly quantiles = new TargetQuantiles();
  readonly health: HealthRegistry | undefined;
  private config: Readonly<UpstreamConfig>;
  private targetList: readonly TargetRuntime[] = [];
  private byName = new Map<string, TargetRuntime>();
  private balancer: Balancer | undefined;
  private prices: PriceBook | undefined;
  private readonly costBalancers = new Map<string, Balancer>();
  private readonly events: GroupEvents;
  private checker: HealthChecker | undefined;
  /** The targets the checker was started on, by fingerprint: a reload that keeps them keeps it. */
  private checkedTargets = '';

  constructor(name: string, config: Readonly<UpstreamConfig>, events: GroupEvents) {
    this.name = name;
    this.config = config;
    this.events = events;
    this.fingerprint = resilienceFingerprint(config);
    const { ratio, min_retries_per_second: minRetriesPerSecond, window_ms: windowMs } = config.retry_budget;
    this.budget = new RetryBudget({ ratio, minRetriesPerSecond, windowMs, buckets: 10 });
    if (watched(config)) {
      this.health = new HealthRegistry([], {
        breaker: breakerOptions(config),
        outlier: outlierOptions(config),
        onTransition: (transition) => {
          this.balancer?.setAvailable(
            transition.target,
            transition.to !== 'open' && transition.to !== 'ejected',
          );
          events.onTransition(name, transition);
        },
        onEjection: (ejection) => events.onEjection(name, ejection),
      });
    }
  }

  get targets(): readonly TargetRuntime[] {
    return this.targetList;
  }

  get strategy(): Strategy {
    return this.config.balance.strategy;
  }

  /**
   * Takes a generation's targets. Targets that keep their name keep their learned state; the
   * names of removed ones are returned so their metric series can go.
   */
  setTargets(
    config: Readonly<UpstreamConfig>,
    targets: readonly TargetRuntime[],
    globalPrices: readonly ModelPrice[],
  ): string[] {
    this.config = config;
    this.targetList = targets;
    this.byName = new Map(targets.map((target) => [target.name, target]));
    const { strategy, cost_tolerance, within_tier, max_outstanding_per_target } = config.balance;
    this.balancer = createBalancer(
      targets.map((target) => balancerTarget(target)),
      {
        strategy,
        costTolerance: cost_tolerance,
        withinTier: within_tier,
        ...(max_outstanding_per_target !== undefined
          ? { maxOutstandingPerTarget: max_outstanding_per_target }
          : {}),
      },
      this.balancer,
    );
    this.costBalancers.clear();
    const pricesMatter =
      strategy === 'cost-aware' || (strategy === 'priority' && within_tier === 'cost-aware');
    this.prices = pricesMatter
      ? new PriceBook(
          globalPrices,
          Object.fromEntries(
            (config.targets ?? []).map((target) => [target.name, [...target.prices, ...config.prices]]),
          ),
        )
      : undefined;
    const names = targets.map((target) => target.name);
    const removed = this.health?.sync(names) ?? [];
    for (const name of removed) this.quantiles.forget(name);
    this.restartChecks(config, targets);
    for (const name of names) this.balancer.setAvailable(name, this.available(name));
    return removed;
  }

  /** Active checks on the new targets, when they differ from the ones being checked. */
  private restartChecks(config: Readonly<UpstreamConfig>, targets: readonly TargetRuntime[]): void {
    const settings = config.health_check;
    const fingerprints = targets.map((target) => `${target.fingerprint}${target.poolKey}`).join('\n');
    if (settings === undefined || this.health === undefined || fingerprints === this.checkedTargets) return;
    this.checker?.stop();
    this.checkedTargets = fingerprints;
    const health = this.health;
    // A new checker starts from "healthy", so the health it feeds must too, or a target it never
    // sees fail would never be told it passes.
    for (const target of targets) health.get(target.name)?.setActiveHealth(true);
    this.checker = new HealthChecker(
      targets.map((target) => ({
        name: target.name,
        dispatcher: target.pool,
        origin: target.origin,
        basePath: target.basePath,
        headers: target.addedHeaders,
      })),
      healthCheckSettings({
        path: settings.path,
        method: settings.method,
        intervalMs: settings.interval_ms,
        timeoutMs: settings.timeout_ms,
        healthyThreshold: settings.healthy_threshold,
        unhealthyThreshold: settings.unhealthy_threshold,
        expectedStatuses: settings.expected_statuses,
      }),
      {
        setHealthy: (target, healthy) => health.get(target)?.setActiveHealth(healthy),
        onResult: (target, passed, detail) => this.events.onHealthCheck(this.name, target, passed, detail),
      },
    );
    this.checker.start();
  }

  target(name: string): TargetRuntime | undefined {
    return this.byName.get(name);
  }

  /** Whether `name` may take traffic now (for the availability gauges). */
  available(name: string): boolean {
    return this.health?.get(name)?.available() ?? true;
  }

  availableCount(): number {
    let count = 0;
    for (const target of this.targetList) if (this.available(target.name)) count++;
    return count;
  }

  /**
   * The balancer's choice among the targets not in `exclude` whose health admits an attempt now,
   * or undefined when none does. A target the balancer offers but its health refuses (a half-open
   * breaker whose probe slots are busy) is skipped for this request only.
   */
  admit(exclude: ReadonlySet<string> | undefined, model: string | undefined): AdmittedTarget | undefined {
    const balancer = this.balancerFor(model);
    if (balancer === undefined) return undefined;
    let skipped: Set<string> | undefined;
    for (let tries = 0; tries < this.targetList.length; tries++) {
      const picked = balancer.pick(skipped ?? exclude);
      if (picked === undefined) return undefined;
      const target = this.byName.get(picked.name)!;
      const health = this.health?.get(picked.name);
      if (health === undefined) return { target, admission: undefined };
      const admission = health.admit();
      if (admission !== undefined) return { target, admission };
      skipped ??= new Set(exclude);
      skipped.add(picked.name);
    }
    return undefined;
  }

  /** Counts an attempt in flight on `target` for the balancer; end or cancel the handle when it is over. */
  start(target: TargetRuntime) {
    return this.balancer!.start(target.name);
  }

  /** When some target may take traffic again, in ms from now (for Retry-After); undefined: unknown. */
  retryInMs(): number | undefined {
    if (this.health === undefined) return 0;
    const now = performance.now();
    const at = this.health.earliestAvailableAt(now);
    return at === undefined ? undefined : Math.max(0, at - now);
  }

  /**
   * A target for a tunnel (WebSocket): chosen like an attempt, but its health is not judged by a
   * connection that may last hours, so the admission is handed back at once.
   */
  pickForTunnel(): TargetRuntime | undefined {
    const admitted = this.admit(undefined, undefined);
    if (admitted?.admission !== undefined)
      this.health?.get(admitted.target.name)?.release(admitted.admission);
    return admitted?.target;
  }

  dispose(): void {
    this.checker?.stop();
    this.health?.dispose();
  }

  /** cost-aware (or priority tiers by cost): a balancer whose targets carry the model's price, sharing the base's state. */
  private balancerFor(model: string | undefined): Balancer | undefined {
    const base = this.balancer;
    if (this.prices === undefined || model === undefined || base === undefined) return base;
    const known = this.costBalancers.get(model);
    if (known !== undefined) return known;
    const prices = this.prices;
    const targets = this.targetList.map((target) => {
      const price = prices.priceFor(target.name, target.models?.get(model) ?? model);
      return balancerTarget(target, price === undefined ? undefined : price.input + price.output);
    });
    const { strategy, cost_tolerance, within_tier, max_outstanding_per_target } = this.config.balance;
    const balancer = createBalancer(
      targets,
      {
        strategy,
        costTolerance: cost_tolerance,
        withinTier: within_tier,
        ...(max_outstanding_per_target !== undefined
          ? { maxOutstandingPerTarget: max_outstanding_per_target }
          : {}),
      },
      base,
    );
    if (this.costBalancers.size >= MAX_COST_BALANCERS) this.costBalancers.clear();
    this.costBalancers.set(model, balancer);
    return balancer;
  }
}
