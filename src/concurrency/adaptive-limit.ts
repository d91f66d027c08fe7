/**
 * An adaptive concurrency limit: finished requests are grouped into sample windows, and after each
 * window the configured rule (gradient or AIMD) proposes a new limit, clamped to [minLimit, maxLimit].
 * The estimate is kept fractional so the small per-window steps of a smoothed rule add up; the limit
 * the limiter enforces is its integer part.
 */
import { AimdRule, type AimdSettings, aimdDefaults } from './adaptive-limit-aimd.ts';
import { GradientRule, type GradientSettings, gradientDefaults } from './adaptive-limit-gradient.ts';
import { type ReleaseOutcome, SampleWindow, type WindowSummary } from './adaptive-limit-window.ts';

export type { ReleaseOutcome, WindowSummary } from './adaptive-limit-window.ts';

interface Bounds {
  readonly minLimit: number;
  readonly maxLimit: number;
  /** Samples a window needs before it closes (default 10). */
  readonly windowSamples?: number;
  /** Time a window stays open at least, in ms (default 1000). */
  readonly windowMs?: number;
}

export type GradientOptions = Bounds & { readonly algorithm: 'gradient' } & Partial<GradientSettings>;
export type AimdOptions = Bounds & { readonly algorithm: 'aimd' } & Partial<AimdSettings>;
export type AdaptiveOptions = GradientOptions | AimdOptions;

export const windowDefaults = { windowSamples: 10, windowMs: 1000 } as const;

type Rule = GradientRule | AimdRule;

function check(ok: boolean, path: string, rule: string, value: unknown): void {
  if (!ok) throw new RangeError(`${path} must be ${rule}, got ${String(value)}`);
}

const isInt = (value: number, min: number) => Number.isInteger(value) && value >= min;

/** Throws a RangeError naming the first bad field; `path` prefixes the name (e.g. "adaptive"). */
export function validateAdaptiveOptions(options: AdaptiveOptions, path = 'adaptive'): void {
  const { minLimit, maxLimit } = options;
  check(isInt(minLimit, 1), `${path}.minLimit`, 'an integer ≥ 1', minLimit);
  check(isInt(maxLimit, minLimit), `${path}.maxLimit`, `an integer ≥ minLimit (${minLimit})`, maxLimit);
  const samples = options.windowSamples ?? windowDefaults.windowSamples;
  check(isInt(samples, 1), `${path}.windowSamples`, 'an integer ≥ 1', samples);
  const ms = options.windowMs ?? windowDefaults.windowMs;
  check(Number.isFinite(ms) && ms >= 0, `${path}.windowMs`, 'a number ≥ 0', ms);
  if (options.algorithm === 'gradient') {
    const { tolerance, smoothing, longWindow } = gradientSettings(options);
    check(Number.isFinite(tolerance) && tolerance >= 1, `${path}.tolerance`, 'a number ≥ 1', tolerance);
    check(smoothing > 0 && smoothing <= 1, `${path}.smoothing`, 'in (0, 1]', smoothing);
    check(isInt(longWindow, 1), `${path}.longWindow`, 'an integer ≥ 1', longWindow);
  } else if (options.algorithm === 'aimd') {
    const { backoffRatio, latencyThresholdMs, increase } = aimdSettings(options);
    check(backoffRatio > 0 && backoffRatio < 1, `${path}.backoffRatio`, 'in (0, 1)', backoffRatio);
    const threshold = latencyThresholdMs;
    check(
      Number.isFinite(threshold) && threshold > 0,
      `${path}.latencyThresholdMs`,
      'a number > 0',
      threshold,
    );
    check(Number.isFinite(increase) && increase > 0, `${path}.increase`, 'a number > 0', increase);
  } else {
    const algorithm: unknown = (options as { algorithm: unknown }).algorithm;
    check(false, `${path}.algorithm`, "'gradient' or 'aimd'", algorithm);
  }
}

function gradientSettings(options: GradientOptions): GradientSettings {
  return {
    tolerance: options.tolerance ?? gradientDefaults.tolerance,
    smoothing: options.smoothing ?? gradientDefaults.smoothing,
    longWindow: options.longWindow ?? gradientDefaults.longWindow,
  };
}

function aimdSettings(options: AimdOptions): AimdSettings {
  return {
    backoffRatio: options.backoffRatio ?? aimdDefaults.backoffRatio,
    latencyThresholdMs: options.latencyThresholdMs ?? aimdDefaults.latencyThresholdMs,
    increase: options.increase ?? aimdDefaults.increase,
  };
}

function createRule(options: AdaptiveOptions): Rule {
  return options.algorithm === 'gradient'
    ? new GradientRule(gradientSettings(options))
    : new AimdRule(aimdSettings(options));
}

function newWindow(options: AdaptiveOptions, now: number): SampleWindow {
  return new SampleWindow(
    options.windowSamples ?? windowDefaults.windowSamples,
    options.windowMs ?? windowDefaults.windowMs,
    now,
  );
}

export class AdaptiveLimit {
  private options: AdaptiveOptions;
  private rule: Rule;
  private window: SampleWindow;
  private estimate: number;

  /** `start` is the configured maxInFlight: the first guess, clamped to the bounds. */
  constructor(options: AdaptiveOptions, start: number, now: number) {
    validateAdaptiveOptions(options);
    this.options = options;
    this.rule = createRule(options);
    this.window = newWindow(options, now);
    this.estimate = this.clamp(start);
  }

  get algorithm(): AdaptiveOptions['algorithm'] {
    return this.options.algorithm;
  }

  get limit(): number {
    return Math.floor(this.estimate);
  }

  observeInFlight(inFlight: number): void {
    this.window.observeInFlight(inFlight);
  }

  /** Feeds one finished request; `inFlight` still counts it. True when the enforced limit changed. */
  record(outcome: ReleaseOutcome, inFlight: number, now: number): boolean {
    const summary = this.window.add(outcome, inFlight, now);
    if (summary === undefined) return false;
    return this.apply(summary);
  }

  /** Applies one window summary directly; the limiter goes through `record`. */
  apply(summary: WindowSummary): boolean {
    const before = this.limit;
    this.estimate = this.clamp(this.rule.next(this.estimate, summary));
    return this.limit !== before;
  }

  /**
   * Same algorithm: keep what was learned (estimate, baseline, open window) and clamp it to the new
   * bounds, because a reload should not throw away minutes of measurement. Another algorithm: start
   * over from `start`, since one rule's state means nothing to the other.
   */
  reconfigure(options: AdaptiveOptions, start: number, now: number): void {
    validateAdaptiveOptions(options);
    const previous = this.options;
    this.options = options;
    if (options.algorithm !== previous.algorithm) {
      this.rule = createRule(options);
      this.window = newWindow(options, now);
      this.estimate = this.clamp(start);
      return;
    }
    if (this.rule instanceof GradientRule && options.algorithm === 'gradient') {
      this.rule.reconfigure(gradientSettings(options));
    } else if (this.rule instanceof AimdRule && options.algorithm === 'aimd') {
      this.rule.reconfigure(aimdSettings(options));
    }
    if (options.windowSamples !== previous.windowSamples || options.windowMs !== previous.windowMs) {
      this.window = newWindow(options, now);
    }
    this.estimate = this.clamp(this.estimate);
  }

  private clamp(value: number): number {
    return Math.min(this.options.maxLimit, Math.max(this.options.minLimit, value));
  }
}
