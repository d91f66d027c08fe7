/**
 * A config generation: the routes, their composed pipelines and the upstreams built from one
 * effective config. Each request holds the generation it started on until it ends, so a reload
 * never changes a request midway; a retired generation closes the pools no newer one uses once its
 * last request is done.
 */

import type { Pool } from 'undici';
import { HttpCache } from '../cache/http-cache.ts';
import type { ResponseCache } from '../cache/response-cache.ts';
import { resolveCompressionSettings } from '../compression/settings.ts';
import type { SluiceConfig } from '../config/types.generated.ts';
import { compose, type Pipeline } from '../pipeline/compose.ts';
import type { RouteRuntime } from '../pipeline/context.ts';
import { cacheStage } from '../stages/cache.ts';
import { concurrencyStage } from '../stages/concurrency.ts';
import { httpCacheStage } from '../stages/http-cache.ts';
import { llmStage } from '../stages/llm.ts';
import { rateLimitStage } from '../stages/rate-limit.ts';
import { requestBodyStage } from '../stages/request-body.ts';
import { upstreamCallStage } from '../stages/upstream-call.ts';
import type { Telemetry } from '../telemetry/telemetry.ts';
import type { UpstreamGroup } from '../upstream/group.ts';
import { createPool, createTarget, poolKey, type TargetRuntime, targetsOf } from '../upstream/target.ts';
import type { DrainTracker } from './drain.ts';
import { compileMatch, type Routable } from './router.ts';
import type { TrafficControl } from './traffic-control.ts';
import type { UpstreamGroups } from './upstream-groups.ts';

export type EffectiveConfig = Readonly<SluiceConfig>;

export interface CompiledRoute extends Routable {
  readonly runtime: RouteRuntime;
  /** The route's upstream, then its failover chain. */
  readonly chain: readonly UpstreamGroup[];
  readonly pipeline: Pipeline;
}

interface SharedPool {
  readonly pool: Pool;
  /** Live target runtimes that use this pool. */
  users: number;
}

type UpstreamEntry = NonNullable<EffectiveConfig['upstreams'][string]>;
type TargetEntry = NonNullable<UpstreamEntry['targets']>[number];

/**
 * Connection pools shared by generations, keyed by their connection settings; a pool closes when
 * no target runtime uses it. Runtimes are built per generation, so weights, keys and mappings
 * change with a reload while the connections stay warm.
 */
export class UpstreamRegistry {
  private readonly byKey = new Map<string, SharedPool>();
  private readonly live = new Set<TargetRuntime>();

  acquire(upstream: string, config: UpstreamEntry, target: TargetEntry, resolvedUrl: string): TargetRuntime {
    const key = poolKey(upstream, target.name, config, resolvedUrl);
    let shared = this.byKey.get(key);
    if (!shared) {
      shared = { pool: createPool(config, resolvedUrl), users: 0 };
      this.byKey.set(key, shared);
    }
    shared.users++;
    const runtime = createTarget(upstream, config, target, resolvedUrl, shared.pool);
    this.live.add(runtime);
    return runtime;
  }

  async release(runtime: TargetRuntime): Promise<void> {
    if (!this.live.delete(runtime)) return;
    const shared = this.byKey.get(runtime.poolKey);
    if (!shared || shared.pool !== runtime.pool) return;
    if (--shared.users > 0) return;
    this.byKey.delete(runtime.poolKey);
    await shared.pool.close();
  }

  /** One runtime per pool (the pool gauges are per pool). */
  all(): Iterable<TargetRuntime> {
    const seen = new Set<Pool>();
    return [...this.live].filter((runtime) => !seen.has(runtime.pool) && seen.add(runtime.pool));
  }
}

export interface GenerationDeps {
  readonly registry: UpstreamRegistry;
  readonly telemetry: Telemetry;
  /** Maps `mock://` URLs to the running built-in mock; other URLs unchanged. */
  readonly resolveUrl: (url: string) => string;
  readonly tracker: DrainTracker;
  readonly cache: ResponseCache;
  readonly traffic: TrafficControl;
  readonly groups: UpstreamGroups;
}

/** Retries and hedges resend the body, and model mapping rewrites it: those routes read it whole. */
function compressionSettings(config: EffectiveConfig['routes'][number]['compression']) {
  if (config === undefined) return undefined;
  return resolveCompressionSettings({
    encodings: config.encodings,
    minBytes: config.min_bytes,
    contentTypes: config.content_types,
    levels: config.levels,
    sse: config.sse,
    requestEncodings: config.request_encodings,
  });
}

function readsBodyWhole(route: EffectiveConfig['routes'][number], chain: readonly UpstreamGroup[]): boolean {
  if (route.retry !== undefined || route.hedge !== undefined || (route.failover?.length ?? 0) > 0)
    return true;
  return chain.some((group) => group.targets.some((target) => target.models !== undefined));
}

