/**
 * The client-facing request handler: make the context, pick the route, run its pipeline, write the
 * response, account for it when the exchange ends. Everything route-specific is in the pipeline.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { answerWithError, toSluiceError } from '../pipeline/compose.ts';
import type { ProxyContext, RouteRuntime } from '../pipeline/context.ts';
import { SluiceError } from '../pipeline/errors.ts';
import { methodLabel } from '../telemetry/metrics.ts';
import type { Telemetry } from '../telemetry/telemetry.ts';
import type { Accounting } from './accounting.ts';
import type { Generation } from './generation.ts';
import { createContext, startServerSpan } from './request-context.ts';
import { type ResponseCounters, writeResponse } from './respond.ts';
import { findRoute, hostWithoutPort } from './router.ts';

export interface ProxyState {
  current(): Generation;
  isDraining(): boolean;
  readonly telemetry: Telemetry;
  readonly accounting: Accounting;
}

/** The pseudo-route of requests no route takes: their metrics and errors still need a route label. */
export const unmatchedRoute: RouteRuntime = {
  name: 'unmatched',
  protocol: 'passthrough',
  upstreamName: '',
  websocket: false,
  stripPrefix: undefined,
  compression: undefined,
};

/** Dot segments (also percent-encoded) could slip past a prefix match and be resolved upstream. */
function hasDotSegment(path: string): boolean {
  if (!path.includes('.') && !path.includes('%')) return false;
  const decoded = path.replace(/%2e/gi, '.');
  return /(^|\/)\.\.?(\/|$)/.test(decoded);
}

export function splitTarget(url: string): { path: string; search: string } {
  let target = url;
  if (!target.startsWith('/')) {
    try {
      const absolute = new URL(target);
      target = `${absolute.pathname}${absolute.search}`;
    } catch {
      return { path: target, search: '' };
    }
  }
  const q = target.indexOf('?');
  return q === -1 ? { path: target, search: '' } : { path: target.slice(0, q), search: target.slice(q) };
}

function outcomeError(ctx: ProxyContext, streamError: Error | undefined): string | undefined {
  if (streamError) return toSluiceError(streamError).code;
  const header = ctx.response?.headers['x-sluice-error'];
  return typeof header === 'string' ? header.slice('sluice_'.length) : undefined;
}

export function createProxyHandler(state: ProxyState) {
  return function handle(req: IncomingMessage, res: ServerResponse): void {
    const start = performance.now();
    const generation = state.current();
    generation.enter();
    const { listener, telemetry } = generation.config;
    const method = req.method ?? 'GET';
    const { path, search } = splitTarget(req.url ?? '/');
    const compiled = findRoute(generation.routes, method, hostWithoutPort(req.headers.host), path);
    const controller = new AbortController();
    const ctx = createContext({
      req,
      res,
      start,
      methodLabel: methodLabel(method),
      path,
      search,
      trustedHops: listener.trusted_hops,
      route: compiled?.runtime ?? unmatchedRoute,
      logger: state.telemetry.logger,
      span: startServerSpan(req, method, path, telemetry.tracing),
      controller,
    });
    const counters: ResponseCounters = { bytesOut: 0 };
    state.accounting.started(ctx.route.name);
    if (state.isDraining()) res.shouldKeepAlive = false;

    res.once('close', () => {
      // Set only when the upstream body failed first; a client that leaves also errors the pipeline.
      const streamError = counters.upstreamBodyError;
      const clientAborted = !res.writableFinished && streamError === undefined;
      if (!res.writableFinished) {
        controller.abort(new SluiceError('client_closed_request'));
        // Stops the upstream transfer of a response the client will not read.
        const body = ctx.response?.body;
        if (body instanceof Readable && !body.readableEnded) body.destroy();
      }
      const status = clientAborted ? 499 : res.statusCode;
      const llm = state.accounting.finished(ctx, {
        code: status,
        bytesOut: counters.bytesOut,
        compression: counters.compression,
        error: clientAborted ? 'client_closed_request' : outcomeError(ctx, streamError),
        clientAborted,
      });
      ctx.endExchange({ status, clientAborted, upstreamAnswered: ctx.timings.upstreamHeaders !== 0, llm });
      generation.leave();
    });

    if (!compiled) {
      answerWithError(ctx, new SluiceError('route_not_found', { detail: `(${method} ${path})` }));
      writeResponse(ctx, listener.server_timing, counters);
      return;
    }
    if (hasDotSegment(path)) {
      answerWithError(
        ctx,
        new SluiceError('bad_request', { detail: 'Dot segments (. or ..) are not allowed in the path.' }),
      );
      writeResponse(ctx, listener.server_timing, counters);
      return;
    }
    compiled.pipeline(ctx).then(
      () => writeResponse(ctx, listener.server_timing, counters),
      (error: unknown) => {
        ctx.log.error({ err: error }, 'pipeline failed');
        answerWithError(ctx, toSluiceError(error));
        writeResponse(ctx, listener.server_timing, counters);
      },
    );
  };
}
