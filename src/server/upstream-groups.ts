/**
 * The upstream groups of the running config, kept across reloads: a group whose resilience
 * settings did not change keeps its breakers, ejections, learned latencies and retry budget, and
 * only takes the new generation's targets. Also the metrics the groups report: breaker state and
 * transitions, ejections, and which targets may take traffic.
 */
import type { Logger } from 'pino';
import type { SluiceConfig } from '../config/types.generated.ts';
import { type HotCounter, hotCounter } from '../telemetry/hot-children.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { AttemptEvents, AttemptResultLabel } from '../upstream/attempts.ts';
import { resilienceFingerprint, UpstreamGroup } from '../upstream/group.ts';
import { type HealthState, healthStates } from '../upstream/health.ts';
import type { TargetRuntime } from '../upstream/target.ts';

export interface RouteChain {
  readonly route: string;
  readonly chain: readonly UpstreamGroup[];
}

export class UpstreamGroups {
  private readonly metrics: Metrics;
  private readonly logger: Logger;
  private groups = new Map<string, UpstreamGroup>();
  /** Targets that have state series, per upstream, so removed ones can be deleted. */
  private readonly reported = new Map<string, Set<string>>();
  private readonly events: Omit<AttemptEvents, 'failover'>;
  private readonly attemptCounters = new WeakMap<TargetRuntime, Map<AttemptResultLabel, HotCounter>>();

  constructor(metrics: Metrics, logger: Logger) {
    this.metrics = metrics;
    this.logger = logger;
    this.events = {
      attempt: (target: TargetRuntime, result: AttemptResultLabel) =>
        this.attemptCounter(target, result).inc(),
      retry: (upstream, reason) => metrics.upstreamRetries.labels(upstream, reason).inc(),
      retryDenied: (upstream, reason) => metrics.upstreamRetriesDenied.labels(upstream, reason).inc(),
      hedgeSent: (upstream) => metrics.upstreamHedgesSent.labels(upstream).inc(),
      hedgeWon: (upstream) => metrics.upstreamHedgesWon.labels(upstream).inc(),
    };
  }

  /** Builds or keeps a group per upstream of `config`, with the generation's targets. */
  configure(
    config: Readonly<SluiceConfig>,
    targets: ReadonlyMap<string, readonly TargetRuntime[]>,
  ): ReadonlyMap<string, UpstreamGroup> {
    const next = new Map<string, UpstreamGroup>();
    for (const [name, upstream] of Object.entries(config.upstreams)) {
      if (upstream === undefined) continue;
      const kept = this.groups.get(name);
      const group =
        kept !== undefined && kept.fingerprint === resilienceFingerprint(upstream)
          ? kept
          : new UpstreamGroup(name, upstream, {
              onTransition: (upstreamName, transition) => {
                this.setState(upstreamName, transition.target, transition.to);
                this.metrics.upstreamBreakerTransitions
                  .labels(upstreamName, transition.target, transition.to, transition.reason)
                  .inc();
                const level = transition.to === 'closed' ? 'info' : 'warn';
                this.logger[level](
                  {
                    upstream: upstreamName,
                    target: transition.target,
                    from: transition.from,
                    to: transition.to,
                    reason: transition.reason,
                  },
                  'upstream target health changed',
                );
              },
              onEjection: (upstreamName, ejection) =>
                this.metrics.upstreamEjections.labels(upstreamName, ejection.target).inc(),
              onHealthCheck: (upstreamName, target, passed, detail) => {
                this.metrics.upstreamHealthChecks
                  .labels(upstreamName, target, passed ? 'pass' : 'fail')
                  .inc();
                if (!passed)
                  this.logger.debug({ upstream: upstreamName, target, detail }, 'health check failed');
              },
            });
      if (kept !== undefined && kept !== group) {
        kept.dispose();
        // The new group's health starts over: its series must not keep the old state.
        for (const target of [...(this.reported.get(name) ?? [])]) {
          if (group.health === undefined) this.forget(name, target);
          else this.setState(name, target, 'closed');
        }
      }
      const removed = group.setTargets(upstream, targets.get(name) ?? [], config.llm.prices);
      for (const target of removed) this.forget(name, target);
      if (group.health !== undefined) {
        for (const target of group.targets) {
          if (!this.reported.get(name)?.has(target.name)) this.setState(name, target.name, 'closed');
        }
      }
      next.set(name, group);
    }
    for (const [name, group] of this.groups) {
      if (next.get(name) === group) continue;
      group.dispose();
      if (!next.has(name)) for (const target of this.reported.get(name) ?? []) this.forget(name, target);
    }
    this.groups = next;
    return next;
  }

  /** Availability gauges, read at scrape time (a breaker turns half-open on a timer, not on a request). */
  reportGauges(routes: readonly RouteChain[]): void {
    const available = this.metrics.upstreamTargetAvailable;
    for (const group of this.groups.values()) {
      for (const target of group.targets) {
        available.labels(group.name, target.name).set(group.available(target.name) ? 1 : 0);
      }
    }
    for (const { route, chain } of routes) {
      let count = 0;
      for (const group of chain) count += group.availableCount();
      this.metrics.routeTargetsAvailable.labels(route).set(count);
    }
  }

  dispose(): void {
    for (const group of this.groups.values()) group.dispose();
    this.groups.clear();
  }

  /** Every request counts an attempt: the series is bound once per target and result. */
  private attemptCounter(target: TargetRuntime, result: AttemptResultLabel): HotCounter {
    let byResult = this.attemptCounters.get(target);
    if (byResult === undefined) {
      byResult = new Map();
      this.attemptCounters.set(target, byResult);
    }
    let counter = byResult.get(result);
    if (counter === undefined) {
      counter = hotCounter(this.metrics.upstreamAttempts, [target.upstream, target.name, result]);
      byResult.set(result, counter);
    }
    return counter;
  }

  /** The attempt events of one route's requests: failovers carry its name. */
  eventsFor(route: string): AttemptEvents {
    return {
      ...this.events,
      failover: (from, to) => this.metrics.routeFailovers.labels(route, from, to).inc(),
    };
  }

  private setState(upstream: string, target: string, state: HealthState): void {
    for (const each of healthStates) {
      this.metrics.upstreamBreakerState.labels(upstream, target, each).set(each === state ? 1 : 0);
    }
    const targets = this.reported.get(upstream) ?? new Set<string>();
    this.reported.set(upstream, targets);
    targets.add(target);
  }

  private forget(upstream: string, target: string): void {
    for (const state of healthStates) this.metrics.upstreamBreakerState.remove(upstream, target, state);
    this.metrics.upstreamTargetAvailable.remove(upstream, target);
    this.reported.get(upstream)?.delete(target);
  }
}
