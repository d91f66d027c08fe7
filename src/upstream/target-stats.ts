/**
 * What a balancer knows about one upstream target: its fixed description (weight, priority tier,
 * cost estimate) and its live state (requests in flight, a peak-EWMA latency, whether the breaker
 * or health checks currently let it take traffic).
 *
 * The latency estimate follows Finagle's peak EWMA: a sample slower than the estimate replaces it
 * at once, so a target that starts to struggle loses traffic on its first slow answer; faster
 * samples pull it down with a weight that depends on the time since the previous sample (half-life),
 * not on the number of samples, so a busy target and a quiet one forget a peak equally fast.
 */

export interface Target {
  /** Unique within a balancer; what exclude sets and bookkeeping refer to. */
  readonly name: string;
  /** Share of traffic (relative, ≥ 0). 0 drains the target: it is never picked. */
  readonly weight: number;
  /** Tier for the priority strategy: lower numbers are preferred (default 0). */
  readonly priority?: number;
  /** Caller's estimate of what one request costs on this target (any unit, ≥ 0), for cost-aware. */
  readonly costPerRequest?: number;
}

export interface LatencyOptions {
  /** Time for the weight of the past to halve, in ms (default 10 000, as Finagle and Linkerd). */
  readonly halfLifeMs: number;
  /** Estimate before the first sample, and where an estimate drifts back to without samples. */
  readonly defaultLatencyMs: number;
  /** A failed attempt counts as at least this many times the current estimate (default 2). */
  readonly failurePenalty: number;
  /** Upper bound of the estimate, so repeated failure penalties cannot compound without end. */
  readonly maxLatencyMs: number;
}

export const latencyDefaults: LatencyOptions = {
  halfLifeMs: 10_000,
  defaultLatencyMs: 1000,
  failurePenalty: 2,
  maxLatencyMs: 120_000,
};

/** Keeps cost = latency × (outstanding + 1) load-sensitive even for a target answering in ~0 ms. */
const MIN_LATENCY_MS = 0.001;

export interface AttemptResult {
  /** Time the target took; default: the balancer clock's time since `start`. */
  readonly latencyMs?: number;
  /** false for a failure (connect error, timeout, 5xx, 429); default true. */
  readonly ok?: boolean;
}

export interface BalancerHandle {
  readonly target: Target;
  /** Frees the slot and feeds the latency. Only the first `end` or `cancel` counts. */
  end(result?: AttemptResult): void;
  /** Frees the slot without a sample: the attempt was abandoned (client gone, hedge lost). */
  cancel(): void;
}

function check(ok: boolean, path: string, rule: string, value: unknown): void {
  if (!ok) throw new RangeError(`${path} must be ${rule}, got ${String(value)}`);
}

const positive = (value: number) => Number.isFinite(value) && value > 0;
const nonNegative = (value: number) => Number.isFinite(value) && value >= 0;

export function latencySettings(options: Partial<LatencyOptions> = {}, path = 'latency'): LatencyOptions {
  const settings = { ...latencyDefaults, ...options };
  const { halfLifeMs, defaultLatencyMs, failurePenalty, maxLatencyMs } = settings;
  check(positive(halfLifeMs), `${path}.halfLifeMs`, 'a number > 0', halfLifeMs);
  check(positive(defaultLatencyMs), `${path}.defaultLatencyMs`, 'a number > 0', defaultLatencyMs);
  check(
    Number.isFinite(failurePenalty) && failurePenalty >= 1,
    `${path}.failurePenalty`,
    '≥ 1',
    failurePenalty,
  );
  check(
    Number.isFinite(maxLatencyMs) && maxLatencyMs >= defaultLatencyMs,
    `${path}.maxLatencyMs`,
    `a number ≥ defaultLatencyMs (${defaultLatencyMs})`,
    maxLatencyMs,
  );
  return settings;
}

/** Throws a RangeError naming the first bad target and field. */
export function validateTargets(targets: readonly Target[], path = 'targets'): void {
  const seen = new Set<string>();
  targets.forEach((target, i) => {
    const at = `${path}[${i}]`;
    check(
      typeof target.name === 'string' && target.name.length > 0,
      `${at}.name`,
      'a non-empty string',
      target.name,
    );
    check(!seen.has(target.name), `${at}.name`, 'unique', `"${target.name}" twice`);
    seen.add(target.name);
    check(nonNegative(target.weight), `${at}.weight`, 'a number ≥ 0', target.weight);
    const { priority, costPerRequest } = target;
    if (priority !== undefined)
      check(Number.isFinite(priority), `${at}.priority`, 'a finite number', priority);
    if (costPerRequest !== undefined) {
      check(nonNegative(costPerRequest), `${at}.costPerRequest`, 'a number ≥ 0', costPerRequest);
    }
  });
}

