import t from 'tap';
import { type ErrorCode, SluiceError } from '../../src/pipeline/errors.ts';
import { retryAfterMs } from '../../src/upstream/retry-after.ts';
import {
  type AttemptContext,
  type AttemptOutcome,
  classifyAttempt,
  outcomeFromError,
  type RetryClassification,
} from '../../src/upstream/retry-classify.ts';
import { resolveRetryPolicy } from '../../src/upstream/retry-options.ts';

const WALL = Date.parse('2025-01-01T00:00:00Z');
const policy = resolveRetryPolicy({ retryNonIdempotent: true, maxRetryAfterMs: 10_000 });
const context: AttemptContext = {
  method: 'POST',
  responseStarted: false,
  clientGone: false,
  wallNowMs: WALL,
};
const status = (code: number, headers: Record<string, string> = {}): AttemptOutcome => ({
  kind: 'response',
  status: code,
  headers,
});
/** The hint of a retry decision, so date assertions read as numbers. */
const hinted = (classification: RetryClassification) => ({
  delayHintMs: classification.retry ? classification.delayHintMs : undefined,
});
const error = (code: ErrorCode): AttemptOutcome => ({ kind: 'error', code });

t.test('classification table', async (t) => {
  const table: [string, AttemptOutcome, string, boolean][] = [
    ['connect refused / DNS', error('upstream_connect_failed'), 'connect_failed', true],
    ['connect timeout', error('upstream_connect_timeout'), 'connect_timeout', true],
    ['reset before headers', error('upstream_connection_reset'), 'connection_reset', true],
    ['no headers in time', error('upstream_headers_timeout'), 'headers_timeout', true],
    ['broken HTTP', error('upstream_bad_response'), 'not_retryable', false],
    ['body stalled (after headers)', error('upstream_body_timeout'), 'not_retryable', false],
    ['client closed', error('client_closed_request'), 'not_retryable', false],
    ['our own body limit', error('request_body_too_large'), 'not_retryable', false],
    ['502', status(502), 'status', true],
    ['503', status(503), 'status', true],
    ['504', status(504), 'status', true],
    ['429', status(429), 'rate_limited', true],
    ['500 (not configured)', status(500), 'not_retryable', false],
    ['200', status(200), 'not_retryable', false],
    ['400', status(400), 'not_retryable', false],
    ['401', status(401), 'not_retryable', false],
  ];
  for (const [name, outcome, reason, retry] of table) {
    t.same(classifyAttempt(outcome, context, policy), { retry, reason }, name);
  }
});

t.test('the status list and 429 are configurable', async (t) => {
  const custom = resolveRetryPolicy({ statuses: [500], retryRateLimited: false, retryNonIdempotent: true });
  t.equal(classifyAttempt(status(500), context, custom).retry, true);
  t.equal(classifyAttempt(status(503), context, custom).retry, false);
  t.same(classifyAttempt(status(429), context, custom), { retry: false, reason: 'not_retryable' });
});

t.test('never once the response started, never for a client that left', async (t) => {
  const started = { ...context, responseStarted: true };
  const gone = { ...context, clientGone: true };
  for (const outcome of [status(503), status(429), error('upstream_connect_failed')]) {
    t.same(classifyAttempt(outcome, started, policy), { retry: false, reason: 'response_started' });
    t.same(classifyAttempt(outcome, gone, policy), { retry: false, reason: 'client_gone' });
  }
  t.same(
    classifyAttempt(status(503), { ...started, clientGone: true }, policy).reason,
    'response_started',
    'a started response is the stronger reason',
  );
});

t.test('non-idempotent methods only when the route opts in', async (t) => {
  const strict = resolveRetryPolicy();
  for (const method of ['POST', 'PATCH', 'post', 'CONNECT']) {
    t.same(
      classifyAttempt(status(503), { ...context, method }, strict),
      { retry: false, reason: 'not_idempotent' },
      method,
    );
  }
  for (const method of ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'get']) {
    t.equal(classifyAttempt(status(503), { ...context, method }, strict).retry, true, method);
  }
  t.equal(classifyAttempt(status(503), context, policy).retry, true, 'POST with the opt-in');
});

