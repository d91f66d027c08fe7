/**
 * Active health checks (after Envoy's and Caddy's): each target is asked for a cheap path on its own
 * timer, and consecutive passes or failures past a threshold flip its active health, which
 * `TargetHealth.setActiveHealth` folds into the state the balancer sees. Passive detection (breaker,
 * outlier ejection) only learns from real traffic; these checks also find a dead target that gets
 * none, and bring an ejected one back without risking a client request on it.
 *
 * Checks go through the target's own undici dispatcher, so they use (and are limited by) the same
 * pool and TLS settings as the traffic they stand in for.
 */
import type { Dispatcher } from 'undici';
import { defaultSetTimer, type SetTimer } from '../concurrency/concurrency-options.ts';

export interface HealthCheckSettings {
  /** Appended to the target's base path, e.g. '/v1/models' or '/health'. */
  readonly path: string;
  readonly method: 'GET' | 'HEAD';
  /**
   * From the end of one check to the start of the next, in ms. Counted from the end, so checks of
   * one target never overlap whatever `timeoutMs` is: a timeout longer than the interval only
   * stretches the period of a hung target.
   */
  readonly intervalMs: number;
  /** A check that takes longer (connect, headers and body together) fails, in ms. */
  readonly timeoutMs: number;
  /** Consecutive passes that make an unhealthy target healthy again. */
  readonly healthyThreshold: number;
  /** Consecutive failures that make a healthy target unhealthy. */
  readonly unhealthyThreshold: number;
  /** Statuses that pass; empty: any 200-399. */
  readonly expectedStatuses: readonly number[];
}

export const healthCheckDefaults: Readonly<Omit<HealthCheckSettings, 'path'>> = Object.freeze({
  method: 'GET',
  intervalMs: 10_000,
  timeoutMs: 2000,
  healthyThreshold: 2,
  unhealthyThreshold: 3,
  expectedStatuses: Object.freeze([]),
});

export interface CheckedTarget {
  readonly name: string;
  readonly dispatcher: Dispatcher;
  /** `scheme://host:port`. */
  readonly origin: string;
  /** Without a trailing slash; '' for none. */
  readonly basePath: string;
  /** Sent with every check (the api key: a health path behind auth must see it). */
  readonly headers: Readonly<Record<string, string>>;
}

export interface HealthCheckerDeps {
  /** Called once per change of a target's checked health; must not throw. */
  setHealthy(target: string, healthy: boolean): void;
  /** Every finished check, for logs and metrics; must not throw. */
  onResult?(target: string, passed: boolean, detail: string): void;
  /** Schedules the checks (default an unref'd setTimeout). Check timeouts always run on real time. */
  setTimer?: SetTimer;
  /** In [0, 1): the initial jitter (default Math.random). */
  random?: () => number;
}

export const healthCheckUserAgent = 'sluice-health-check';

/** More than a health endpoint answers; past it undici drops the connection rather than read on. */
const maxDrainedBytes = 64 * 1024;

function check(ok: boolean, path: string, rule: string, value: unknown): void {
  if (!ok) throw new RangeError(`${path} must be ${rule}, got ${String(value)}`);
}

const positiveInt = (value: number) => Number.isInteger(value) && value >= 1;

/** Fills in defaults; throws a RangeError naming the first bad field, prefixed by `prefix`. */
export function healthCheckSettings(
  partial: Partial<HealthCheckSettings>,
  prefix = 'healthCheck',
): HealthCheckSettings {
  const settings: HealthCheckSettings = { path: '', ...healthCheckDefaults, ...partial };
  const { path, method } = settings;
  // Printable ASCII only: the path goes on the request line as is, so a space or a newline would break it.
  check(
    typeof path === 'string' && /^\/[!-~]*$/.test(path),
    `${prefix}.path`,
    "a path starting with '/', printable ASCII (percent-encode the rest)",
    JSON.stringify(path),
  );
  check(method === 'GET' || method === 'HEAD', `${prefix}.method`, "'GET' or 'HEAD'", method);
  for (const field of ['intervalMs', 'timeoutMs', 'healthyThreshold', 'unhealthyThreshold'] as const) {
    check(positiveInt(settings[field]), `${prefix}.${field}`, 'an integer ≥ 1', settings[field]);
  }
  for (const status of settings.expectedStatuses) {
    const ok = Number.isInteger(status) && status >= 100 && status <= 599;
    check(ok, `${prefix}.expectedStatuses[]`, 'an integer in [100, 599]', status);
  }
  return Object.freeze({ ...settings, expectedStatuses: Object.freeze([...settings.expectedStatuses]) });
}

class CheckTimeout extends Error {
  override readonly name = 'CheckTimeout';
}

interface TargetState {
  readonly target: CheckedTarget;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  healthy: boolean;
  passes: number;
  failures: number;
  cancelTimer: (() => void) | undefined;
  /** The running check: a second caller shares it instead of starting an overlapping one. */
  running: Promise<boolean> | undefined;
  abort: AbortController | undefined;
}

