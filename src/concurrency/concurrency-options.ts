/**
 * Options of a concurrency limiter, and their eager validation: the config schema checks the YAML,
 * but a limiter built from bad numbers (a NaN limit, no classes) would fail silently at the first
 * request, so the constructor refuses them with the name of the field.
 */
import { type AdaptiveOptions, validateAdaptiveOptions } from './adaptive-limit.ts';

export type { AdaptiveOptions, AimdOptions, GradientOptions } from './adaptive-limit.ts';

/** Schedules `callback` after `delayMs`; returns the cancel function. Injectable so tests own time. */
export type SetTimer = (callback: () => void, delayMs: number) => () => void;

export interface ConcurrencyOptions {
  /** The static limit of requests in flight, or the adaptive limit's starting point. */
  readonly maxInFlight: number;
  /** maxSize 0: no queue, a request over the limit is rejected at once. */
  readonly queue: { readonly maxSize: number; readonly timeoutMs: number };
  /** Priority classes, highest first, e.g. ['interactive', 'default', 'batch']. FIFO within a class. */
  readonly classes: readonly string[];
  /** Absent: the limit stays maxInFlight. */
  readonly adaptive?: AdaptiveOptions;
  /** Monotonic clock in ms (default performance.now). Fixed at construction. */
  readonly now?: () => number;
  /** Timer for queue timeouts (default an unref'd setTimeout). Fixed at construction. */
  readonly setTimer?: SetTimer;
}

function check(ok: boolean, path: string, rule: string, value: unknown): void {
  if (!ok) throw new RangeError(`${path} must be ${rule}, got ${String(value)}`);
}

export function validateConcurrencyOptions(options: ConcurrencyOptions): void {
  const { maxInFlight, queue, classes } = options;
  check(Number.isInteger(maxInFlight) && maxInFlight >= 1, 'maxInFlight', 'an integer ≥ 1', maxInFlight);
  check(
    Number.isInteger(queue.maxSize) && queue.maxSize >= 0,
    'queue.maxSize',
    'an integer ≥ 0',
    queue.maxSize,
  );
  const timeout = queue.timeoutMs;
  check(Number.isFinite(timeout) && timeout > 0, 'queue.timeoutMs', 'a number > 0', timeout);
  check(classes.length >= 1, 'classes', 'a non-empty list', '[]');
  const seen = new Set<string>();
  for (const name of classes) {
    check(name.length > 0, 'classes', 'non-empty names', JSON.stringify(name));
    check(!seen.has(name), 'classes', 'unique names', `"${name}" twice`);
    seen.add(name);
  }
  if (options.adaptive !== undefined) validateAdaptiveOptions(options.adaptive);
}

export const defaultNow = (): number => performance.now();

export const defaultSetTimer: SetTimer = (callback, delayMs) => {
  const timer = setTimeout(callback, delayMs);
  // Waiters keep their own requests (and so the server) alive; the timer alone must not hold the process.
  timer.unref();
  return () => clearTimeout(timer);
};