export class Generation {
  readonly config: EffectiveConfig;
  readonly routes: readonly CompiledRoute[];
  /** Every target runtime this generation holds, released when it retires. */
  private readonly targets: readonly TargetRuntime[];
  private inFlight = 0;
  private retired = false;
  private readonly registry: UpstreamRegistry;
  private onDrained: (() => void) | undefined;

  private readonly tracker: DrainTracker;

  constructor(config: EffectiveConfig, deps: GenerationDeps) {
    const { registry, telemetry, resolveUrl, cache, traffic } = deps;
    traffic.configure(config);
    const { priority_classes: classes, default_output_tokens: defaultOutputTokens } = config.limits;
    // Requests of routes that name no class: 'default' when configured, else the lowest class.
    const defaultClass = classes.includes('default') ? 'default' : classes[classes.length - 1]!;
    this.config = config;
    this.registry = registry;
    this.tracker = deps.tracker;
    const byUpstream = new Map<string, TargetRuntime[]>();
    const all: TargetRuntime[] = [];
    try {
      for (const [name, upstreamConfig] of Object.entries(config.upstreams)) {
        if (!upstreamConfig) continue;
        const targets = targetsOf(name, upstreamConfig).map((target) =>
          registry.acquire(name, upstreamConfig, target, resolveUrl(target.url)),
        );
        all.push(...targets);
        byUpstream.set(name, targets);
      }
    } catch (error) {
      for (const target of all) void registry.release(target);
      throw error;
    }
    this.targets = all;
    const groups = deps.groups.configure(config, byUpstream);
    const { max_body_bytes: bodyLimit, trusted_hops: trustedHops } = config.listener;
    this.routes = config.routes.map((route) => {
      const chain = [route.upstream, ...(route.failover ?? [])].map((name) => {
        const group = groups.get(name);
        if (!group) throw new Error(`route "${route.name}" names unknown upstream "${name}"`);
        return group;
      });
      const runtime: RouteRuntime = {
        name: route.name,
        protocol: route.protocol,
        upstreamName: route.upstream,
        websocket: route.websocket,
        stripPrefix: route.strip_prefix,
        compression: compressionSettings(route.compression),
      };
      const llmProtocol = route.protocol === 'passthrough' ? undefined : route.protocol;
      const upstreamCall = upstreamCallStage(
        { route, chain, events: deps.groups.eventsFor(route.name) },
        bodyLimit,
        trustedHops,
      );
      // The HTTP cache sits before the LLM stage, so its answers are not counted as LLM usage, and
      // gets the upstream call itself for revalidations made after the client was answered.
      const httpCache = route.http_cache
        ? [httpCacheStage(new HttpCache(cache, route.name, route.http_cache), upstreamCall)]
        : [];
      const rateLimits =
        route.rate_limits || route.max_tokens
          ? [
              rateLimitStage(
                {
                  route: route.name,
                  policies: route.rate_limits ?? [],
                  maxTokens: route.max_tokens,
                  defaultOutputTokens,
                },
                traffic,
                telemetry.metrics,
                telemetry.logger,
              ),
            ]
          : [];
      const limited =
        route.concurrency !== undefined || config.upstreams[route.upstream]?.concurrency !== undefined;
      const concurrency = limited
        ? [
            concurrencyStage(
              {
                route: route.name,
                upstream: route.upstream,
                routeLimiter: () => traffic.limiter('route', route.name),
                upstreamLimiter: () => traffic.limiter('upstream', route.upstream),
                priority: route.priority,
                defaultClass,
              },
              telemetry.metrics,
            ),
          ]
        : [];
      const stages = [
        requestBodyStage(bodyLimit, llmProtocol !== undefined || readsBodyWhole(route, chain)),
        ...rateLimits,
        ...(route.cache || route.dedupe ? [cacheStage(cache, route.cache, route.dedupe)] : []),
        ...httpCache,
        ...concurrency,
        ...(llmProtocol && config.llm.accounting ? [llmStage(llmProtocol, route.ensure_stream_usage)] : []),
        upstreamCall,
      ];
      return {
        runtime,
        chain,
        matches: compileMatch(route.match),
        pipeline: compose(stages, telemetry.metrics.stageDuration, route.name),
      };
    });
  }

  enter(): void {
    this.inFlight++;
    this.tracker.enter();
  }

  leave(): void {
    this.tracker.leave();
    if (--this.inFlight === 0 && this.retired) this.onDrained?.();
  }

  /** Called when a newer generation took over: closes unused pools once the last request left. */
  retire(): Promise<void> {
    this.retired = true;
    const drained =
      this.inFlight === 0
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            this.onDrained = resolve;
          });
    return drained.then(async () => {
      await Promise.all(this.targets.map((target) => this.registry.release(target)));
    });
  }

  get requestsInFlight(): number {
    return this.inFlight;
  }
}
