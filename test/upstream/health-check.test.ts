import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import { Pool } from 'undici';
import type { SetTimer } from '../../src/concurrency/concurrency-options.ts';
import {
  type CheckedTarget,
  HealthChecker,
  type HealthCheckSettings,
  healthCheckSettings,
} from '../../src/upstream/health-check.ts';
import { FakeClock } from '../concurrency/concurrency-helpers.ts';
import { until } from '../support/eventually.ts';
import { startUpstream } from '../support/upstream-server.ts';

function target(t: Test, name: string, origin: string, extra: Partial<CheckedTarget> = {}): CheckedTarget {
  // One connection: a check that left its body unread, or dropped the socket, shows in the next one.
  const dispatcher = new Pool(origin, { connections: 1 });
  t.teardown(() => dispatcher.destroy());
  return { name, dispatcher, origin, basePath: '', headers: {}, ...extra };
}

interface Harness {
  checker: HealthChecker;
  changes: string[];
  results: string[];
}

function setup(
  t: Test,
  targets: CheckedTarget[],
  settings: Partial<HealthCheckSettings> = {},
  extra: { setTimer?: SetTimer; random?: () => number } = {},
): Harness {
  const changes: string[] = [];
  const results: string[] = [];
  const checker = new HealthChecker(targets, healthCheckSettings({ path: '/health', ...settings }), {
    setHealthy: (name, healthy) => changes.push(`${name} ${healthy ? 'healthy' : 'unhealthy'}`),
    onResult: (name, passed, detail) => results.push(`${name} ${passed ? 'pass' : 'fail'} ${detail}`),
    ...extra,
  });
  t.teardown(() => checker.stop());
  return { checker, changes, results };
}

async function checks(checker: HealthChecker, name: string, count: number): Promise<boolean[]> {
  const passed: boolean[] = [];
  for (let i = 0; i < count; i++) passed.push(await checker.checkNow(name));
  return passed;
}

