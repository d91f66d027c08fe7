/**
 * Gradient limit, after Netflix concurrency-limits' Gradient2. It compares the latency of the last
 * window (short RTT) with a slow moving average of past windows (long RTT). While the upstream keeps
 * up, the two agree and the limit grows by a headroom of √limit per window; when requests start to
 * queue inside the upstream, the short RTT rises above the long one and the limit shrinks in
 * proportion. A long baseline instead of a minimum RTT lets it follow an upstream whose normal speed
 * changes (a new model, a different prompt mix) without the periodic probing Envoy needs to
 * re-measure its minimum.
 */
import { underused, type WindowSummary } from './adaptive-limit-window.ts';

export interface GradientSettings {
  /** Latency growth accepted before backing off: short RTT up to tolerance × long RTT counts as normal. */
  readonly tolerance: number;
  /** Share of each new estimate taken into the limit (EWMA factor), so one window moves it only part way. */
  readonly smoothing: number;
  /** Memory of the long RTT, in windows (EWMA over about this many). */
  readonly longWindow: number;
}

export const gradientDefaults: GradientSettings = { tolerance: 1.5, smoothing: 0.2, longWindow: 600 };

/** Plain mean for the first windows, so the very first window does not set the baseline alone. */
const WARMUP_WINDOWS = 10;
/** The steepest cut per window: one slow outlier window may at most halve the estimate. */
const MIN_GRADIENT = 0.5;
/**
 * A long RTT more than twice the short one means the baseline still remembers an overload that is
 * over; decaying it by 5 % per window lets the limit settle again instead of growing unchecked
 * until the slow average forgets on its own.
 */
const DRIFT_RATIO = 2;
const DRIFT_DECAY = 0.95;

export class GradientRule {
  private settings: GradientSettings;
  private longRtt = 0;
  private windows = 0;

  constructor(settings: GradientSettings) {
    this.settings = settings;
  }

  /** The learned baseline survives a reload; only the knobs change. */
  reconfigure(settings: GradientSettings): void {
    this.settings = settings;
  }

  /** The baseline, for tests and debugging; 0 before the first window. */
  get longRttMs(): number {
    return this.longRtt;
  }

  next(limit: number, window: WindowSummary): number {
    const { tolerance, smoothing } = this.settings;
    const shortRtt = window.rttMs;
    if (shortRtt !== undefined) this.learn(shortRtt);
    // A drop is overload the upstream told us about: back off by the steepest gradient, without headroom.
    if (window.dropped) return limit * (1 - smoothing) + limit * MIN_GRADIENT * smoothing;
    if (shortRtt === undefined || underused(limit, window)) return limit;
    const gradient =
      shortRtt <= 0 ? 1 : Math.max(MIN_GRADIENT, Math.min(1, (tolerance * this.longRtt) / shortRtt));
    const target = limit * gradient + Math.sqrt(limit);
    return limit * (1 - smoothing) + target * smoothing;
  }

  private learn(shortRtt: number): void {
    this.windows++;
    const ewma = 2 / (this.settings.longWindow + 1);
    const weight = this.windows <= WARMUP_WINDOWS ? Math.max(1 / this.windows, ewma) : ewma;
    this.longRtt += (shortRtt - this.longRtt) * weight;
    if (shortRtt > 0 && this.longRtt / shortRtt > DRIFT_RATIO) this.longRtt *= DRIFT_DECAY;
  }
}
