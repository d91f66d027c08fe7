/**
 * What happens once per request when it ends: metrics, the access-log line, the span's end.
 * Hot children are cached per label set, so the hot path does one Map lookup instead of
 * prom-client's label hashing for each of the several metrics a request touches.
 */
import { SpanStatusCode } from '@opentelemetry/api';
import type { DestinationStream, Logger } from 'pino';
import { LlmAccounting, type LlmSummary } from '../llm/llm-accounting.ts';
import type { ProxyContext } from '../pipeline/context.ts';
import { accessLogLine } from '../telemetry/access-log.ts';
import {
  type HotCounter,
  type HotGauge,
  type HotHistogram,
  hotCounter,
  hotGauge,
  hotHistogram,
} from '../telemetry/hot-children.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { overheadMs } from './respond.ts';
import type { CompressionOutcome } from './respond-compressed.ts';

interface RequestSeries {
  readonly requests: HotCounter;
  readonly duration: HotHistogram;
}

interface RouteSeries {
  readonly inFlight: HotGauge;
  readonly requestBytes: HotCounter;
  readonly responseBytes: HotCounter;
  readonly overhead: HotHistogram;
  readonly clientAborts: HotCounter;
  /** By upstream, method and status code: nested maps, so the hot path builds no key string. */
  readonly byOutcome: Map<string, Map<string, Map<number, RequestSeries>>>;
}

interface UpstreamSeries {
  readonly timeToHeaders: HotHistogram;
  readonly duration: HotHistogram;
}

const seconds = (milliseconds: number) => milliseconds / 1000;
/** Microsecond precision is plenty for a log line and keeps it short. */
const millis = (milliseconds: number) => Math.round(milliseconds * 1000) / 1000;

export interface Outcome {
  /** The status the client got; 499 when it went away first. */
  readonly code: number;
  readonly bytesOut: number;
  /** What compression did, on routes with `compression`. */
  readonly compression?: CompressionOutcome | undefined;
  /** A Sluice error code when the response broke off or was answered by Sluice. */
  readonly error: string | undefined;
  readonly clientAborted: boolean;
}

function cacheStatus(ctx: ProxyContext): string | undefined {
  const status = ctx.response?.headers['x-sluice-cache'];
  return typeof status === 'string' ? status : undefined;
}

export class Accounting {
  private readonly metrics: Metrics;
  private readonly routeSeries = new Map<string, RouteSeries>();
  private readonly upstreamSeries = new Map<string, UpstreamSeries>();
  private readonly poolWait = new Map<string, HotHistogram>();
  private readonly logger: Logger;
  /** Where access-log lines go: the logger's own destination, so lines stay in order with pino's. */
  private readonly destination: DestinationStream;
  /** Follows `telemetry.access_log` of the current config. */
  accessLog: boolean;
  /** Kept across config generations, so the bound on model labels holds across reloads. */
  readonly llm: LlmAccounting;

  constructor(metrics: Metrics, logger: Logger, destination: DestinationStream, accessLog: boolean) {
    this.metrics = metrics;
    this.logger = logger;
    this.destination = destination;
    this.accessLog = accessLog;
    this.llm = new LlmAccounting(metrics);
  }

  route(route: string): RouteSeries {
    let series = this.routeSeries.get(route);
    if (!series) {
      const m = this.metrics;
      series = {
        inFlight: hotGauge(m.requestsInFlight, [route]),
        requestBytes: hotCounter(m.requestBytes, [route]),
        responseBytes: hotCounter(m.responseBytes, [route]),
        overhead: hotHistogram(m.overhead, [route]),
        clientAborts: hotCounter(m.clientAborts, [route]),
        byOutcome: new Map(),
      };
      this.routeSeries.set(route, series);
    }
    return series;
  }

  private request(
    routeSeries: RouteSeries,
    route: string,
    upstream: string,
    method: string,
    code: number,
  ): RequestSeries {
    let byMethod = routeSeries.byOutcome.get(upstream);
    if (!byMethod) {
      byMethod = new Map();
      routeSeries.byOutcome.set(upstream, byMethod);
    }
    let byCode = byMethod.get(method);
    if (!byCode) {
      byCode = new Map();
      byMethod.set(method, byCode);
    }
    let series = byCode.get(code);
    if (!series) {
      const labels = [route, upstream, method, String(code)] as const;
      series = {
        requests: hotCounter(this.metrics.requests, labels),
        duration: hotHistogram(this.metrics.requestDuration, labels),
      };
      byCode.set(code, series);
    }
    return series;
  }