/** A port nothing listens on: bound once, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

t.test('settings: defaults, and bad values refused naming the field', async (t) => {
  t.same(healthCheckSettings({ path: '/v1/models' }), {
    path: '/v1/models',
    method: 'GET',
    intervalMs: 10_000,
    timeoutMs: 2000,
    healthyThreshold: 2,
    unhealthyThreshold: 3,
    expectedStatuses: [],
  });
  t.equal(healthCheckSettings({ path: '/h', intervalMs: 100, timeoutMs: 500 }).timeoutMs, 500);
  t.throws(() => healthCheckSettings({}), /healthCheck\.path/, 'no default path');
  t.throws(() => healthCheckSettings({ path: 'health' }), /healthCheck\.path/);
  t.throws(() => healthCheckSettings({ path: '/a b' }), /healthCheck\.path/);
  const bad: [Partial<HealthCheckSettings>, RegExp][] = [
    [{ method: 'POST' as 'GET' }, /method/],
    [{ intervalMs: 0 }, /intervalMs must be an integer ≥ 1/],
    [{ timeoutMs: 1.5 }, /timeoutMs/],
    [{ healthyThreshold: Number.NaN }, /healthyThreshold/],
    [{ unhealthyThreshold: -1 }, /unhealthyThreshold/],
    [{ expectedStatuses: [200, 600] }, /expectedStatuses\[\] must be an integer in \[100, 599\], got 600/],
    [{ expectedStatuses: [99] }, /expectedStatuses/],
  ];
  for (const [partial, message] of bad) {
    t.throws(() => healthCheckSettings({ path: '/h', ...partial }), RangeError);
    t.throws(() => healthCheckSettings({ path: '/h', ...partial }), message);
  }
  t.throws(() => healthCheckSettings({ path: '/h', intervalMs: 0 }, 'upstreams.a.health_check'), {
    message: /^upstreams\.a\.health_check\.intervalMs/,
  });
});

t.test('500s: unhealthy after 3 consecutive failures, healthy after 2 passes, once per change', async (t) => {
  let status = 500;
  const origin = await startUpstream(t, (_req, res) => {
    res.writeHead(status).end('body');
  });
  const { checker, changes, results } = setup(t, [target(t, 'a', origin)]);
  t.same(await checks(checker, 'a', 2), [false, false]);
  t.same(changes, [], 'two failures are not enough');
  status = 200;
  t.equal(await checker.checkNow('a'), true);
  status = 500;
  t.same(await checks(checker, 'a', 2), [false, false]);
  t.same(changes, [], 'a pass in between resets the count: failures are consecutive');
  await checker.checkNow('a');
  t.same(changes, ['a unhealthy']);
  await checks(checker, 'a', 3);
  t.same(changes, ['a unhealthy'], 'further failures change nothing');
  status = 200;
  t.same(await checks(checker, 'a', 1), [true]);
  t.same(changes, ['a unhealthy'], 'one pass is not enough');
  await checks(checker, 'a', 3);
  t.same(changes, ['a unhealthy', 'a healthy']);
  t.equal(results[0], 'a fail status 500');
  t.equal(results.at(-1), 'a pass status 200');
});

t.test('connection refused fails the check', async (t) => {
  const port = await closedPort();
  const { checker, changes, results } = setup(t, [target(t, 'gone', `http://127.0.0.1:${port}`)]);
  t.same(await checks(checker, 'gone', 3), [false, false, false]);
  t.same(changes, ['gone unhealthy']);
  t.equal(results[0], 'gone fail ECONNREFUSED');
});

t.test('a hung target fails by timeout, and the request is aborted', async (t) => {
  let arrived = 0;
  let closed = 0;
  const origin = await startUpstream(t, (req) => {
    arrived++;
    req.socket.once('close', () => closed++);
  });
  const { checker, changes, results } = setup(t, [target(t, 'hung', origin)], {
    timeoutMs: 200,
    unhealthyThreshold: 2,
  });
  const started = performance.now();
  t.same(await checks(checker, 'hung', 2), [false, false]);
  t.ok(performance.now() - started < 3000, 'each check ends at its timeout');
  t.same(changes, ['hung unhealthy']);
  t.same(results, ['hung fail timed out after 200 ms', 'hung fail timed out after 200 ms']);
  // On a loaded machine a check can time out before its request is even written; count what arrived.
  await until('every request that arrived has its connection closed', 2000, () => closed === arrived);
  t.ok(arrived >= 1);
});

t.test('expectedStatuses: only those pass; empty means any 200-399', async (t) => {
  let status = 200;
  const origin = await startUpstream(t, (_req, res) => {
    res.writeHead(status).end();
  });
  const strict = setup(t, [target(t, 'a', origin)], { expectedStatuses: [204] }).checker;
  const loose = setup(t, [target(t, 'a', origin)]).checker;
  t.equal(await strict.checkNow('a'), false, '200 is not 204');
  status = 204;
  t.equal(await strict.checkNow('a'), true);
  status = 301;
  t.equal(await loose.checkNow('a'), true, 'a redirect is an answer');
  status = 404;
  t.equal(await loose.checkNow('a'), false);
  t.equal(await strict.checkNow('a'), false);
});

t.test('the request: base path + path, target headers, user-agent; the body is drained', async (t) => {
  const seen: { method: string | undefined; url: string | undefined; headers: IncomingHttpHeaders }[] = [];
  const ports = new Set<number>();
  const origin = await startUpstream(t, (req: IncomingMessage, res: ServerResponse) => {
    seen.push({ method: req.method, url: req.url, headers: req.headers });
    ports.add(req.socket.remotePort ?? 0);
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ data: 'x'.repeat(5000) }));
  });
  const a = target(t, 'a', origin, {
    basePath: '/proxy/v1',
    headers: { authorization: 'Bearer sk-test', 'x-extra': '1', 'user-agent': 'ignored' },
  });
  const { checker } = setup(t, [a], { path: '/models' });
  t.same(await checks(checker, 'a', 3), [true, true, true]);
  t.equal(seen.length, 3);
  t.match(seen[0], {
    method: 'GET',
    url: '/proxy/v1/models',
    headers: { authorization: 'Bearer sk-test', 'x-extra': '1', 'user-agent': 'sluice-health-check' },
  });
  t.equal(ports.size, 1, 'the drained connection is kept and reused');
});

t.test('HEAD works', async (t) => {
  const methods: (string | undefined)[] = [];
  const origin = await startUpstream(t, (req, res) => {
    methods.push(req.method);
    res.writeHead(200, { 'content-length': '1000' }).end();
  });
  const { checker } = setup(t, [target(t, 'a', origin)], { method: 'HEAD' });
  t.same(await checks(checker, 'a', 2), [true, true]);
  t.same(methods, ['HEAD', 'HEAD']);
});

t.test('scheduling: jitter first, then one interval after each end; never two at once', async (t) => {
  const clock = new FakeClock();
  const delays: number[] = [];
  const setTimer: SetTimer = (callback, delayMs) => {
    delays.push(delayMs);
    return clock.setTimer(callback, delayMs);
  };
  let inFlight = 0;
  let maxInFlight = 0;
  const answers: (() => void)[] = [];
  const origin = await startUpstream(t, (_req, res) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    answers.push(() => {
      inFlight--;
      res.writeHead(200).end();
    });
  });
  const targets = [target(t, 'a', origin), target(t, 'b', origin)];
  const draws = [0.25, 0.75];
  const { checker, results } = setup(
    t,
    targets,
    { intervalMs: 1000 },
    {
      setTimer,
      random: () => draws.shift() ?? 0,
    },
  );
  checker.start();
  checker.start();
  t.same(delays, [250, 750], 'each target on its own timer, spread over the interval');
  clock.advance(250);
  await until('a check of a arrives', 2000, () => inFlight === 1);
  t.equal(clock.pending, 1, "while a's check runs, only b's timer is armed");
  const shared = checker.checkNow('a');
  clock.advance(10_000);
  await new Promise((resolve) => setTimeout(resolve, 50));
  await until("b's check arrives", 2000, () => inFlight === 2);
  t.equal(maxInFlight, 2, 'one per target: checkNow joined the running check of a');
  answers.shift()?.();
  await until('first check answered', 2000, () => results.length === 1);
  answers.shift()?.();
  await until('second check answered', 2000, () => results.length === 2);
  t.equal(await shared, true);
  t.same(delays.slice(2), [1000, 1000], 'the next checks: one interval after each end');
  t.equal(clock.pending, 2);
  checker.stop();
  t.equal(clock.pending, 0, 'stop cancels the timers');
  await t.rejects(checker.checkNow('a'), /stopped/);
  t.throws(() => checker.start(), /stopped/);
});

t.test('stop aborts a check in flight; no callback fires after', async (t) => {
  let requests = 0;
  let closed = false;
  const origin = await startUpstream(t, (req) => {
    requests++;
    req.socket.once('close', () => {
      closed = true;
    });
  });
  const { checker, changes, results } = setup(t, [target(t, 'a', origin)], {
    intervalMs: 5,
    timeoutMs: 5000,
    unhealthyThreshold: 1,
  });
  checker.start();
  await until('the first check reaches the target', 2000, () => requests === 1);
  checker.stop();
  await until('the check is aborted', 2000, () => closed);
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.equal(requests, 1, 'nothing more is sent');
  t.same(results, []);
  t.same(changes, []);
});

t.test('real timers: checks repeat until stop, then nothing more runs', async (t) => {
  let requests = 0;
  let status = 503;
  const origin = await startUpstream(t, (_req, res) => {
    requests++;
    res.writeHead(status).end();
  });
  const { checker, changes } = setup(t, [target(t, 'a', origin)], {
    intervalMs: 5,
    unhealthyThreshold: 2,
    healthyThreshold: 2,
  });
  checker.start();
  await until('unhealthy', 5000, () => changes.length === 1);
  status = 200;
  await until('healthy again', 5000, () => changes.length === 2);
  t.same(changes, ['a unhealthy', 'a healthy']);
  checker.stop();
  const changed = changes.length;
  // A request already on the wire when stop() ran may still reach the target; nothing after that.
  await new Promise((resolve) => setTimeout(resolve, 30));
  const after = requests;
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.equal(requests, after, 'no check after stop');
  t.equal(changes.length, changed);
});

t.test('names must be unique; unknown names are refused', async (t) => {
  const origin = 'http://127.0.0.1:1';
  t.throws(() => setup(t, [target(t, 'a', origin), target(t, 'a', origin)]), /named twice/);
  const { checker: ok } = setup(t, [target(t, 'a', origin)]);
  await t.rejects(ok.checkNow('b'), RangeError);
});
