/** The mock LLM's options: defaults and eager validation, so a bad value fails at start, not mid-test. */

export interface MockLlmOptions {
  /** Interface to listen on. */
  host: string;
  /** TCP port; 0 picks a free one (read it back from `MockLlm.port`). */
  port: number;
  /** How many models `/v1/models` lists (at least the well-known ids SDK examples use). */
  models: number;
  /** Delay before the response head, for every request. */
  latencyMs: number;
  /** Delay between consecutive SSE events. 0 writes the whole stream at once. */
  gapMs: number;
  /** Completion length in tokens (one word each), before `max_tokens` caps it. */
  tokens: number;
  /** Share of requests (0..1) answered with one of `errorStatuses`. */
  errorRate: number;
  errorStatuses: readonly number[];
  /** Share of requests (0..1) whose connection is closed at a random point of the response. */
  resetRate: number;
  /** Send the status line at once but the rest of the head only after this delay. */
  slowHeadersMs: number;
  /** Seconds sent in `retry-after` with every 429. */
  retryAfterSeconds: number;
  /** Seeds the fault-injection draws, so a sequential run fails the same requests every time. */
  seed: number | undefined;
  /** Larger request bodies get 413. */
  maxBodyBytes: number;
  /** Embedding length when the request does not ask for `dimensions`. */
  embeddingDimensions: number;
}

export const defaultMockLlmOptions: Readonly<MockLlmOptions> = Object.freeze({
  host: '127.0.0.1',
  port: 0,
  models: 8,
  latencyMs: 0,
  gapMs: 0,
  tokens: 16,
  errorRate: 0,
  errorStatuses: Object.freeze([500, 503, 429]),
  resetRate: 0,
  slowHeadersMs: 0,
  // Short, so SDK retries in tests and load runs stay quick.
  retryAfterSeconds: 1,
  seed: undefined,
  maxBodyBytes: 16 * 1024 * 1024,
  embeddingDimensions: 1536,
});

function requireInteger(name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(
      `mock-llm option ${name} must be an integer between ${min} and ${max}, got ${value}.`,
    );
  }
}

function requireRate(name: string, value: number): void {
  if (!(Number.isFinite(value) && value >= 0 && value <= 1)) {
    throw new RangeError(`mock-llm option ${name} must be a number between 0 and 1, got ${value}.`);
  }
}

/** Fills defaults and rejects out-of-range values with a message naming the option. */
export function resolveMockLlmOptions(partial: Partial<MockLlmOptions> = {}): Readonly<MockLlmOptions> {
  const defined = Object.fromEntries(Object.entries(partial).filter(([, value]) => value !== undefined));
  const options: MockLlmOptions = { ...defaultMockLlmOptions, ...defined };
  requireInteger('port', options.port, 0, 65535);
  requireInteger('models', options.models, 0);
  requireInteger('latencyMs', options.latencyMs, 0);
  requireInteger('gapMs', options.gapMs, 0);
  requireInteger('tokens', options.tokens, 0);
  requireInteger('slowHeadersMs', options.slowHeadersMs, 0);
  requireInteger('retryAfterSeconds', options.retryAfterSeconds, 0, 86_400);
  requireInteger('maxBodyBytes', options.maxBodyBytes, 0);
  requireInteger('embeddingDimensions', options.embeddingDimensions, 1, 65536);
  if (options.seed !== undefined) requireInteger('seed', options.seed, 0, 0xffffffff);
  requireRate('errorRate', options.errorRate);
  requireRate('resetRate', options.resetRate);
  if (options.errorStatuses.length === 0 && options.errorRate > 0) {
    throw new RangeError('mock-llm option errorStatuses must not be empty when errorRate > 0.');
  }
  for (const status of options.errorStatuses) requireInteger('errorStatuses[]', status, 400, 599);
  if (typeof options.host !== 'string' || options.host === '') {
    throw new RangeError('mock-llm option host must be a non-empty string.');
  }
  return Object.freeze({ ...options, errorStatuses: Object.freeze([...options.errorStatuses]) });
}

/** The options a running mock can change (`MockLlm.setFaults`): all read per request, none at start. */
export const runtimeFaultOptions = [
  'latencyMs',
  'gapMs',
  'errorRate',
  'errorStatuses',
  'resetRate',
  'slowHeadersMs',
  'retryAfterSeconds',
] as const;

export type MockFaults = Partial<Pick<MockLlmOptions, (typeof runtimeFaultOptions)[number]>>;

/**
 * `current` with `faults` applied, validated by the same rules as at start. A key outside
 * `runtimeFaultOptions` is refused: a JavaScript caller changing `port` would otherwise be ignored.
 */
export function withFaults(current: Readonly<MockLlmOptions>, faults: MockFaults): Readonly<MockLlmOptions> {
  const allowed: readonly string[] = runtimeFaultOptions;
  const changed: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(faults)) {
    if (!allowed.includes(key)) {
      throw new RangeError(
        `mock-llm option ${key} cannot be changed while running (only ${allowed.join(', ')}).`,
      );
    }
    // Like at start, undefined means "not given": it keeps the current value, not the default.
    if (value !== undefined) changed[key] = value;
  }
  return resolveMockLlmOptions({ ...current, ...changed });
}
