/**
 * Writing responses: JSON with content-length, SSE with gaps and backpressure, and the injected
 * connection cut. Everything written is counted on the request's info for the events and stats.
 */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { type FaultPlan, RESET_BEFORE_HEADERS, resetPoint } from './faults.ts';
import type { MockExchange, MockRequestInfo } from './types.ts';

const SSE_HEADERS: OutgoingHttpHeaders = Object.freeze({
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
});

/** With no gap, events are joined into writes of about this size: few syscalls, bounded memory. */
const WRITE_BATCH_CHARS = 16 * 1024;

/** Resolves true after `ms`, or false as soon as the response closes (the client went away). */
export function sleepUnlessClosed(res: ServerResponse, ms: number): Promise<boolean> {
  if (res.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onClose = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      res.off('close', onClose);
      resolve(!res.destroyed);
    }, ms);
    res.once('close', onClose);
  });
}

/** Resolves true when the socket can take more, false if the response closed instead. */
function drainedOrClosed(res: ServerResponse): Promise<boolean> {
  return new Promise((resolve) => {
    const settle = (drained: boolean) => () => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(drained);
    };
    const onDrain = settle(true);
    const onClose = settle(false);
    res.once('drain', onDrain);
    res.once('close', onClose);
  });
}

/**
 * The injected fault: close the connection without finishing the response. `end()` first flushes
 * what was written, so the client receives exactly the bytes counted, then sees the connection close.
 */
function cutConnection(res: ServerResponse, info: MockRequestInfo): void {
  info.outcome = 'reset';
  const socket = res.socket;
  if (!socket) return;
  socket.end(() => socket.destroy());
}

export function sendJson(
  res: ServerResponse,
  info: MockRequestInfo,
  status: number,
  body: string,
  headers: OutgoingHttpHeaders = {},
  reset: FaultPlan['resetAfter'] = undefined,
): void {
  if (reset === RESET_BEFORE_HEADERS) {
    cutConnection(res, info);
    return;
  }
  info.status = status;
  if (reset === undefined) {
    const length = Buffer.byteLength(body);
    res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': length });
    info.bytesSent = length;
    res.end(body);
    return;
  }
  const bytes = Buffer.from(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': bytes.length });
  const sent = bytes.subarray(0, reset);
  info.bytesSent = sent.length;
  if (sent.length > 0) res.write(sent);
  else res.flushHeaders();
  cutConnection(res, info);
}

/** A handler's JSON answer, with the request's fault plan applied. */
export function sendJsonValue(exchange: MockExchange, value: unknown): void {
  sendJsonText(exchange, JSON.stringify(value));
}

/** Like sendJsonValue, for bodies serialized ahead of time. */
export function sendJsonText(exchange: MockExchange, body: string): void {
  const reset = resetPoint(exchange.plan, Buffer.byteLength(body));
  sendJson(exchange.res, exchange.info, 200, body, {}, reset);
}

/**
 * Streams `events` (each a complete `data: …\n\n` block) with the plan's gap, cut and backpressure.
 * `eventCount` is how many `events` yields, so a random cut can land anywhere in the stream.
 * Stops pulling events as soon as the client goes away, so an abandoned stream costs nothing more.
 */
export async function sendSse(
  exchange: MockExchange,
  events: Iterable<string>,
  eventCount: number,
): Promise<void> {
  const { res, info, plan } = exchange;
  const cut = resetPoint(plan, eventCount);
  if (cut === RESET_BEFORE_HEADERS) return cutConnection(res, info);
  res.writeHead(200, SSE_HEADERS);
  info.status = 200;
  if (cut === 0) res.flushHeaders();

  let pending = '';
  let pendingEvents = 0;
  const write = (): boolean => {
    info.bytesSent += Buffer.byteLength(pending);
    info.eventsSent += pendingEvents;
    const accepted = res.write(pending);
    pending = '';
    pendingEvents = 0;
    return accepted;
  };

  for (const event of events) {
    if (info.eventsSent + pendingEvents === cut) break;
    if (res.destroyed) return;
    if (plan.gapMs > 0 && info.eventsSent > 0 && !(await sleepUnlessClosed(res, plan.gapMs))) return;
    pending += event;
    pendingEvents++;
    if (plan.gapMs > 0 || pending.length >= WRITE_BATCH_CHARS) {
      if (!write() && !(await drainedOrClosed(res))) return;
    }
  }
  if (res.destroyed) return;
  if (cut !== undefined) {
    if (pending !== '') write();
    return cutConnection(res, info);
  }
  info.bytesSent += Buffer.byteLength(pending);
  info.eventsSent += pendingEvents;
  res.end(pending);
}
