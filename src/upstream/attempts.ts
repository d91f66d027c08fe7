/**
 * One request's way to an answer over an upstream's targets and its failover chain: pick a target
 * the balancer chooses and its health admits, send, and — when the route retries or hedges —
 * decide after each failure whether to try again, where and when. Order per attempt: balancer →
 * health (breaker, ejection, checks) → send; then retry plan → budget → backoff.
 *
 * Never a retry once response headers are accepted: an attempt resolves only with a response the
 * client will get, so nothing is ever spliced. A retryable status (a 503, a 429) rejects its attempt
 * instead, carrying the response so it can still be delivered when no retry follows.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Timings } from '../pipeline/context.ts';
import { SluiceError } from '../pipeline/errors.ts';
import {
  AttemptFailure,
  type AttemptResultLabel,
  deniedReasons,
  freshTimings,
  perTryTimeout,
  statusLabel,
  transportStatus,
  unavailable,
} from './attempt-outcome.ts';
import type { TransportFailure } from './breaker-options.ts';
import { sendUpstream, type UpstreamRequest, type UpstreamResponse } from './forward.ts';
import type { AdmittedTarget, UpstreamGroup } from './group.ts';
import { type HedgeDelay, HedgeLostError, hedge, hedgeDelayMs } from './hedge.ts';
import { outcomeFromError } from './retry-classify.ts';
import type { RetryPolicy } from './retry-options.ts';
import { RetryPlan } from './retry-plan.ts';
import type { TargetRuntime } from './target.ts';

export interface HedgePolicy {
  readonly delay: HedgeDelay;
  readonly maxHedges: number;
}

export type { AttemptResultLabel } from './attempt-outcome.ts';

export interface AttemptEvents {
  attempt(target: TargetRuntime, result: AttemptResultLabel): void;
  retry(upstream: string, reason: string): void;
  retryDenied(upstream: string, reason: string): void;
  hedgeSent(upstream: string): void;
  hedgeWon(upstream: string): void;
  failover(from: string, to: string): void;
}

export interface UpstreamCallRequest {
  readonly method: string;
  /** Forwarded path and query; each target's base path goes in front. */
  readonly path: string;
  /** End-to-end and forwarding headers; each target's own go on top. */
  readonly headers: Record<string, string | string[]>;
  readonly body: UpstreamRequest['body'];
  /** The request's model (LLM routes), for model mapping and cost-aware balancing. */
  readonly model: string | undefined;
  /** The body with `model` replaced, built once per mapped name. */
  readonly mappedBody: (model: string) => Buffer | undefined;
}

export interface CallOptions {
  readonly chain: readonly UpstreamGroup[];
  readonly retry: RetryPolicy | undefined;
  readonly hedge: HedgePolicy | undefined;
  readonly signal: AbortSignal;
  readonly timings: Timings;
  readonly events: AttemptEvents;
  /**
   * Opens the CLIENT span of one attempt and injects its trace headers into `headers`; returns its
   * end, or undefined when the request is not traced (the common case: nothing to close later).
   */
  readonly trace: (
    target: TargetRuntime,
    path: string,
    headers: Record<string, string | string[]>,
  ) => ((status: number | undefined, error?: string) => void) | undefined;
}

export interface CallResult {
  readonly response: UpstreamResponse;
  readonly target: TargetRuntime;
}

/** The per-request state: where it is in the chain and which targets it has tried. */
class UpstreamCall {
  private readonly request: UpstreamCallRequest;
  private readonly options: CallOptions;
  private readonly plan: RetryPlan | undefined;
  private groupIndex = 0;
  /** Targets this request tried, per group: names are unique within a group only. */
  private tried: Map<UpstreamGroup, Set<string>> | undefined;
  /** When the first attempt of this request was dispatched (0 before). */
  private firstDispatch = 0;

  constructor(request: UpstreamCallRequest, options: CallOptions) {
    this.request = request;
    this.options = options;
    const budget = options.chain[0]!.budget;
    this.plan =
      options.retry === undefined
        ? undefined
        : new RetryPlan(options.retry, { method: request.method, budget, clientSignal: options.signal });
    // A plan deposits this request into the budget; hedges draw on it too, so a route that only
    // hedges must pay in as well.
    if (this.plan === undefined && options.hedge !== undefined) budget.deposit();
  }

