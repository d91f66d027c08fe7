/**
 * Settings of the per-target breaker and outlier detector, their defaults and eager validation, and
 * the one place that says which attempt results count against a target. The config schema checks
 * the YAML, but a breaker built from a NaN threshold would never open, silently; so bad numbers are
 * refused here with the name of the field, like the other upstream modules do.
 */

/** How an attempt failed before a status was known, or (`reset`) while its body was streaming. */
export type TransportFailure = 'connect_error' | 'timeout' | 'reset';

/** The response status (headers arrived), or the transport failure that ended the attempt. */
export type AttemptStatus = number | TransportFailure;

export interface BreakerSettings {
  /** Opens when failures exceed this share (in %) of the calls in the window. */
  readonly errorThresholdPercent: number;
  /** Calls the window must hold before the error or slow-call rate can open the breaker. */
  readonly volumeThreshold: number;
  /** Length of the rolling window, in ms. */
  readonly windowMs: number;
  /** The window moves in this many steps; each lasts windowMs / windowBuckets. */
  readonly windowBuckets: number;
  /** How long an open breaker refuses traffic before it lets probes through, in ms. */
  readonly resetTimeoutMs: number;
  /** Requests let through at once while a target is on trial (breaker half-open, ejection over). */
  readonly halfOpenProbes: number;
  /** A call taking at least this long (to response headers) is slow; 0 turns slow-call opening off. */
  readonly slowCallMs: number;
  /** Opens when slow calls exceed this share (in %) of the calls in the window. */
  readonly slowCallRatePercent: number;
}

export interface OutlierSettings {
  /** Consecutive 5xx or transport failures that eject a target; 0 turns ejection off. */
  readonly consecutiveFailures: number;
  /** First ejection time; the n-th ejection lasts n times this, in ms. */
  readonly baseEjectionMs: number;
  /** Upper bound of one ejection, in ms. */
  readonly maxEjectionMs: number;
  /** Share (in %) of a group's targets that may be ejected at once. */
  readonly maxEjectionPercent: number;
  /** Each full period a target stays healthy takes one step off its ejection multiplier, in ms. */
  readonly ejectionDecayMs: number;
}

export const breakerDefaults: BreakerSettings = {
  errorThresholdPercent: 50,
  volumeThreshold: 10,
  windowMs: 10_000,
  windowBuckets: 10,
  resetTimeoutMs: 30_000,
  halfOpenProbes: 1,
  slowCallMs: 0,
  slowCallRatePercent: 50,
};

export const outlierDefaults: OutlierSettings = {
  consecutiveFailures: 5,
  baseEjectionMs: 30_000,
  maxEjectionMs: 300_000,
  maxEjectionPercent: 50,
  ejectionDecayMs: 60_000,
};

/**
 * The target misbehaved: a 5xx, a 429 (it is shedding load, so more traffic makes it worse) or a
 * transport failure. Other 4xx are the client's fault and say nothing about the target's health.
 */
export function isFailure(status: AttemptStatus): boolean {
  return typeof status !== 'number' || status >= 500 || status === 429;
}

/** A 4xx other than 429: a failed request, but a healthy target (opossum's errorFilter). */
export function isClientError(status: AttemptStatus): boolean {
  return typeof status === 'number' && status >= 400 && status < 500 && status !== 429;
}

/**
 * What outlier ejection counts, after Envoy's consecutive_5xx: server errors and transport failures.
 * A 429 is an answer from a working target that asks for less traffic; the breaker handles storms.
 */
export function isServerFailure(status: AttemptStatus): boolean {
  return typeof status !== 'number' || status >= 500;
}

function check(ok: boolean, path: string, rule: string, value: unknown): void {
  if (!ok) throw new RangeError(`${path} must be ${rule}, got ${String(value)}`);
}

const isInt = (value: number, min: number) => Number.isInteger(value) && value >= min;
const percent = (value: number) => Number.isFinite(value) && value >= 0 && value <= 100;
const positive = (value: number) => Number.isFinite(value) && value > 0;

/** Fills in defaults; throws a RangeError naming the first bad field, prefixed by `path`. */
export function breakerSettings(options: Partial<BreakerSettings> = {}, path = 'breaker'): BreakerSettings {
  const settings = { ...breakerDefaults, ...options };
  const { errorThresholdPercent, volumeThreshold, windowMs, windowBuckets } = settings;
  check(
    percent(errorThresholdPercent),
    `${path}.errorThresholdPercent`,
    'in [0, 100]',
    errorThresholdPercent,
  );
  check(isInt(volumeThreshold, 1), `${path}.volumeThreshold`, 'an integer ≥ 1', volumeThreshold);
  check(isInt(windowBuckets, 1), `${path}.windowBuckets`, 'an integer ≥ 1', windowBuckets);
  // opossum rotates buckets on a whole number of ms; a zero-length bucket would spin.
  check(
    Number.isFinite(windowMs) && windowMs >= windowBuckets,
    `${path}.windowMs`,
    `a number ≥ windowBuckets (${windowBuckets})`,
    windowMs,
  );
  check(positive(settings.resetTimeoutMs), `${path}.resetTimeoutMs`, 'a number > 0', settings.resetTimeoutMs);
  check(
    isInt(settings.halfOpenProbes, 1),
    `${path}.halfOpenProbes`,
    'an integer ≥ 1',
    settings.halfOpenProbes,
  );
  const { slowCallMs, slowCallRatePercent } = settings;
  check(Number.isFinite(slowCallMs) && slowCallMs >= 0, `${path}.slowCallMs`, 'a number ≥ 0', slowCallMs);
  check(percent(slowCallRatePercent), `${path}.slowCallRatePercent`, 'in [0, 100]', slowCallRatePercent);
  return settings;
}

/** Fills in defaults; throws a RangeError naming the first bad field, prefixed by `path`. */
export function outlierSettings(options: Partial<OutlierSettings> = {}, path = 'outlier'): OutlierSettings {
  const settings = { ...outlierDefaults, ...options };
  const { consecutiveFailures, baseEjectionMs, maxEjectionMs, maxEjectionPercent } = settings;
  check(isInt(consecutiveFailures, 0), `${path}.consecutiveFailures`, 'an integer ≥ 0', consecutiveFailures);
  check(positive(baseEjectionMs), `${path}.baseEjectionMs`, 'a number > 0', baseEjectionMs);
  check(
    Number.isFinite(maxEjectionMs) && maxEjectionMs >= baseEjectionMs,
    `${path}.maxEjectionMs`,
    `a number ≥ baseEjectionMs (${baseEjectionMs})`,
    maxEjectionMs,
  );
  check(percent(maxEjectionPercent), `${path}.maxEjectionPercent`, 'in [0, 100]', maxEjectionPercent);
  check(
    positive(settings.ejectionDecayMs),
    `${path}.ejectionDecayMs`,
    'a number > 0',
    settings.ejectionDecayMs,
  );
  return settings;
}

/**
 * How many of a group's `size` targets may be ejected at once. Unlike Envoy's default (10 %, at
 * least one), a one-target group never ejects below 100 %: ejection exists to move traffic to a
 * healthier peer, and with none there is nowhere to move it; the breaker still protects that target.
 */
export function ejectionAllowance(size: number, maxEjectionPercent: number): number {
  if (maxEjectionPercent <= 0 || size <= 0) return 0;
  const share = Math.floor((size * maxEjectionPercent) / 100);
  return size >= 2 ? Math.max(1, share) : share;
}
