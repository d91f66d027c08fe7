/**
 * One request's way through the mock: count it, read the body, route, draw faults, wait the planned
 * latency, then hand over to the route's handler. The outcome (completed / aborted / reset) is
 * decided once, when the response closes, and reported as an event and in the stats.
 */
import type { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendProtocolError } from './errors.ts';
import { type FaultPlan, MockHeaderError, planFaults } from './faults.ts';
import type { MockLlmOptions } from './options.ts';
import type { Random } from './random.ts';
import { BODY_TOO_LARGE, readRequestBody } from './request-body.ts';
import { sleepUnlessClosed } from './respond.ts';
import { protocolFor, type Router } from './router.ts';
import { holdHeadAfterStatusLine } from './slow-headers.ts';
import { countOutcome, countStart } from './stats.ts';
import type { MockLlmEvents, MockRequestInfo, MockStats } from './types.ts';

export interface MockServerState {
  /** Replaced as a whole by `setFaults`; each request reads it once, on arrival. */
  options: Readonly<MockLlmOptions>;
  readonly router: Router;
  readonly random: Random;
  readonly stats: MockStats;
  readonly events: EventEmitter<MockLlmEvents>;
  requestCount: number;
}

const EMPTY_BODY = Buffer.alloc(0);

function settle(state: MockServerState, info: MockRequestInfo, res: ServerResponse): void {
  const outcome = info.outcome ?? (res.writableFinished ? 'completed' : 'aborted');
  info.outcome = outcome;
  countOutcome(state.stats, info.path, outcome);
  state.events.emit(outcome === 'completed' ? 'complete' : outcome, info);
}

function parseJson(body: Buffer): { value: unknown } | { error: string } {
  try {
    return { value: JSON.parse(body.toString('utf8')) };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

export async function handleMockRequest(state: MockServerState, req: IncomingMessage, res: ServerResponse) {
  const id = ++state.requestCount;
  // One consistent set for the whole request, even when setFaults runs while it is in progress.
  const { options } = state;
  const url = req.url ?? '/';
  const queryStart = url.indexOf('?');
  const path = queryStart === -1 ? url : url.slice(0, queryStart);
  const info: MockRequestInfo = {
    id,
    method: req.method ?? 'GET',
    path,
    headers: req.headers,
    body: EMPTY_BODY,
    status: undefined,
    bytesSent: 0,
    eventsSent: 0,
    outcome: undefined,
  };
  countStart(state.stats, path);
  res.once('close', () => settle(state, info, res));
  res.setHeader('x-mock-request-id', id);

  const protocol = protocolFor(path, req.headers);
  const body = await readRequestBody(req, options.maxBodyBytes);
  if (body === undefined) return;
  if (body === BODY_TOO_LARGE) {
    const message = `Request body is larger than the mock accepts (${options.maxBodyBytes} bytes).`;
    return sendProtocolError(res, info, protocol, 413, message, { closeConnection: true });
  }
  info.body = body;
  state.events.emit('request', info);

  const match = state.router(info.method, path);
  if (match.kind === 'not-found') {
    return sendProtocolError(res, info, protocol, 404, `Unknown path: ${info.method} ${path}`);
  }
  if (match.kind === 'method-not-allowed') {
    res.setHeader('allow', match.allow);
    return sendProtocolError(res, info, protocol, 405, `${path} accepts ${match.allow}, not ${info.method}.`);
  }

  let plan: FaultPlan;
  try {
    plan = planFaults(req.headers, options, state.random);
  } catch (error) {
    if (!(error instanceof MockHeaderError)) throw error;
    return sendProtocolError(res, info, protocol, 400, error.message);
  }
  if (plan.latencyMs > 0 && !(await sleepUnlessClosed(res, plan.latencyMs))) return;
  if (plan.slowHeadersMs > 0) holdHeadAfterStatusLine(res, plan.slowHeadersMs);
  if (plan.status !== undefined) {
    const message = `The mock LLM injected a ${plan.status} (x-mock-status or errorRate).`;
    return sendProtocolError(res, info, protocol, plan.status, message, {
      reset: plan.resetAfter,
      retryAfterSeconds: options.retryAfterSeconds,
    });
  }

  let json: unknown;
  if (match.readsJson) {
    const parsed = parseJson(body);
    if ('error' in parsed) {
      return sendProtocolError(
        res,
        info,
        protocol,
        400,
        `The request body is not valid JSON: ${parsed.error}`,
      );
    }
    json = parsed.value;
  }
  await match.handler({ req, res, info, plan, options, protocol, json, pathParam: match.pathParam });
}
