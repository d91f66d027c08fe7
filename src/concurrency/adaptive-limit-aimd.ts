/**
 * AIMD limit (additive increase, multiplicative decrease), the TCP congestion-avoidance rule applied
 * to requests in flight. It needs no baseline, only a latency the operator calls too slow, which
 * makes it predictable and easy to reason about on call; the price is a limit that keeps probing
 * upward until the threshold or a drop pushes it back (a saw-tooth around the upstream's capacity).
 */
import { underused, type WindowSummary } from './adaptive-limit-window.ts';

export interface AimdSettings {
  /** Factor applied to the limit after a window with a drop or a mean latency above the threshold. */
  readonly backoffRatio: number;
  /** Mean window latency above which the upstream counts as overloaded. */
  readonly latencyThresholdMs: number;
  /** Added to the limit after a healthy window that used at least half of it. */
  readonly increase: number;
}

export const aimdDefaults: AimdSettings = { backoffRatio: 0.9, latencyThresholdMs: 5000, increase: 1 };

export class AimdRule {
  private settings: AimdSettings;

  constructor(settings: AimdSettings) {
    this.settings = settings;
  }

  reconfigure(settings: AimdSettings): void {
    this.settings = settings;
  }

  next(limit: number, window: WindowSummary): number {
    const { backoffRatio, latencyThresholdMs, increase } = this.settings;
    const slow = window.rttMs !== undefined && window.rttMs > latencyThresholdMs;
    if (window.dropped || slow) return limit * backoffRatio;
    // Growing a limit nobody used would only make the next burst land all at once.
    if (underused(limit, window)) return limit;
    return limit + increase;
  }
}
