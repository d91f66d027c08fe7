/**
 * Samples grouped into windows before an adaptive limit sees them: one latency is noise, and a limit
 * that moved on every response would chase it. A window closes on the first sample at which it holds
 * at least `minSamples` samples and has been open at least `minMs`; the algorithm then sees one
 * summary per window.
 */

/** What a finished request tells the limit about the upstream. */
export type ReleaseOutcome =
  | { readonly kind: 'success'; readonly latencyMs: number }
  | { readonly kind: 'dropped' }
  | { readonly kind: 'ignore' };

export interface WindowSummary {
  /** Mean latency of the window's successes; undefined when every sample was a drop. */
  readonly rttMs: number | undefined;
  /** At least one request in the window was dropped (upstream 429/503/timeout). */
  readonly dropped: boolean;
  /** The highest number of requests in flight seen during the window. */
  readonly peakInFlight: number;
  readonly samples: number;
}

/**
 * True when the window never used half the limit: the limit was not what held traffic back, so the
 * latency says nothing about whether a higher limit would be safe (Netflix calls this app-limited).
 */
export function underused(limit: number, window: WindowSummary): boolean {
  return window.peakInFlight * 2 < limit;
}

export class SampleWindow {
  private readonly minSamples: number;
  private readonly minMs: number;
  private startedAt: number;
  private samples = 0;
  private rttSum = 0;
  private rttCount = 0;
  private dropped = false;
  private peakInFlight = 0;

  constructor(minSamples: number, minMs: number, now: number) {
    this.minSamples = minSamples;
    this.minMs = minMs;
    this.startedAt = now;
  }

  observeInFlight(inFlight: number): void {
    if (inFlight > this.peakInFlight) this.peakInFlight = inFlight;
  }

  /**
   * Adds one finished request; `inFlight` counts it as still in flight. Returns the summary when this
   * sample closed the window.
   */
  add(outcome: ReleaseOutcome, inFlight: number, now: number): WindowSummary | undefined {
    if (outcome.kind === 'ignore') return undefined;
    if (outcome.kind === 'success') {
      // A negative or non-finite latency is a caller's bug; one must not poison the averages.
      if (!Number.isFinite(outcome.latencyMs) || outcome.latencyMs < 0) return undefined;
      this.rttSum += outcome.latencyMs;
      this.rttCount++;
    } else this.dropped = true;
    this.samples++;
    this.observeInFlight(inFlight);
    if (this.samples < this.minSamples || now - this.startedAt < this.minMs) return undefined;
    const summary: WindowSummary = {
      rttMs: this.rttCount === 0 ? undefined : this.rttSum / this.rttCount,
      dropped: this.dropped,
      peakInFlight: this.peakInFlight,
      samples: this.samples,
    };
    this.startedAt = now;
    this.samples = 0;
    this.rttSum = 0;
    this.rttCount = 0;
    this.dropped = false;
    // The requests still running belong to the next window's load.
    this.peakInFlight = inFlight - 1;
    return summary;
  }
}
