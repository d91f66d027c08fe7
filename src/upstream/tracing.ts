/**
 * The CLIENT span of one upstream attempt (OpenTelemetry HTTP semantic conventions). Only built
 * when the request's server span records, i.e. an OTel SDK is registered and sampled this trace;
 * otherwise the client's own `traceparent` passes through untouched as an end-to-end header.
 */
import { context, propagation, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { ProxyContext } from '../pipeline/context.ts';
import type { TargetRuntime } from './target.ts';

const tracer = trace.getTracer('sluice');

export function startClientSpan(
  ctx: ProxyContext,
  target: TargetRuntime,
  method: string,
  path: string,
  headers: Record<string, string | string[]>,
): Span | undefined {
  if (!ctx.span.isRecording()) return undefined;
  const url = new URL(path, target.origin);
  const span = tracer.startSpan(
    method,
    {
      kind: SpanKind.CLIENT,
      attributes: {
        'http.request.method': method,
        'server.address': url.hostname,
        'server.port': Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
        'url.full': `${url.origin}${url.pathname}`,
        'sluice.upstream': target.upstream,
        'sluice.upstream.target': target.name,
      },
    },
    trace.setSpan(context.active(), ctx.span),
  );
  propagation.inject(trace.setSpan(context.active(), span), headers);
  return span;
}

export function endClientSpan(span: Span | undefined, status: number | undefined, error?: string): void {
  if (!span) return;
  if (status !== undefined) span.setAttribute('http.response.status_code', status);
  if (error || (status !== undefined && status >= 500)) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: error ?? String(status) });
    if (error) span.setAttribute('error.type', error);
  }
  span.end();
}
