/**
 * Upstream connection pool gauges, read from undici's pool stats at scrape time rather than kept
 * up to date on every request: the numbers only matter when someone looks at them.
 */
import type { Pool } from 'undici';
import type { Metrics } from './metrics.ts';

export interface PoolSource {
  /** The upstream name (the `upstream` label). */
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
    const current = new Set<string>();
    for (const { name, pool, maxConnections: max } of pools()) {
      const stats = pool.stats;
      for (const state of poolStates) connections.set({ upstream: name, state }, stats[state]);
      maxConnections.set({ upstream: name }, max);
      current.add(name);
    }
    for (const name of reported) {
      if (current.has(name)) continue;
      for (const state of poolStates) connections.remove({ upstream: name, state });
      maxConnections.remove({ upstream: name });
    }
    reported = current;
  };
}
