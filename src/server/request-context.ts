/** Builds the ProxyContext for a request: ids, path split, client address, abort signal, span. */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  INVALID_SPAN_CONTEXT,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  trace,
} from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { LlmExchange } from '../llm/exchange.ts';
import { type JsonObject, parseJsonObject } from '../llm/json.ts';
import type { ExchangeEnd, ProxyContext, ResponseDraft, RouteRuntime, Timings } from '../pipeline/context.ts';
import { clientIp } from './forwarded.ts';

const tracer = trace.getTracer('sluice');
const disabledSpan = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/** Accept the caller's request id when it is a sane token; otherwise mint one. */
const acceptableRequestId = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

export function requestIdFor(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && acceptableRequestId.test(given) ? given : randomUUID();
}

export function newTimings(start: number): Timings {
  return {
    start,
    clientBodyWaitMs: 0,
    upstreamDispatch: 0,
    upstreamRetryWaitMs: 0,
    upstreamConnected: 0,
    upstreamHeaders: 0,
    upstreamEnd: 0,
    responseStart: 0,
    responseEnd: 0,
  };
}

export function startServerSpan(req: IncomingMessage, method: string, path: string, enabled: boolean): Span {
  if (!enabled) return disabledSpan;
  return tracer.startSpan(
    method,
    {
      kind: SpanKind.SERVER,
      attributes: {
        'http.request.method': method,
        'url.path': path,
        'network.protocol.version': req.httpVersion,
        'user_agent.original': req.headers['user-agent'] ?? '',
      },
    },
    propagation.extract(ROOT_CONTEXT, req.headers),
  );
}

export interface ContextInit {
  req: IncomingMessage;
  res: ServerResponse;
  start: number;
  methodLabel: string;
  path: string;
  search: string;
  trustedHops: number;
  route: RouteRuntime;
  logger: Logger;
  span: Span;
  controller: AbortController;
}

/** A class so every request context has one shape; the per-request child logger is made on first use. */
class RequestContext implements ProxyContext {
  readonly requestId: string;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly methodLabel: string;
  readonly path: string;
  readonly search: string;
  readonly clientIp: string;
  readonly signal: AbortSignal;
  upstreamSignal: AbortSignal;
  readonly span: Span;
  readonly timings: Timings;
  route: RouteRuntime;
  requestBody: Buffer | undefined = undefined;
  requestBodyBytes = 0;
  response: ResponseDraft | undefined = undefined;
  upstreamName = '';
  upstreamTarget = '';
  llm: LlmExchange | undefined = undefined;
  private readonly baseLogger: Logger;
  private childLogger: Logger | undefined;
  private endCallbacks: ((end: ExchangeEnd) => void)[] | undefined = undefined;
  private parsedBody: Buffer | undefined = undefined;
  private parsedJson: JsonObject | undefined = undefined;

  constructor(init: ContextInit) {
    this.req = init.req;
    this.res = init.res;
    this.requestId = requestIdFor(init.req);
    this.methodLabel = init.methodLabel;
    this.path = init.path;
    this.search = init.search;
    this.clientIp = clientIp(init.req, init.trustedHops);
    this.signal = init.controller.signal;
    this.upstreamSignal = this.signal;
    this.span = init.span;
    this.timings = newTimings(init.start);
    this.route = init.route;
    this.baseLogger = init.logger;
  }

  requestJson(): JsonObject | undefined {
    const body = this.requestBody;
    if (body !== this.parsedBody) {
      this.parsedBody = body;
      this.parsedJson = parseJsonObject(body);
    }
    return this.parsedJson;
  }

  onEnd(callback: (end: ExchangeEnd) => void): void {
    this.endCallbacks ??= [];
    this.endCallbacks.push(callback);
  }

  /** Called by the listener, once. A callback that throws is logged; the others still run. */
  endExchange(end: ExchangeEnd): void {
    const callbacks = this.endCallbacks;
    if (callbacks === undefined) return;
    this.endCallbacks = undefined;
    for (const callback of callbacks) {
      try {
        callback(end);
      } catch (error) {
        this.log.error({ err: error }, 'exchange-end callback failed');
      }
    }
  }

  get log(): Logger {
    this.childLogger ??= this.baseLogger.child({ request_id: this.requestId, route: this.route.name });
    return this.childLogger;
  }
}

/** The context as the listener holds it: it also ends the exchange. */
export interface ListenerContext extends ProxyContext {
  endExchange(end: ExchangeEnd): void;
}

export function createContext(init: ContextInit): ListenerContext {
  return new RequestContext(init);
}