/**
 * Live state of one target. Balancers built for the same targets (a config reload) can share it, so
 * learned latency and the in-flight count survive, and handles from before the reload still end here.
 */
export class TargetState {
  /** Set by the breaker and health checks; an unavailable target is never picked. */
  available = true;
  private inFlight = 0;
  private ewmaMs: number;
  private sampledAt: number;
  private sampled = false;
  private settings: LatencyOptions;
  /** −ln 2 / half-life, so a decay is one multiplication and one exp. */
  private decayRate: number;

  constructor(settings: LatencyOptions, now: number) {
    this.settings = settings;
    this.decayRate = -Math.LN2 / settings.halfLifeMs;
    this.ewmaMs = settings.defaultLatencyMs;
    this.sampledAt = now;
  }

  get outstanding(): number {
    return this.inFlight;
  }

  /** Applies new latency settings (a reload) and keeps the learned estimate. */
  configure(settings: LatencyOptions): void {
    this.settings = settings;
    this.decayRate = -Math.LN2 / settings.halfLifeMs;
    this.ewmaMs = this.sampled ? Math.min(this.ewmaMs, settings.maxLatencyMs) : settings.defaultLatencyMs;
  }

  /**
   * The estimate at `now`. Without fresh samples it drifts back toward defaultLatencyMs over the
   * half-life: a target that was slow once and then got no traffic is tried again eventually
   * (Finagle and Linkerd decay toward zero for the same reason; the default is the more careful
   * floor, since LLM requests last seconds and a near-zero estimate would draw a burst of them).
   */
  latencyMs(now: number): number {
    const keep = Math.exp(this.decayRate * Math.max(0, now - this.sampledAt));
    const prior = this.settings.defaultLatencyMs;
    return Math.max(MIN_LATENCY_MS, prior + (this.ewmaMs - prior) * keep);
  }

  /** Finagle/Linkerd cost: the expected wait of one more request. */
  load(now: number): number {
    return this.latencyMs(now) * (this.inFlight + 1);
  }

  /** Starts an attempt; the handle is the only way to end it. */
  begin(target: Target, now: () => number): BalancerHandle {
    this.inFlight++;
    return new Attempt(target, this, now, now());
  }

  /** @internal called by the handle, once. */
  finish(latencyMs: number | undefined, ok: boolean, now: number, elapsedMs: number): void {
    this.inFlight--;
    const measured =
      latencyMs !== undefined && Number.isFinite(latencyMs) && latencyMs >= 0 ? latencyMs : elapsedMs;
    // A failure is often fast (connection refused, instant 500): counted at its real latency it would
    // make a broken target look like the best one. It counts as a multiple of the estimate instead.
    const sample = ok ? measured : Math.max(measured, this.latencyMs(now) * this.settings.failurePenalty);
    this.observe(Math.min(sample, this.settings.maxLatencyMs), now);
  }

  /** @internal called by the handle, once. */
  abandon(): void {
    this.inFlight--;
  }

  /**
   * A slower sample replaces the estimate (peak). A faster one takes the pull that the drift toward
   * the default had over the time since the previous sample: the drift was only a guess made
   * without news, and the sample is the news.
   */
  private observe(sampleMs: number, now: number): void {
    // The default is a placeholder, not a measurement, so the first sample replaces it outright.
    if (sampleMs >= this.ewmaMs || !this.sampled) {
      this.ewmaMs = sampleMs;
    } else {
      const keep = Math.exp(this.decayRate * Math.max(0, now - this.sampledAt));
      this.ewmaMs = this.ewmaMs * keep + sampleMs * (1 - keep);
    }
    this.sampledAt = Math.max(this.sampledAt, now);
    this.sampled = true;
  }
}

class Attempt implements BalancerHandle {
  readonly target: Target;
  private state: TargetState | undefined;
  private readonly now: () => number;
  private readonly startedAt: number;

  constructor(target: Target, state: TargetState, now: () => number, startedAt: number) {
    this.target = target;
    this.state = state;
    this.now = now;
    this.startedAt = startedAt;
  }

  end(result?: AttemptResult): void {
    const state = this.state;
    if (state === undefined) return;
    this.state = undefined;
    const now = this.now();
    state.finish(result?.latencyMs, result?.ok ?? true, now, Math.max(0, now - this.startedAt));
  }

  cancel(): void {
    const state = this.state;
    if (state === undefined) return;
    this.state = undefined;
    state.abandon();
  }
}