t.test('Retry-After: seconds, HTTP-date, retry-after-ms, and the cap', async (t) => {
  const classify = (headers: Record<string, string>, code = 429) =>
    classifyAttempt(status(code, headers), context, policy);
  t.same(classify({ 'retry-after': '3' }), { retry: true, reason: 'rate_limited', delayHintMs: 3000 });
  t.same(classify({ 'retry-after': '0' }), { retry: true, reason: 'rate_limited', delayHintMs: 0 });
  t.same(classify({ 'retry-after': '10' }).retry, true, 'exactly the cap is waited for');
  t.same(classify({ 'retry-after': '11' }), { retry: false, reason: 'retry_after_too_long' });
  t.same(
    hinted(classify({ 'retry-after': 'Wed, 01 Jan 2025 00:00:05 GMT' })).delayHintMs,
    5000,
    'IMF-fixdate',
  );
  t.same(
    hinted(classify({ 'retry-after': 'Wednesday, 01-Jan-25 00:00:07 GMT' })).delayHintMs,
    7000,
    'RFC 850 date',
  );
  t.same(classify({ 'retry-after': 'Wed, 01 Jan 2025 00:01:00 GMT' }).reason, 'retry_after_too_long');
  t.same(
    hinted(classify({ 'retry-after': 'Tue, 31 Dec 2024 23:59:00 GMT' })).delayHintMs,
    0,
    'a past date: now',
  );
  t.same(
    hinted(classify({ 'retry-after-ms': '250', 'retry-after': '1' })).delayHintMs,
    250,
    'ms is preferred',
  );
  t.same(classify({ 'retry-after': 'soon' }), { retry: true, reason: 'rate_limited' }, 'unreadable: backoff');
  t.same(classify({ 'retry-after': '-1' }), { retry: true, reason: 'rate_limited' });
  t.same(
    classify({ 'retry-after': '2' }, 503),
    { retry: true, reason: 'status', delayHintMs: 2000 },
    '503 too',
  );
  t.same(classify({ 'retry-after': '60' }, 503).reason, 'retry_after_too_long');
  t.same(classify({ 'retry-after': '60' }, 500).reason, 'not_retryable', 'ignored where no retry applies');
});

t.test('retryAfterMs edge cases', async (t) => {
  t.equal(retryAfterMs({}, WALL), undefined);
  t.equal(retryAfterMs({ 'retry-after': '  ' }, WALL), undefined);
  t.equal(retryAfterMs({ 'retry-after': ' 2 ' }, WALL), 2000, 'whitespace around the value');
  t.equal(retryAfterMs({ 'retry-after': '1.5' }, WALL), 1500, 'fractions as providers send them');
  t.equal(retryAfterMs({ 'retry-after': '2024' }, WALL), 2_024_000, 'digits are seconds, not a year');
  t.equal(retryAfterMs({ 'retry-after': ['4', '9'] }, WALL), 4000, 'a repeated header: the first');
  t.equal(retryAfterMs({ 'retry-after-ms': 'x', 'retry-after': '1' }, WALL), 1000, 'bad ms: falls back');
  t.equal(retryAfterMs({ 'retry-after': 'Foo, 99 Bar 2025 00:00:00 GMT' }, WALL), undefined);
});

t.test('outcomeFromError keeps catalog codes and never retries the unknown', async (t) => {
  t.same(outcomeFromError(new SluiceError('upstream_connect_failed')), error('upstream_connect_failed'));
  t.same(outcomeFromError(new Error('boom')), error('internal_error'));
  t.equal(classifyAttempt(outcomeFromError('weird'), context, policy).retry, false);
});

t.test('the policy is validated once, with the field name', async (t) => {
  t.throws(() => resolveRetryPolicy({ maxAttempts: 0 }), /maxAttempts must be an integer ≥ 1/);
  t.throws(() => resolveRetryPolicy({ statuses: [429] }), /statuses must be integers 500-599/);
  t.throws(() => resolveRetryPolicy({ baseDelayMs: Number.NaN }), /baseDelayMs/);
  t.throws(() => resolveRetryPolicy({ baseDelayMs: 500, maxDelayMs: 100 }), /maxDelayMs/);
  t.throws(() => resolveRetryPolicy({ perTryTimeoutMs: 0 }), /perTryTimeoutMs/);
  t.throws(() => resolveRetryPolicy({ maxRetryAfterMs: -1 }), /maxRetryAfterMs/);
  t.ok(Object.isFrozen(resolveRetryPolicy().statuses), 'a request cannot change the shared policy');
});
