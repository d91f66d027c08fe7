/**
 * The retry state of one request: how many attempts went out, whether the response is committed to
 * the client, how long the next attempt may take, and — after each failed attempt — whether to try
 * again and after which delay. It ties the classification, the backoff, the shared budget and the
 * request's deadline together so the upstream call has a single question to ask.
 *
 * Order of the checks in next(), cheapest and most final first; the budget comes last so a retry
 * that would be refused for another reason never spends it.
 */
import { backoffDelayMs, type Random } from './retry-backoff.ts';
import type { RetryBudget } from './retry-budget.ts';
import { type AttemptOutcome, classifyAttempt, type FinalCause, type RetryCause } from './retry-classify.ts';
import type { RetryPolicy } from './retry-options.ts';

export type GiveUpReason = FinalCause | 'max_attempts' | 'budget_exhausted' | 'deadline_exceeded';

export type RetryAction =
  | { readonly action: 'retry'; readonly delayMs: number; readonly reason: RetryCause }
  | { readonly action: 'give_up'; readonly reason: GiveUpReason };

export interface RetryPlanOptions {
  readonly method: string;
  /** Shared by every request to the upstream; the plan deposits this request into it. */
  readonly budget: RetryBudget;
  /** Monotonic time (ms) by which the whole request must be answered; absent: no overall deadline. */
  readonly deadlineAt?: number;
  /** Aborted when the client goes away (and possibly at the deadline, which is told apart). */
  readonly clientSignal?: AbortSignal;
  /** Monotonic clock in ms, the one deadlineAt is on (default performance.now). */
  readonly now?: () => number;
  /** Wall clock for HTTP-date Retry-After values (default Date.now). */
  readonly wallNow?: () => number;
  readonly random?: Random;
}

export class RetryPlan {
  private readonly policy: RetryPolicy;
  private readonly method: string;
  private readonly budget: RetryBudget;
  private readonly deadlineAt: number;
  private readonly clientSignal: AbortSignal | undefined;
  private readonly now: () => number;
  private readonly wallNow: () => number;
  private readonly random: Random;
  private started = 1;
  private committed = false;

  /** `policy` from resolveRetryPolicy (validated once, not per request). The first attempt counts. */
  constructor(policy: RetryPolicy, options: RetryPlanOptions) {
    this.policy = policy;
    this.method = options.method;
    this.budget = options.budget;
    this.deadlineAt = options.deadlineAt ?? Number.POSITIVE_INFINITY;
    this.clientSignal = options.clientSignal;
    this.now = options.now ?? (() => performance.now());
    this.wallNow = options.wallNow ?? Date.now;
    this.random = options.random ?? Math.random;
    // Every request earns budget, retried or not: the ratio is of requests, not of failures.
    this.budget.deposit();
  }

  /** Attempts sent or about to be sent, the first included. */
  get attempts(): number {
    return this.started;
  }

  /**
   * Call when the first byte (status line and headers included) goes to the client. From then on
   * next() only ever gives up: there is no way to obtain a retry for a committed response.
   */
  responseStarted(): void {
    this.committed = true;
  }

  /**
   * How long the attempt about to start may wait for response headers: the per-try timeout, cut to
   * what is left of the overall deadline so a retry can never outlive the request. 0: do not start.
   */
  tryTimeoutMs(): number {
    return Math.max(0, Math.min(this.policy.perTryTimeoutMs, this.deadlineAt - this.now()));
  }

  /** What to do after an attempt ended with `outcome`. A 'retry' counts the next attempt as started. */
  next(outcome: AttemptOutcome): RetryAction {
    if (this.committed) return { action: 'give_up', reason: 'response_started' };
    const now = this.now();
    const pastDeadline = now >= this.deadlineAt;
    const classified = classifyAttempt(
      outcome,
      {
        method: this.method,
        responseStarted: false,
        // A signal aborted by the deadline is not a client that left; the deadline check says so.
        clientGone: this.clientSignal?.aborted === true && !pastDeadline,
        wallNowMs: this.wallNow(),
      },
      this.policy,
    );
    if (!classified.retry) return { action: 'give_up', reason: classified.reason };
    if (this.started >= this.policy.maxAttempts) return { action: 'give_up', reason: 'max_attempts' };
    const delayMs = backoffDelayMs(
      this.started - 1,
      this.policy.baseDelayMs,
      this.policy.maxDelayMs,
      this.random,
      classified.delayHintMs,
    );
    // A retry that would start at or after the deadline cannot succeed; the client gets the failure
    // (for a 429, the upstream's own answer with its Retry-After) now rather than a timeout later.
    if (pastDeadline || now + delayMs >= this.deadlineAt)
      return { action: 'give_up', reason: 'deadline_exceeded' };
    if (!this.budget.tryWithdraw()) return { action: 'give_up', reason: 'budget_exhausted' };
    this.started++;
    return { action: 'retry', delayMs, reason: classified.reason };
  }
}
