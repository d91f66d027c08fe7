/**
 * Upstream connection pool gauges, read from undici's pool stats at scrape time rather than kept
 * up to date on every request: the numbers only matter when someone looks at them.
 */
import type { Pool } from 'undici';
import type { Metrics } from './metrics.ts';

export interface PoolSource {
  /** The upstream name (the `upstream` label); several pools of one upstream are summed. */
  readonly name: string;
  readonly pool: Pick<Pool, 'stats'>;
  readonly maxConnections: number;
}

/** The undici PoolStats fields exported as the `state` label. */
export const poolStates = ['connected', 'free', 'running', 'pending', 'queued'] as const;

/**
 * A `beforeScrape` hook. `pools` is read on every call, so after a config reload it reports the
 * new pools, and upstreams that are gone lose their series instead of freezing at the last value.
 */
export function poolStatsHook(metrics: Metrics, pools: () => Iterable<PoolSource>): () => void {
  const connections = metrics.upstreamPoolConnections;
  const maxConnections = metrics.upstreamPoolSize;
  let reported = new Set<string>();

  return function refreshPoolGauges(): void {
    // An upstream with several targets has a pool per target: its gauges are their sums.
    const sums = new Map<string, { states: number[]; max: number }>();
    for (const { name, pool, maxConnections: max } of pools()) {
      const stats = pool.stats;
      const sum = sums.get(name) ?? { states: poolStates.map(() => 0), max: 0 };
      sums.set(name, sum);
      poolStates.forEach((state, index) => {
        sum.states[index]! += stats[state];
      });
      sum.max += max;
    }
    for (const [name, sum] of sums) {
      poolStates.forEach((state, index) => {
        connections.set({ upstream: name, state }, sum.states[index]!);
      });
      maxConnections.set({ upstream: name }, sum.max);
    }
    for (const name of reported) {
      if (sums.has(name)) continue;
      for (const state of poolStates) connections.remove({ upstream: name, state });
      maxConnections.remove({ upstream: name });
    }
    reported = new Set(sums.keys());
  };
}