  async run(): Promise<CallResult> {
    const { retry, hedge: hedging, signal } = this.options;
    // One attempt, no bookkeeping beyond the target's health: the common path stays cheap.
    if (retry === undefined && hedging === undefined) {
      try {
        return await this.attempt(signal, this.options.timings, false, this.choose());
      } catch (error) {
        throw error instanceof AttemptFailure ? error.cause : error;
      }
    }
    const started = performance.now();
    for (;;) {
      try {
        const answered = hedging ? await this.hedged(hedging) : await this.single();
        this.settleTimings(answered.timings, started, answered.call);
        return answered.call;
      } catch (error) {
        if (!(error instanceof AttemptFailure)) throw error;
        // No target could take a retry: the client gets this failure, and no budget is spent on it.
        const decision =
          this.plan === undefined || !this.anyAvailable()
            ? ({ action: 'give_up', reason: 'not_retryable' } as const)
            : this.plan.next(error.outcome);
        // Retries are counted against the budget they draw on: the route's upstream's.
        const upstream = this.options.chain[0]!.name;
        if (decision.action === 'give_up') {
          if (deniedReasons.has(decision.reason)) this.options.events.retryDenied(upstream, decision.reason);
          if (error.response === undefined) throw error.cause;
          const call = { response: error.response, target: error.target };
          this.settleTimings(error.timings, started, call);
          return call;
        }
        this.options.events.retry(upstream, decision.reason);
        error.response?.body.destroy();
        // Aborted during the backoff: the same reason an attempt in flight would have rejected with.
        if (decision.delayMs > 0) {
          await sleep(decision.delayMs, undefined, { signal }).catch(() => {
            throw signal.reason;
          });
        }
      }
    }
  }

  private async single(): Promise<{ call: CallResult; timings: Timings }> {
    const timings = freshTimings(this.options.timings.start);
    const call = await this.attempt(this.options.signal, timings, true, this.choose());
    return { call, timings };
  }

  private async hedged(policy: HedgePolicy): Promise<{ call: CallResult; timings: Timings }> {
    const first = this.choose();
    if (first === undefined) throw unavailable(this.options.chain);
    const group = this.options.chain[this.groupIndex]!;
    const attemptTimings: Timings[] = [];
    const result = await hedge(
      (signal, index) => {
        const timings = freshTimings(this.options.timings.start);
        attemptTimings[index] = timings;
        if (index > 0) this.options.events.hedgeSent(group.name);
        return this.attempt(signal, timings, true, index === 0 ? first : this.choose());
      },
      {
        delayMs: hedgeDelayMs(policy.delay, group.quantiles.window(first.target.name)),
        maxHedges: policy.maxHedges,
        budget: this.options.chain[0]!.budget,
        signal: this.options.signal,
        discard: (late) => late.response.body.destroy(),
      },
    );
    if (result.winner > 0) this.options.events.hedgeWon(group.name);
    return { call: result.value, timings: attemptTimings[result.winner]! };
  }

  /** Copies the answering attempt's marks; time spent on earlier attempts and backoff is not Sluice's. */
  private settleTimings(from: Timings, started: number, call: CallResult): void {
    const into = this.options.timings;
    into.upstreamDispatch = from.upstreamDispatch;
    into.upstreamConnected = from.upstreamConnected;
    into.upstreamHeaders = from.upstreamHeaders;
    into.upstreamRetryWaitMs = Math.max(
      0,
      from.upstreamDispatch - Math.max(started, this.firstDispatch || started),
    );
    call.response.body.once('end', () => {
      into.upstreamEnd = from.upstreamEnd || performance.now();
    });
  }

  /** The target for the next attempt: an untried one along the chain, else any admitted one. */
  private choose(): AdmittedTarget | undefined {
    const { chain } = this.options;
    const model = this.request.model;
    for (let pass = 0; pass < 2; pass++) {
      const preferUntried = pass === 0;
      for (let index = this.groupIndex; index < chain.length; index++) {
        const group = chain[index]!;
        const admitted = group.admit(preferUntried ? this.tried?.get(group) : undefined, model);
        if (admitted === undefined) continue;
        if (index !== this.groupIndex) {
          this.options.events.failover(chain[this.groupIndex]!.name, group.name);
          this.groupIndex = index;
        }
        return admitted;
      }
      if (this.tried === undefined) break;
    }
    return undefined;
  }

  /** Whether some target along the rest of the chain may take an attempt now. */
  private anyAvailable(): boolean {
    const { chain } = this.options;
    for (let index = this.groupIndex; index < chain.length; index++) {
      if (chain[index]!.availableCount() > 0) return true;
    }
    return false;
  }

