import { once } from 'node:events';
import { type IncomingMessage, request } from 'node:http';
import t from 'tap';
import { defaultMockLlmOptions } from '../../src/mock-llm/options.ts';
import { type MockFaults, startMockLlm } from '../../src/mock-llm/server.ts';
import { until } from '../support/eventually.ts';

const chat = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] };

async function post(url: string, headers: Record<string, string> = {}): Promise<Response> {
  const response = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(chat),
  });
  await response.arrayBuffer();
  return response;
}

async function statuses(url: string, count: number): Promise<number[]> {
  const seen: number[] = [];
  for (let i = 0; i < count; i++) seen.push((await post(url)).status);
  return seen;
}

t.test('errors on, off again, without a restart', async (t) => {
  const mock = await startMockLlm({ errorRate: 1, errorStatuses: [500] });
  t.teardown(() => mock.close());
  t.same(await statuses(mock.url, 3), [500, 500, 500]);
  const before = mock.options;
  mock.setFaults({ errorRate: 0 });
  t.same(await statuses(mock.url, 3), [200, 200, 200]);
  t.equal(mock.options.errorRate, 0, 'options reflects the change');
  t.same(mock.options.errorStatuses, [500], 'what was not given stays');
  t.equal(before.errorRate, 1, 'the options object handed out before is replaced, not changed');
  t.ok(Object.isFrozen(mock.options));
  mock.setFaults({ errorRate: 1, errorStatuses: [503], latencyMs: undefined });
  t.same(await statuses(mock.url, 2), [503, 503]);
  t.equal(mock.options.latencyMs, 0, 'undefined keeps the current value');
  t.equal(mock.options.tokens, defaultMockLlmOptions.tokens, 'other options untouched');
});

t.test('latencyMs applies to requests that arrive afterwards', async (t) => {
  const mock = await startMockLlm();
  t.teardown(() => mock.close());
  mock.setFaults({ latencyMs: 300 });
  const started = performance.now();
  t.equal((await post(mock.url)).status, 200);
  t.ok(performance.now() - started >= 290, 'the new latency was waited');
  mock.setFaults({ latencyMs: 0 });
  const again = performance.now();
  await post(mock.url);
  t.ok(performance.now() - again < 290, 'and taken away again');
});

t.test('a request in progress keeps the options it arrived with', async (t) => {
  const mock = await startMockLlm();
  t.teardown(() => mock.close());
  const body = JSON.stringify(chat);
  const req = request(`${mock.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'content-length': String(body.length) },
  });
  const response = once(req, 'response') as Promise<[IncomingMessage]>;
  // Half the body: the mock has taken the request in but not yet drawn its faults.
  req.write(body.slice(0, 10));
  await until('the mock sees the request', 2000, () => mock.stats.started === 1);
  mock.setFaults({ errorRate: 1, errorStatuses: [500] });
  req.end(body.slice(10));
  const [res] = await response;
  res.resume();
  t.equal(res.statusCode, 200);
  t.equal((await post(mock.url)).status, 500, 'the next request gets the new faults');
});

t.test('invalid values throw a RangeError and change nothing', async (t) => {
  const mock = await startMockLlm({ errorRate: 0.5 });
  t.teardown(() => mock.close());
  const before = mock.options;
  const bad: [MockFaults, RegExp][] = [
    [{ errorRate: 2 }, /errorRate/],
    [{ resetRate: -0.1 }, /resetRate/],
    [{ latencyMs: -1 }, /latencyMs/],
    [{ gapMs: 1.5 }, /gapMs/],
    [{ slowHeadersMs: Number.NaN }, /slowHeadersMs/],
    [{ errorStatuses: [200] }, /errorStatuses/],
    [{ errorStatuses: [] }, /errorStatuses must not be empty when errorRate > 0/],
    [{ retryAfterSeconds: -1 }, /retryAfterSeconds/],
    [{ port: 1 } as MockFaults, /port cannot be changed while running/],
  ];
  for (const [faults, message] of bad) {
    t.throws(() => mock.setFaults(faults), RangeError);
    t.throws(() => mock.setFaults(faults), message);
  }
  t.equal(mock.options, before);
});

t.test('429s carry retry-after: 1 by default, retryAfterSeconds at start or at run time', async (t) => {
  t.equal(defaultMockLlmOptions.retryAfterSeconds, 1);
  const mock = await startMockLlm({ retryAfterSeconds: 7 });
  t.teardown(() => mock.close());
  const forced = await post(mock.url, { 'x-mock-status': '429' });
  t.equal(forced.status, 429);
  t.equal(forced.headers.get('retry-after'), '7');
  mock.setFaults({ errorRate: 1, errorStatuses: [429], retryAfterSeconds: 0 });
  const drawn = await post(mock.url);
  t.equal(drawn.status, 429);
  t.equal(drawn.headers.get('retry-after'), '0');
  const other = await post(mock.url, { 'x-mock-status': '503' });
  t.equal(other.headers.get('retry-after'), null, 'only 429s carry it');

  const plain = await startMockLlm();
  t.teardown(() => plain.close());
  t.equal((await post(plain.url, { 'x-mock-status': '429' })).headers.get('retry-after'), '1');
  await t.rejects(startMockLlm({ retryAfterSeconds: 86_401 }), RangeError);
});
