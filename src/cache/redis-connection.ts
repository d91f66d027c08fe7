/**
 * How Sluice connects to Redis, for the cache's L2 tier and the rate-limit store alike: one plan per
 * config shape (one server, Sentinel, Cluster), all failing fast (no offline queue, no resends,
 * bounded timeouts) and reconnecting by themselves with backoff.
 */
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import type { DeepReadonly } from '../config/freeze.ts';
import type { RedisConfig } from '../config/types.generated.ts';

type RedisNodes = { host: string; port: number }[];

export type RedisConnectionPlan =
  | { readonly mode: 'standalone'; readonly url: string; readonly options: RedisOptions }
  | { readonly mode: 'sentinel'; readonly options: RedisOptions }
  | { readonly mode: 'cluster'; readonly nodes: RedisNodes; readonly options: ClusterOptions };

/**
 * Capped exponential backoff with jitter: a restarted Redis is found again within about two
 * seconds, a dead one costs one connection attempt every two seconds, and replicas do not all
 * reconnect in the same millisecond.
 */
export function reconnectDelayMs(attempt: number): number {
  const exponential = 50 * 2 ** Math.min(Math.max(attempt - 1, 0), 16);
  return Math.min(exponential, 2000) + Math.floor(Math.random() * 100);
}

/** Floor of a Sentinel query's timeout: Sentinel answers from memory, but may be busy failing over. */
const SENTINEL_COMMAND_TIMEOUT_MS = 500;

/** The ioredis client and options for each config shape; pure, so it is tested without a Redis. */
export function planRedisConnection(
  config: DeepReadonly<RedisConfig>,
  connectionName = 'sluice-cache',
): RedisConnectionPlan {
  const shapes = [config.url, config.sentinels, config.cluster].filter((shape) => shape !== undefined);
  if (shapes.length !== 1) throw new Error('redis needs exactly one of url, sentinels or cluster');
  const perConnection: RedisOptions = {
    // A dead Redis must fail a command at once instead of parking it until a reconnect.
    enableOfflineQueue: false,
    commandTimeout: config.command_timeout_ms,
    // Never resent on a new connection: a cache read is stale by then, and a rate-limit take whose
    // reply was lost could charge a client twice.
    maxRetriesPerRequest: 0,
    // Requests never wait for a connection (no offline queue); this only bounds how long a
    // black-holed connection attempt delays the next one.
    connectTimeout: 2000,
    retryStrategy: reconnectDelayMs,
    // Named for CLIENT LIST, so operators can tell the cache's connections from the rate limits'.
    connectionName,
    ...(config.password === undefined ? {} : { password: config.password }),
  };
  if (config.url !== undefined) return { mode: 'standalone', url: config.url, options: perConnection };
  if (config.sentinels !== undefined) {
    if (config.sentinel_name === undefined) throw new Error('redis.sentinels needs sentinel_name');
    return {
      mode: 'sentinel',
      options: {
        ...perConnection,
        sentinels: config.sentinels.map(({ host, port }) => ({ host, port })),
        name: config.sentinel_name,
        sentinelRetryStrategy: reconnectDelayMs,
        // ioredis asks a Sentinel for the master without a timeout of its own: one that accepts
        // the connection and never answers would keep L2 down, the healthy Sentinels unasked.
        sentinelCommandTimeout: Math.max(SENTINEL_COMMAND_TIMEOUT_MS, config.command_timeout_ms),
      },
    };
  }
  return {
    mode: 'cluster',
    nodes: (config.cluster ?? []).map(({ host, port }) => ({ host, port })),
    options: {
      enableOfflineQueue: false,
      clusterRetryStrategy: reconnectDelayMs,
      redisOptions: perConnection,
    },
  };
}

export function connect(plan: RedisConnectionPlan): Redis | Cluster {
  if (plan.mode === 'standalone') return new Redis(plan.url, plan.options);
  if (plan.mode === 'sentinel') return new Redis(plan.options);
  return new Cluster(plan.nodes, plan.options);
}

export function failureKind(error: unknown): 'timeout' | 'rejected' | 'error' {
  if (!(error instanceof Error)) return 'error';
  const code = 'code' in error ? error.code : undefined;
  // opossum's timer or ioredis' commandTimeout, whichever fired first.
  if (code === 'ETIMEDOUT' || error.message === 'Command timed out') return 'timeout';
  // opossum's own refusals: half-open with its one probe already in flight, or shut down.
  if (code === 'EOPENBREAKER' || code === 'ESHUTDOWN') return 'rejected';
  return 'error';
}