  /**
   * Sends one attempt. Resolves with a response the client may get; rejects with an AttemptFailure
   * (retryable status or transport failure) or the abort reason. `retrying`: a retryable status
   * rejects, so the caller can try again.
   */
  private async attempt(
    signal: AbortSignal,
    timings: Timings,
    retrying: boolean,
    admitted: AdmittedTarget | undefined,
  ): Promise<CallResult> {
    if (admitted === undefined) throw unavailable(this.options.chain);
    const { target, admission } = admitted;
    const group = this.options.chain[this.groupIndex]!;
    if (retrying) {
      this.tried ??= new Map();
      const tried = this.tried.get(group) ?? new Set<string>();
      this.tried.set(group, tried);
      tried.add(target.name);
    }
    const handle = group.start(target);
    const { request } = this;
    const path = `${target.basePath}${request.path}`;
    // A request with a single attempt owns its header object; one that may be sent again copies it,
    // since targets add different headers (and the span its own traceparent).
    const headers = retrying
      ? { ...request.headers, ...target.addedHeaders }
      : Object.assign(request.headers, target.addedHeaders);
    for (const name of target.removedHeaders) delete headers[name];
    const mapped = request.model === undefined ? undefined : target.models?.get(request.model);
    const body = mapped === undefined ? request.body : (request.mappedBody(mapped) ?? request.body);
    if (body !== request.body && Buffer.isBuffer(body)) headers['content-length'] = String(body.length);
    const endSpan = this.options.trace(target, path, headers);
    const tryTimeout = this.plan === undefined ? undefined : perTryTimeout(signal, this.plan.tryTimeoutMs());
    const sent = performance.now();
    let response: UpstreamResponse;
    try {
      response = await sendUpstream(
        target,
        { method: request.method, path, headers, body },
        timings,
        tryTimeout?.signal ?? signal,
      );
    } catch (error) {
      tryTimeout?.clear();
      const code = error instanceof SluiceError ? error.code : undefined;
      const status = code === undefined ? undefined : transportStatus[code];
      endSpan?.(undefined, code ?? 'aborted');
      if (this.firstDispatch === 0) this.firstDispatch = timings.upstreamDispatch;
      if (status === undefined) {
        // A lost race says the target took at least this long: leaving it out would teach the
        // hedge delay only the fast answers.
        if (error instanceof HedgeLostError) group.quantiles.observe(target.name, performance.now() - sent);
        // Not the target's fault: the client left, or this hedge lost the race.
        if (admission !== undefined) group.health?.get(target.name)?.release(admission);
        handle.cancel();
        this.options.events.attempt(target, error instanceof HedgeLostError ? 'hedge_lost' : 'aborted');
        throw error;
      }
      const latencyMs = performance.now() - sent;
      if (admission !== undefined) group.health?.get(target.name)?.record(admission, status, latencyMs);
      handle.end({ latencyMs, ok: false });
      this.options.events.attempt(target, status as TransportFailure);
      throw new AttemptFailure(outcomeFromError(error), { response: undefined, target, timings }, error);
    }
    tryTimeout?.clear();
    if (this.firstDispatch === 0) this.firstDispatch = timings.upstreamDispatch;
    const latencyMs = timings.upstreamHeaders - timings.upstreamDispatch;
    const { status } = response;
    if (admission !== undefined) group.health?.get(target.name)?.record(admission, status, latencyMs);
    handle.end({ latencyMs, ok: status < 500 && status !== 429 });
    if (this.options.hedge !== undefined) group.quantiles.observe(target.name, latencyMs);
    this.options.events.attempt(target, statusLabel(status));
    if (endSpan !== undefined) {
      response.body.once('close', () => endSpan(status, response.body.errored ? 'body_error' : undefined));
    }
    if (retrying && this.retryable(status)) {
      throw new AttemptFailure(
        { kind: 'response', status, headers: response.headers },
        { response, target, timings },
        undefined,
      );
    }
    return { response, target };
  }

  private retryable(status: number): boolean {
    const policy = this.options.retry;
    if (policy === undefined) return false;
    return (status === 429 && policy.retryRateLimited) || policy.statuses.includes(status);
  }
}

/**
 * Calls the upstream for one request. Resolves with the response the client gets (which may be an
 * error status the retries gave up on) and the target that answered; rejects with a SluiceError (no
 * target may take traffic, a transport failure) or the abort reason.
 */
export function callUpstream(request: UpstreamCallRequest, options: CallOptions): Promise<CallResult> {
  return new UpstreamCall(request, options).run();
}
