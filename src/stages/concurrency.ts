/**
 * The concurrency stage of routes whose route or upstream has `concurrency`: a slot from the
 * route's limiter, then from the upstream's (always in that order, so two requests never hold one
 * each while waiting for the other's), held until the exchange ends — after the last byte of a
 * stream. It sits after the cache, so answers from memory never wait for a slot. A full queue or a
 * wait past the queue's timeout is 503 with Retry-After.
 */

import type { ReleaseOutcome } from '../concurrency/adaptive-limit.ts';
import { type ConcurrencyLimiter, ConcurrencyRejection, type Permit } from '../concurrency/concurrency.ts';
import type { DeepReadonly } from '../config/freeze.ts';
import type { RoutePriorityConfig } from '../config/types.generated.ts';
import type { Stage } from '../pipeline/compose.ts';
import type { ExchangeEnd, ProxyContext } from '../pipeline/context.ts';
import { SluiceError } from '../pipeline/errors.ts';
import { retryAfterSeconds } from '../ratelimit/rate-headers.ts';
import type { Metrics } from '../telemetry/metrics.ts';

export interface ConcurrencySlots {
  readonly route: string;
  readonly upstream: string;
  readonly routeLimiter: () => ConcurrencyLimiter | undefined;
  readonly upstreamLimiter: () => ConcurrencyLimiter | undefined;
  readonly priority: DeepReadonly<RoutePriorityConfig> | undefined;
  readonly defaultClass: string;
}

function priorityClass(ctx: ProxyContext, priority: ConcurrencySlots['priority'], fallback: string): string {
  const base = priority?.class ?? fallback;
  if (priority?.header === undefined) return base;
  const value = ctx.req.headers[priority.header.toLowerCase()];
  return (typeof value === 'string' ? priority.header_classes[value] : undefined) ?? base;
}

/** What a finished exchange says about the upstream's load (see docs/traffic-control.md). */
function outcomeOf(ctx: ProxyContext, end: ExchangeEnd): ReleaseOutcome {
  const t = ctx.timings;
  if (end.upstreamAnswered) {
    const status = ctx.response?.status ?? end.status;
    if (status === 429 || status === 503) return { kind: 'dropped' };
    return { kind: 'success', latencyMs: t.upstreamHeaders - t.upstreamDispatch };
  }
  // No answer from the upstream: a timeout or refused connection is overload; a client leaving is not.
  const error = ctx.response?.headers['x-sluice-error'];
  return typeof error === 'string' && error.startsWith('sluice_upstream_')
    ? { kind: 'dropped' }
    : { kind: 'ignore' };
}

export function concurrencyStage(slots: ConcurrencySlots, metrics: Metrics): Stage {
  const acquire = async (
    ctx: ProxyContext,
    limiter: ConcurrencyLimiter,
    scope: 'route' | 'upstream',
    name: string,
    wanted: string,
  ): Promise<Permit> => {
    try {
      const permit = await limiter.acquire(wanted, ctx.signal);
      metrics.concurrencyQueueWait.labels(scope, name, permit.priorityClass).observe(permit.waitedMs / 1000);
      return permit;
    } catch (error) {
      if (!(error instanceof ConcurrencyRejection)) throw error;
      metrics.concurrencyQueueWait.labels(scope, name, error.priorityClass).observe(error.waitedMs / 1000);
      if (error.reason === 'aborted') throw new SluiceError('client_closed_request');
      throw new SluiceError(error.reason, {
        detail: `(${scope} ${name}, class ${error.priorityClass})`,
        headers: { 'retry-after': String(retryAfterSeconds(error.retryAfterMs)) },
      });
    }
  };

  return {
    name: 'concurrency',
    async run(ctx, next) {
      const wanted = priorityClass(ctx, slots.priority, slots.defaultClass);
      const permits: Permit[] = [];
      let ended = false;
      // Held until the exchange ends; released in reverse order of taking.
      ctx.onEnd((end) => {
        ended = true;
        const outcome = outcomeOf(ctx, end);
        for (const permit of permits.reverse()) permit.release(outcome);
      });
      // A slot granted in the same tick as the client left arrives after the exchange ended: give it back.
      const hold = (permit: Permit): void => {
        if (ended) {
          permit.release({ kind: 'ignore' });
          throw new SluiceError('client_closed_request');
        }
        permits.push(permit);
      };
      const routeLimiter = slots.routeLimiter();
      if (routeLimiter) hold(await acquire(ctx, routeLimiter, 'route', slots.route, wanted));
      const upstreamLimiter = slots.upstreamLimiter();
      if (upstreamLimiter) hold(await acquire(ctx, upstreamLimiter, 'upstream', slots.upstream, wanted));
      await next();
    },
  };
}
