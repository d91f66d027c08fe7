/**
 * What traffic control keeps across config generations: the rate-limit stores (memory, and Redis
 * when `limits.redis` is set) and one concurrency limiter per route or upstream that has
 * `concurrency`. A reload reconfigures them in place, so budgets, requests in flight and waiters
 * in the queues survive it.
 */
import type { Logger } from 'pino';
import {
  type AdaptiveOptions,
  ConcurrencyLimiter,
  type ConcurrencyOptions,
} from '../concurrency/concurrency.ts';
import type { DeepReadonly } from '../config/freeze.ts';
import type { ConcurrencyConfig, SluiceConfig } from '../config/types.generated.ts';
import { FailoverRateStore } from '../ratelimit/rate-failover-store.ts';
import { MemoryRateStore } from '../ratelimit/rate-memory-store.ts';
import { RedisRateStore } from '../ratelimit/rate-redis-store.ts';
import type { RateStore } from '../ratelimit/rate-types.ts';
import type { Metrics } from '../telemetry/metrics.ts';

export type LimiterScope = 'route' | 'upstream';

interface SharedStore {
  readonly settings: string;
  readonly redis: RedisRateStore;
  readonly store: FailoverRateStore;
}

function adaptiveOptions(config: DeepReadonly<ConcurrencyConfig>): AdaptiveOptions | undefined {
  const adaptive = config.adaptive;
  if (adaptive === undefined) return undefined;
  const bounds = { minLimit: adaptive.min_limit, maxLimit: adaptive.max_limit };
  if (adaptive.algorithm === 'aimd')
    return {
      algorithm: 'aimd',
      ...bounds,
      ...(adaptive.latency_threshold_ms === undefined
        ? {}
        : { latencyThresholdMs: adaptive.latency_threshold_ms }),
      ...(adaptive.backoff_ratio === undefined ? {} : { backoffRatio: adaptive.backoff_ratio }),
    };
  return {
    algorithm: 'gradient',
    ...bounds,
    ...(adaptive.tolerance === undefined ? {} : { tolerance: adaptive.tolerance }),
  };
}

export function concurrencyOptions(
  config: DeepReadonly<ConcurrencyConfig>,
  classes: readonly string[],
): ConcurrencyOptions {
  const adaptive = adaptiveOptions(config);
  return {
    maxInFlight: config.max_in_flight,
    queue: { maxSize: config.queue.max_size, timeoutMs: config.queue.timeout_ms },
    classes,
    ...(adaptive === undefined ? {} : { adaptive }),
  };
}

export class TrafficControl {
  /** Per-replica budgets; also what `fail_open` policies fall back to while Redis is away. */
  readonly memory = new MemoryRateStore();
  private shared: SharedStore | undefined;
  private readonly limiters = new Map<string, ConcurrencyLimiter>();
  private readonly metrics: Metrics;
  private readonly log: Logger;

  constructor(metrics: Metrics, log: Logger) {
    this.metrics = metrics;
    this.log = log;
  }

  /** Applies a config: the Redis store follows `limits.redis`, limiters follow `concurrency`. */
  configure(config: DeepReadonly<SluiceConfig>): void {
    this.configureRedis(config.limits.redis);
    const classes = config.limits.priority_classes;
    const wanted = new Map<string, DeepReadonly<ConcurrencyConfig>>();
    for (const route of config.routes)
      if (route.concurrency) wanted.set(`route:${route.name}`, route.concurrency);
    for (const [name, upstream] of Object.entries(config.upstreams))
      if (upstream?.concurrency) wanted.set(`upstream:${name}`, upstream.concurrency);
    for (const [key, settings] of wanted) {
      const options = concurrencyOptions(settings, classes);
      const existing = this.limiters.get(key);
      if (existing) existing.reconfigure(options);
      else this.limiters.set(key, this.newLimiter(key, options));
    }
    // Requests still holding a removed limiter's permits release them into it: nothing leaks.
    for (const key of [...this.limiters.keys()]) if (!wanted.has(key)) this.limiters.delete(key);
  }

  /** The store a policy's decisions are made in. */
  store(kind: 'memory' | 'redis'): RateStore {
    return kind === 'redis' && this.shared ? this.shared.store : this.memory;
  }

  limiter(scope: LimiterScope, name: string): ConcurrencyLimiter | undefined {
    return this.limiters.get(`${scope}:${name}`);
  }

  /** The gauges, refreshed before each scrape. */
  reportGauges(): void {
    const { concurrencyInFlight, concurrencyLimit, concurrencyQueued, rateLimitStoreUp } = this.metrics;
    concurrencyInFlight.reset();
    concurrencyLimit.reset();
    concurrencyQueued.reset();
    for (const [key, limiter] of this.limiters) {
      const [scope = '', name = ''] = key.split(/:(.*)/s);
      concurrencyInFlight.labels(scope, name).set(limiter.inFlight);
      concurrencyLimit.labels(scope, name).set(limiter.limit);
      for (const [priorityClass, depth] of Object.entries(limiter.queued()))
        concurrencyQueued.labels(scope, name, priorityClass).set(depth);
    }
    rateLimitStoreUp.reset();
    if (this.shared) rateLimitStoreUp.set(this.shared.redis.available() ? 1 : 0);
  }

  async close(): Promise<void> {
    await Promise.all([this.shared?.store.close(), this.memory.close()]);
    this.shared = undefined;
  }

  private newLimiter(key: string, options: ConcurrencyOptions): ConcurrencyLimiter {
    const limiter = new ConcurrencyLimiter(options);
    const [scope = '', name = ''] = key.split(/:(.*)/s);
    limiter.subscribe((event) => {
      if (event.type === 'rejected')
        this.metrics.concurrencyRejections.labels(scope, name, event.reason).inc();
      else if (event.cause === 'adaptive')
        this.log.debug(
          { scope, name, previous: event.previous, limit: event.limit },
          'adaptive concurrency limit moved',
        );
    });
    return limiter;
  }

  private configureRedis(redis: DeepReadonly<SluiceConfig['limits']['redis']>): void {
    const settings = JSON.stringify(redis ?? null);
    if (settings === (this.shared?.settings ?? 'null')) return;
    const previous = this.shared;
    this.shared = undefined;
    if (previous) void previous.redis.close();
    if (redis === undefined) return;
    const store = new RedisRateStore(redis, {
      onStateChange: (state, reason) => {
        if (state === 'up') this.log.info({ reason }, 'rate-limit store (Redis) up: limits are shared again');
        else
          this.log.warn(
            { reason },
            'rate-limit store (Redis) down: fail_open policies limit per replica, fail_closed ones answer 503',
          );
      },
    });
    this.shared = { settings, redis: store, store: new FailoverRateStore(store, { local: this.memory }) };
  }
}
