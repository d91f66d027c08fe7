/**
 * One request to an upstream through its undici Pool, with undici's dispatch handler API: it gives
 * the moment a connection is assigned (pool wait), the response headers, and body chunks with
 * pause/resume for backpressure, without the extra stream layers of `request()`.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { Timings } from '../pipeline/context.ts';
import { SluiceError } from '../pipeline/errors.ts';
import { upstreamError } from './errors.ts';
import type { TargetRuntime } from './target.ts';

export interface UpstreamRequest {
  readonly method: string;
  /** Path and query, starting with `/`, already including the upstream's base path. */
  readonly path: string;
  readonly headers: Record<string, string | string[]>;
  readonly body: Buffer | Readable | null;
}

export interface UpstreamResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** Ends when the upstream response ends; errors (upstream_body_timeout, reset) if it breaks off. */
  readonly body: Readable;
}

class ResponseBody extends Readable {
  controller: Dispatcher.DispatchController | undefined;

  override _read(): void {
    this.controller?.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // The client went away or a stage gave up: stop the upstream transfer too.
    if (this.controller && !this.controller.aborted && !this.readableEnded) {
      this.controller.abort(error ?? new Error('response body destroyed'));
    }
    callback(error);
  }
}

class UpstreamCall implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private body: ResponseBody | undefined;
  private settled = false;
  private abortReason: Error | undefined;
  /** Names the target in error details: the upstream, and the target when it has several. */
  private readonly label: string;
  private readonly timings: Timings;
  private readonly resolve: (response: UpstreamResponse) => void;
  private readonly reject: (error: unknown) => void;

  constructor(
    upstream: TargetRuntime,
    timings: Timings,
    resolve: (response: UpstreamResponse) => void,
    reject: (error: unknown) => void,
  ) {
    this.label =
      upstream.name === upstream.upstream ? upstream.name : `${upstream.upstream}/${upstream.name}`;
    this.timings = timings;
    this.resolve = resolve;
    this.reject = reject;
  }

  abort(reason: Error): void {
    this.abortReason = reason;
    if (this.controller && !this.controller.aborted) this.controller.abort(reason);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    this.timings.upstreamConnected = performance.now();
    if (this.abortReason) controller.abort(this.abortReason);
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
  ): void {
    this.timings.upstreamHeaders = performance.now();
    if (statusCode < 200) return; // 1xx informational responses are not forwarded.
    const body = new ResponseBody();
    body.controller = controller;
    this.body = body;
    this.settled = true;
    this.resolve({ status: statusCode, headers, body });
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.body && !this.body.push(chunk)) controller.pause();
  }

  onResponseEnd(): void {
    this.timings.upstreamEnd = performance.now();
    this.body?.push(null);
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.timings.upstreamEnd = performance.now();
    if (!this.settled) {
      this.settled = true;
      // A SluiceError here came from our own request-body limiter, not from the upstream.
      this.reject(
        this.abortReason ?? (error instanceof SluiceError ? error : upstreamError(error, this.label)),
      );
      return;
    }
    if (this.body && !this.body.destroyed) this.body.destroy(upstreamError(error, this.label));
  }
}

/**
 * Sends `request` and resolves at the response headers. `signal` (client gone, deadline) aborts the
 * call at any point; before headers the promise rejects with the signal's reason.
 */
export function sendUpstream(
  upstream: TargetRuntime,
  request: UpstreamRequest,
  timings: Timings,
  signal: AbortSignal,
): Promise<UpstreamResponse> {
  return new Promise<UpstreamResponse>((resolve, reject) => {
    const call = new UpstreamCall(upstream, timings, resolve, reject);
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => call.abort(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    timings.upstreamDispatch = performance.now();
    upstream.pool.dispatch(
      {
        origin: upstream.origin,
        method: request.method,
        path: request.path,
        headers: request.headers,
        body: request.body,
      },
      call,
    );
  });
}