  private upstream(upstream: string, code: number): UpstreamSeries {
    const key = `${upstream}\u0000${code}`;
    let series = this.upstreamSeries.get(key);
    if (!series) {
      series = {
        timeToHeaders: hotHistogram(this.metrics.upstreamTimeToHeaders, [upstream, String(code)]),
        duration: hotHistogram(this.metrics.upstreamDuration, [upstream, String(code)]),
      };
      this.upstreamSeries.set(key, series);
    }
    return series;
  }

  private poolWaitFor(upstream: string): HotHistogram {
    let child = this.poolWait.get(upstream);
    if (!child) {
      child = hotHistogram(this.metrics.upstreamPoolWait, [upstream]);
      this.poolWait.set(upstream, child);
    }
    return child;
  }

  started(route: string): void {
    this.route(route).inFlight.inc();
  }

  private compression(route: string, outcome: CompressionOutcome, bytesOut: number): void {
    const { compressionResponses, compressionBytes } = this.metrics;
    compressionResponses.labels(route, outcome.result).inc();
    if (outcome.encoding === undefined || outcome.bytesIn === 0) return;
    compressionBytes.labels(route, outcome.encoding, 'in').inc(outcome.bytesIn);
    compressionBytes.labels(route, outcome.encoding, 'out').inc(bytesOut);
  }

  /** Records the exchange; returns what the LLM accounting read from it, if anything. */
  finished(ctx: ProxyContext, outcome: Outcome): LlmSummary | undefined {
    const t = ctx.timings;
    const end = performance.now();
    t.responseEnd = end;
    const route = ctx.route.name;
    const routeSeries = this.route(route);
    routeSeries.inFlight.dec();
    const totalMs = end - t.start;
    const request = this.request(routeSeries, route, ctx.upstreamName, ctx.methodLabel, outcome.code);
    request.requests.inc();
    request.duration.observe(seconds(totalMs));
    if (ctx.requestBodyBytes > 0) routeSeries.requestBytes.inc(ctx.requestBodyBytes);
    if (outcome.bytesOut > 0) routeSeries.responseBytes.inc(outcome.bytesOut);
    if (outcome.compression !== undefined) this.compression(route, outcome.compression, outcome.bytesOut);
    const overhead = overheadMs(ctx, t.responseStart === 0 ? end : t.responseStart);
    routeSeries.overhead.observe(seconds(overhead));
    if (outcome.clientAborted) routeSeries.clientAborts.inc();

    let upstreamMs: number | undefined;
    if (t.upstreamDispatch !== 0) {
      if (t.upstreamConnected !== 0)
        this.poolWaitFor(ctx.upstreamName).observe(seconds(t.upstreamConnected - t.upstreamDispatch));
      const upstreamCode = t.upstreamHeaders !== 0 ? (ctx.response?.status ?? 0) : 0;
      if (t.upstreamHeaders !== 0) {
        const series = this.upstream(ctx.upstreamName, upstreamCode);
        series.timeToHeaders.observe(seconds(t.upstreamHeaders - t.upstreamDispatch));
        if (t.upstreamEnd !== 0) series.duration.observe(seconds(t.upstreamEnd - t.upstreamDispatch));
        upstreamMs = millis((t.upstreamEnd || end) - t.upstreamDispatch);
      }
      if (outcome.error?.startsWith('upstream_'))
        this.metrics.upstreamErrors.labels(ctx.upstreamName, outcome.error).inc();
    }
    if (
      outcome.error &&
      !outcome.error.startsWith('upstream_') &&
      outcome.error !== 'client_closed_request'
    ) {
      this.metrics.rejections.labels(route, outcome.error).inc();
    }

    const llm: LlmSummary | undefined =
      ctx.llm === undefined
        ? undefined
        : this.llm.finished(ctx, ctx.llm, {
            code: outcome.code,
            error: outcome.error,
            clientAborted: outcome.clientAborted,
            end,
          });

    const span = ctx.span;
    if (span.isRecording()) {
      span.setAttribute('http.response.status_code', outcome.code);
      span.setAttribute('http.route', route);
      if (outcome.code >= 500 || outcome.error)
        span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.error ?? String(outcome.code) });
    }
    span.end();

    if (this.accessLog && this.logger.isLevelEnabled('info')) {
      this.destination.write(
        accessLogLine({
          request_id: ctx.requestId,
          route,
          method: ctx.req.method ?? '',
          path: ctx.path,
          status: outcome.code,
          upstream: ctx.upstreamName || undefined,
          duration_ms: millis(totalMs),
          upstream_ms: upstreamMs,
          overhead_ms: millis(overhead),
          bytes_in: ctx.requestBodyBytes,
          bytes_out: outcome.bytesOut,
          client_ip: ctx.clientIp,
          error: outcome.error,
          cache: cacheStatus(ctx),
          llm,
        }),
      );
    }
    return llm;
  }
}
