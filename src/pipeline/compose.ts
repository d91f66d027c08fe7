/**
 * The one composition point for request stages. A stage either answers (sets `ctx.response` and
 * returns) or calls `await next()` and may work on the response on its way back. The composer
 * times each stage, opens its span when tracing records, and maps anything a stage throws to the
 * error catalog, so stages carry no metrics, tracing or error-rendering code of their own.
 */
import { Readable } from 'node:stream';
import { context, type Span, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Histogram } from 'prom-client';
import { hotHistogram } from '../telemetry/hot-children.ts';
import type { ProxyContext } from './context.ts';
import { renderError, SluiceError } from './errors.ts';

export type Next = () => Promise<void>;

export interface Stage {
  /** The `stage` label on timings and the span name. */
  readonly name: string;
  run(ctx: ProxyContext, next: Next): Promise<void>;
}

export type Pipeline = (ctx: ProxyContext) => Promise<void>;

const tracer = trace.getTracer('sluice');

/** Errors a stage did not expect become `internal_error`; the cause goes to the log, never to the client. */
export function toSluiceError(error: unknown): SluiceError {
  return error instanceof SluiceError ? error : new SluiceError('internal_error', { cause: error });
}

/** Replaces `ctx.response` with the rendered error, in the route protocol's shape. */
export function answerWithError(ctx: ProxyContext, error: SluiceError): void {
  const previous = ctx.response?.body;
  if (previous instanceof Readable) previous.destroy();
  const rendered = renderError(error, ctx.route.protocol, ctx.requestId);
  ctx.response = { status: rendered.status, headers: rendered.headers, body: rendered.body };
}

function stageSpan(ctx: ProxyContext, name: string): Span | undefined {
  if (!ctx.span.isRecording()) return undefined;
  return tracer.startSpan(`sluice.stage ${name}`, {}, trace.setSpan(context.active(), ctx.span));
}

/**
 * Builds the pipeline for one route. `stageSeconds` receives each stage's own time: its time minus
 * the time spent in the stages after it.
 */
export function compose(
  stages: readonly Stage[],
  stageSeconds: Histogram<'route' | 'stage'>,
  route: string,
): Pipeline {
  const timers = stages.map((stage) => hotHistogram(stageSeconds, [route, stage.name]));
  return async function run(ctx: ProxyContext): Promise<void> {
    let nestedMs = 0;
    const dispatch = async (index: number): Promise<void> => {
      const stage = stages[index];
      if (stage === undefined) return;
      const started = performance.now();
      const nestedBefore = nestedMs;
      const span = stageSpan(ctx, stage.name);
      try {
        await stage.run(ctx, () => dispatch(index + 1));
      } catch (error) {
        const mapped = toSluiceError(error);
        if (mapped.code === 'internal_error')
          ctx.log.error({ err: error, stage: stage.name }, 'stage failed');
        span?.setStatus({ code: SpanStatusCode.ERROR, message: mapped.code });
        answerWithError(ctx, mapped);
      } finally {
        span?.end();
        const elapsed = performance.now() - started;
        const own = elapsed - (nestedMs - nestedBefore);
        nestedMs = nestedBefore + elapsed;
        timers[index]!.observe(own / 1000);
      }
    };
    await dispatch(0);
  };
}