export class HealthChecker {
  private readonly settings: HealthCheckSettings;
  private readonly deps: HealthCheckerDeps;
  private readonly setTimer: SetTimer;
  private readonly random: () => number;
  private readonly states = new Map<string, TargetState>();
  private started = false;
  private stopped = false;

  constructor(targets: readonly CheckedTarget[], settings: HealthCheckSettings, deps: HealthCheckerDeps) {
    this.settings = healthCheckSettings(settings);
    this.deps = deps;
    this.setTimer = deps.setTimer ?? defaultSetTimer;
    this.random = deps.random ?? Math.random;
    for (const target of targets) {
      if (this.states.has(target.name)) throw new RangeError(`target "${target.name}" is named twice`);
      this.states.set(target.name, {
        target,
        path: target.basePath + this.settings.path,
        headers: { ...target.headers, 'user-agent': healthCheckUserAgent },
        // Until the checks say otherwise: passive detection guards the target meanwhile.
        healthy: true,
        passes: 0,
        failures: 0,
        cancelTimer: undefined,
        running: undefined,
        abort: undefined,
      });
    }
  }

  /** Schedules every target's first check within one interval. Starting twice is a no-op. */
  start(): void {
    if (this.stopped) throw new Error('a stopped HealthChecker cannot start again');
    if (this.started) return;
    this.started = true;
    for (const state of this.states.values()) {
      // Spread over the interval so replicas (and the targets of one group) do not check in lockstep.
      const jitter = Math.floor(Math.min(Math.max(this.random(), 0), 1) * this.settings.intervalMs);
      this.schedule(state, jitter);
    }
  }

  /** Cancels every timer and aborts checks in flight; no callback fires after this. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const state of this.states.values()) {
      state.cancelTimer?.();
      state.cancelTimer = undefined;
      state.abort?.abort(new Error('health checker stopped'));
    }
  }

  /**
   * Checks `target` now and applies the result; resolves whether it passed. While a check of that
   * target is running, resolves with that one's result instead of starting another.
   */
  checkNow(target: string): Promise<boolean> {
    const state = this.states.get(target);
    if (state === undefined) return Promise.reject(new RangeError(`unknown target "${target}"`));
    if (this.stopped) return Promise.reject(new Error('the HealthChecker was stopped'));
    state.running ??= this.run(state).finally(() => {
      state.running = undefined;
    });
    return state.running;
  }

  private schedule(state: TargetState, delayMs: number): void {
    state.cancelTimer = this.setTimer(() => {
      state.cancelTimer = undefined;
      if (this.stopped) return;
      void this.checkNow(state.target.name).then(() => {
        if (!this.stopped) this.schedule(state, this.settings.intervalMs);
      });
    }, delayMs);
  }

  private async run(state: TargetState): Promise<boolean> {
    const { passed, detail } = await this.probe(state);
    if (this.stopped) return passed;
    this.deps.onResult?.(state.target.name, passed, detail);
    this.apply(state, passed);
    return passed;
  }

  private apply(state: TargetState, passed: boolean): void {
    const { healthyThreshold, unhealthyThreshold } = this.settings;
    // Capped at the thresholds: a long-lived target must not count forever.
    if (passed) {
      state.failures = 0;
      state.passes = Math.min(state.passes + 1, healthyThreshold);
      if (state.healthy || state.passes < healthyThreshold) return;
      state.healthy = true;
    } else {
      state.passes = 0;
      state.failures = Math.min(state.failures + 1, unhealthyThreshold);
      if (!state.healthy || state.failures < unhealthyThreshold) return;
      state.healthy = false;
    }
    this.deps.setHealthy(state.target.name, state.healthy);
  }

  /** One request; never rejects. */
  private async probe(state: TargetState): Promise<{ passed: boolean; detail: string }> {
    const { timeoutMs, method } = this.settings;
    const abort = new AbortController();
    state.abort = abort;
    // Real time, not the injected timer: it bounds real I/O, and a hung target must fail the check.
    const timer = setTimeout(
      () => abort.abort(new CheckTimeout(`timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
    try {
      const { target } = state;
      const response = await target.dispatcher.request({
        origin: target.origin,
        path: state.path,
        method,
        headers: state.headers,
        // The one deadline for connect, headers and body; the pool's own timeouts are for traffic.
        signal: abort.signal,
      });
      // Read to the end so the connection goes back to the pool; a huge body is cut off instead.
      await response.body.dump({ limit: maxDrainedBytes, signal: abort.signal });
      const passed = this.expected(response.statusCode);
      return { passed, detail: `status ${response.statusCode}` };
    } catch (error) {
      const reason = abort.signal.aborted ? abort.signal.reason : error;
      return { passed: false, detail: describe(reason) };
    } finally {
      clearTimeout(timer);
      state.abort = undefined;
    }
  }

  private expected(status: number): boolean {
    const { expectedStatuses } = this.settings;
    if (expectedStatuses.length === 0) return status >= 200 && status < 400;
    return expectedStatuses.includes(status);
  }
}

function describe(error: unknown): string {
  if (error instanceof CheckTimeout) return error.message;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code !== '') return code;
  return error instanceof Error ? error.message : String(error);
}
