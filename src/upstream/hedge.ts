/**
 * Hedged requests ("The Tail at Scale", Dean & Barroso 2013; gRPC's hedging policy): when an attempt
 * has no response headers after a delay, send another and take whichever answers first. A slow
 * straggler then costs the hedge delay instead of its whole latency. Hedges cost upstream work (and
 * tokens), so each one is withdrawn from the same budget as retries: when the budget is spent the
 * request waits for its first attempt, and an upstream in trouble is not sent twice the load.
 *
 * "Answers" means response headers: the attempt's promise resolves when they arrive. At that moment
 * every other attempt is aborted through its own AbortController, and a late one that resolves
 * anyway is handed to `discard` so its body is released. An attempt that fails before headers
 * does not start a hedge: when every attempt sent so far has failed, the race rejects with the last
 * error and the retry plan decides what happens next, with its backoff and its checks.
 */
import { defaultSetTimer, type SetTimer } from '../concurrency/concurrency-options.ts';
import type { WindowQuantile } from './quantile.ts';

export type { SetTimer } from '../concurrency/concurrency-options.ts';

/** The abort reason of an attempt that lost the race; tells a loser apart from a failure. */
export class HedgeLostError extends Error {
  constructor() {
    super('another attempt answered first');
    this.name = 'HedgeLostError';
  }
}

/**
 * Starts one attempt. `signal` aborts it (lost race, client gone); `index` is 0 for the first attempt
 * and n for the n-th hedge, so the caller can send hedges to another target. Resolves at response
 * headers; a response that must not win (a 503 the retry plan would retry) should reject instead.
 */
export type Attempt<T> = (signal: AbortSignal, index: number) => Promise<T>;

export interface HedgeOptions<T> {
  /** Time without headers before each hedge (from hedgeDelayMs). */
  readonly delayMs: number;
  /** Hedges at most, on top of the first attempt (gRPC: maxAttempts − 1). 0 disables hedging. */
  readonly maxHedges: number;
  readonly budget: { tryWithdraw(): boolean };
  /** The request's signal (client gone, deadline): aborts every attempt, the winner's too. */
  readonly signal?: AbortSignal;
  /** Releases a response that arrived after the race was decided (destroy its body). */
  readonly discard?: (value: T) => void;
  /** Injectable so tests own time (default an unref'd setTimeout). */
  readonly setTimer?: SetTimer;
}

export interface HedgeResult<T> {
  readonly value: T;
  /** Index of the attempt that answered (0: the first attempt, no hedge was needed or it lost). */
  readonly winner: number;
  /** Attempts sent, the first included: sent − 1 hedges. */
  readonly sent: number;
}

function validate(delayMs: number, maxHedges: number): void {
  // setTimeout turns a delay it cannot hold (Infinity, > 2³¹ ms) into 1 ms: a hedge on every request.
  if (!(Number.isFinite(delayMs) && delayMs >= 0 && delayMs <= 2 ** 31 - 1)) {
    throw new RangeError(`delayMs must be a number 0-${2 ** 31 - 1}, got ${delayMs}`);
  }
  if (!(Number.isInteger(maxHedges) && maxHedges >= 0)) {
    throw new RangeError(`maxHedges must be an integer ≥ 0, got ${maxHedges}`);
  }
}

export function hedge<T>(attempt: Attempt<T>, options: HedgeOptions<T>): Promise<HedgeResult<T>> {
  const { delayMs, maxHedges, budget, signal, discard } = options;
  validate(delayMs, maxHedges);
  const setTimer = options.setTimer ?? defaultSetTimer;
  return new Promise<HedgeResult<T>>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const controllers: AbortController[] = [];
    let inFlight = 0;
    let decided = false;
    let cancelTimer: (() => void) | undefined;

    const decide = () => {
      decided = true;
      cancelTimer?.();
      cancelTimer = undefined;
    };
    // Stays registered after a win: the winner's body still streams, and a client that leaves
    // later must stop it too.
    const onAbort = () => {
      for (const controller of controllers) controller.abort(signal?.reason);
      if (decided) return;
      decide();
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });

    const launch = (index: number) => {
      const controller = new AbortController();
      controllers.push(controller);
      inFlight++;
      let pending: Promise<T>;
      try {
        pending = attempt(controller.signal, index);
      } catch (error) {
        pending = Promise.reject(error);
      }
      pending.then(
        (value) => {
          inFlight--;
          if (decided) {
            discard?.(value);
            return;
          }
          decide();
          for (let i = 0; i < controllers.length; i++) {
            if (i !== index) controllers[i]!.abort(new HedgeLostError());
          }
          resolve({ value, winner: index, sent: controllers.length });
        },
        (error: unknown) => {
          inFlight--;
          if (decided || inFlight > 0) return;
          decide();
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      );
    };

    const arm = () => {
      if (controllers.length > maxHedges) return;
      cancelTimer = setTimer(() => {
        cancelTimer = undefined;
        if (decided) return;
        // No budget, no hedge; and none later for this request: the budget refills over seconds,
        // and a request that has waited this long is better served by its attempts in flight.
        if (!budget.tryWithdraw()) return;
        launch(controllers.length);
        arm();
      }, delayMs);
    };

    launch(0);
    arm();
  });
}

/** Where the hedge delay comes from: a fixed time, or a quantile of the target's time to headers. */
export type HedgeDelay =
  | { readonly fixedMs: number }
  | {
      /** e.g. 0.95: hedge the slowest 5 % of requests. */
      readonly quantile: number;
      /** Until the target has enough samples. */
      readonly fallbackMs: number;
      /** Floors and caps the learned delay, so a very fast target is not hedged at once. */
      readonly minMs: number;
      readonly maxMs: number;
    };

/**
 * The delay for a request to the target `estimator` watches. Feed the estimator every attempt's time
 * to headers, and for an attempt aborted as a loser its time until the abort (a lower bound):
 * leaving losers out would teach it only the fast answers, lower the delay, hedge more and feed it
 * even faster ones.
 */
export function hedgeDelayMs(delay: HedgeDelay, estimator: WindowQuantile | undefined): number {
  if ('fixedMs' in delay) return delay.fixedMs;
  const observed = estimator?.quantile(delay.quantile);
  if (observed === undefined) return delay.fallbackMs;
  return Math.min(delay.maxMs, Math.max(delay.minMs, observed));
}
