/**
 * Concurrency limits and priority queues end to end: real HTTP through Sluice to the mock LLM. The
 * tests count what the mock sees at once and in which order requests reach it, so they assert
 * limits and ordering, never speed. A request that must hold a slot for as long as a test needs it
 * asks the mock for a long latency and is aborted by the client when the test is done with it.
 */
import OpenAI from 'openai';
import { Registry } from 'prom-client';
import t, { type Test } from 'tap';
import { request } from 'undici';
import { ConcurrencyLimiter } from '../../src/concurrency/concurrency.ts';
import type { MockLlm } from '../../src/mock-llm/server.ts';
import type { ExchangeEnd, ProxyContext } from '../../src/pipeline/context.ts';
import { concurrencyStage } from '../../src/stages/concurrency.ts';
import { registerMetrics } from '../../src/telemetry/metrics.ts';
import { startMockBackend } from '../support/mock-backend.ts';
import { scrape, total } from '../support/scrape.ts';
import { type RunningSluice, startSluice } from '../support/sluice.ts';

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
}

const chatBody = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });

/** A chat completion through Sluice; `id` reaches the mock as x-test-id. */
async function chat(
  base: string,
  id: string,
  headers: Record<string, string> = {},
  signal?: AbortSignal,
  path = '/v1/chat/completions',
): Promise<Answer> {
  const response = await request(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-test-id': id, ...headers },
    body: path.includes('messages')
      ? JSON.stringify({
          model: 'claude-3-5-haiku-latest',
          max_tokens: 16,
          messages: [{ role: 'user', content: 'hi' }],
        })
      : chatBody,
    ...(signal ? { signal } : {}),
  });
  return { status: response.statusCode, headers: response.headers, text: await response.body.text() };
}

/** A request that holds its slot until `release()` aborts it (the mock would answer after a minute). */
function occupy(t: Test, base: string, id: string, path?: string): { release: () => Promise<void> } {
  const controller = new AbortController();
  t.teardown(() => controller.abort());
  const pending = chat(base, id, { 'x-mock-latency-ms': '60000' }, controller.signal, path).catch(
    () => undefined,
  );
  return {
    release: async () => {
      controller.abort();
      await pending;
    },
  };
}

interface MockObserver {
  /** Requests the mock is working on now. */
  current: number;
  /** The most it ever worked on at once. */
  peak: number;
  /** x-test-id of every request, in the order the mock received them. */
  readonly arrivals: string[];
}

function observe(mock: MockLlm): MockObserver {
  const open = new Set<number>();
  const state: MockObserver = { current: 0, peak: 0, arrivals: [] };
  mock.on('request', (info) => {
    open.add(info.id);
    state.current = open.size;
    state.peak = Math.max(state.peak, state.current);
    state.arrivals.push(String(info.headers['x-test-id'] ?? ''));
  });
  const settled = (info: { id: number }) => {
    open.delete(info.id);
    state.current = open.size;
  };
  mock.on('complete', settled);
  mock.on('aborted', settled);
  mock.on('reset', settled);
  return state;
}

/** Polls `probe` until it holds; fails the test with `what` after `timeoutMs`. */
async function until(what: string, probe: () => boolean | Promise<boolean>, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function metric(sluice: RunningSluice, name: string, labels: Record<string, string>) {
  return total(await scrape(sluice.adminUrl), name, labels);
}

const queueDepth = (sluice: RunningSluice, labels: Record<string, string>) =>
  metric(sluice, 'sluice_concurrency_queue_depth', labels);

function chatRoute(extra: Record<string, unknown> = {}) {
  return { name: 'chat', upstream: 'llm', protocol: 'openai', match: { path_prefix: '/v1/' }, ...extra };
}

t.test(
  'max_in_flight 2: eight concurrent requests all succeed, the upstream never sees three',
  { timeout: 30_000 },
  async (t) => {
    const mock = await startMockBackend(t, { latencyMs: 200 });
    const seen = observe(mock);
    const sluice = await startSluice(t, {
      upstreams: { llm: { url: mock.url } },
      routes: [chatRoute({ concurrency: { max_in_flight: 2, queue: { max_size: 10 } } })],
    });
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => chat(sluice.url, `r${i}`)));
    t.same(
      answers.map((a) => a.status),
      Array(8).fill(200),
    );
    t.equal(mock.stats.completed, 8, 'all eight reached the upstream');
    t.equal(seen.peak, 2, 'the upstream had two requests at once, never more');
    const samples = await scrape(sluice.adminUrl);
    const route = { scope: 'route', name: 'chat' };
    t.equal(total(samples, 'sluice_concurrency_queue_wait_seconds_count', route), 8, 'every wait observed');
    t.equal(total(samples, 'sluice_concurrency_limit', route), 2);
    t.equal(total(samples, 'sluice_concurrency_in_flight', route), 0, 'every slot given back');
    t.equal(total(samples, 'sluice_concurrency_rejections_total', route), 0);
  },
);

t.test(
  'priority: queued interactive requests reach the upstream before every batch one',
  { timeout: 30_000 },
  async (t) => {
    const mock = await startMockBackend(t, { latencyMs: 20 });
    const seen = observe(mock);
    const sluice = await startSluice(t, {
      upstreams: { llm: { url: mock.url } },
      routes: [
        chatRoute({
          concurrency: { max_in_flight: 1, queue: { max_size: 10, timeout_ms: 30_000 } },
          priority: {
            class: 'default',
            header: 'x-priority',
            header_classes: { interactive: 'interactive', batch: 'batch' },
          },
        }),
      ],
    });
    const holder = occupy(t, sluice.url, 'hold');
    await until('the slot is taken', () => seen.current === 1);
    const pending: Promise<Answer>[] = [];
    // One at a time, so the arrival order inside each class is known.
    for (const [cls, ids] of [
      ['batch', ['b1', 'b2', 'b3']],
      ['interactive', ['i1', 'i2', 'i3']],
    ] as const) {
      for (const [n, id] of ids.entries()) {
        pending.push(chat(sluice.url, id, { 'x-priority': cls }));
        await until(`${id} waits`, async () => (await queueDepth(sluice, { class: cls })) === n + 1);
      }
    }
    t.equal(seen.arrivals.length, 1, 'nothing passed the held slot');
    await holder.release();
    const answers = await Promise.all(pending);
    t.same(
      answers.map((a) => a.status),
      Array(6).fill(200),
      'all six complete',
    );
    t.same(seen.arrivals, ['hold', 'i1', 'i2', 'i3', 'b1', 'b2', 'b3'], 'by class, FIFO within a class');
    const samples = await scrape(sluice.adminUrl);
    const waits = (cls: string) =>
      total(samples, 'sluice_concurrency_queue_wait_seconds_count', { name: 'chat', class: cls });
    t.same([waits('interactive'), waits('batch'), waits('default')], [3, 3, 1], 'waits by class');
  },
);

t.test(
  'a full queue answers 503 at once with Retry-After, in the route protocol’s shape',
  { timeout: 30_000 },
  async (t) => {
    const mock = await startMockBackend(t, { latencyMs: 10 });
    const seen = observe(mock);
    const limited = { max_in_flight: 1, queue: { max_size: 1, timeout_ms: 30_000 } };
    const sluice = await startSluice(t, {
      upstreams: { llm: { url: mock.url } },
      routes: [
        { ...chatRoute({ concurrency: limited }), match: { path_prefix: '/v1/chat/' } },
        {
          name: 'messages',
          upstream: 'llm',
          protocol: 'anthropic',
          match: { path_prefix: '/v1/messages' },
          concurrency: limited,
        },
      ],
    });

    t.test('openai route: raw HTTP and the official SDK', async (t) => {
      const holder = occupy(t, sluice.url, 'hold');
      await until('the slot is taken', () => seen.current === 1);
      const queued = chat(sluice.url, 'queued');
      await until('one waits', async () => (await queueDepth(sluice, { name: 'chat' })) === 1);

      const full = await chat(sluice.url, 'full');
      t.equal(full.status, 503);
      t.match(full.headers['retry-after'], /^[1-9]\d*$/, 'Retry-After in whole seconds');
      t.equal(full.headers['content-type'], 'application/json');
      t.equal(full.headers['x-sluice-error'], 'sluice_queue_full');
      t.match(JSON.parse(full.text), {
        error: {
          type: 'api_error',
          code: 'sluice_queue_full',
          param: null,
          message: /queue is full.*route chat/,
        },
      });

      const sdk = new OpenAI({ baseURL: `${sluice.url}/v1`, apiKey: 'sk-test', maxRetries: 0 });
      const error = await sdk.chat.completions
        .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      t.type(error, OpenAI.APIError, 'the SDK raises its APIError');
      const apiError = error as InstanceType<typeof OpenAI.APIError>;
      t.equal(apiError.status, 503);
      t.equal(apiError.code, 'sluice_queue_full');
      t.match(apiError.headers?.get('retry-after'), /^[1-9]\d*$/);

      // "At once": both were answered while the slot holder and the waiter were still there.
      t.equal(await queueDepth(sluice, { name: 'chat' }), 1, 'the waiter still waits');
      t.same(seen.arrivals, ['hold'], 'no rejected request reached the upstream');
      await holder.release();
      t.equal((await queued).status, 200, 'the waiter is served once the slot frees');
      t.equal(
        await metric(sluice, 'sluice_concurrency_rejections_total', { name: 'chat', reason: 'queue_full' }),
        2,
      );
    });

    t.test('anthropic route: the Anthropic error shape', async (t) => {
      const holder = occupy(t, sluice.url, 'hold-m', '/v1/messages');
      await until('the slot is taken', () => seen.current === 1);
      const queued = chat(sluice.url, 'queued-m', {}, undefined, '/v1/messages');
      await until('one waits', async () => (await queueDepth(sluice, { name: 'messages' })) === 1);
      const full = await chat(sluice.url, 'full-m', {}, undefined, '/v1/messages');
      t.equal(full.status, 503);
      t.match(full.headers['retry-after'], /^[1-9]\d*$/);
      t.match(JSON.parse(full.text), {
        type: 'error',
        error: { type: 'overloaded_error', code: 'sluice_queue_full' },
      });
      await holder.release();
      t.equal((await queued).status, 200);
    });
  },
);

t.test(
  'a request waiting past queue.timeout_ms gets 503 sluice_queue_timeout',
  { timeout: 30_000 },
  async (t) => {
    const mock = await startMockBackend(t);
    const seen = observe(mock);
    const sluice = await startSluice(t, {
      upstreams: { llm: { url: mock.url } },
      routes: [chatRoute({ concurrency: { max_in_flight: 1, queue: { max_size: 5, timeout_ms: 300 } } })],
    });
    const holder = occupy(t, sluice.url, 'hold');
    await until('the slot is taken', () => seen.current === 1);
    const started = Date.now();
    const late = await chat(sluice.url, 'late');
    const waited = Date.now() - started;
    t.equal(late.status, 503);
    t.ok(waited >= 250, `answered after the timeout, not before (${waited} ms)`);
    t.match(late.headers['retry-after'], /^[1-9]\d*$/);
    t.equal(late.headers['x-sluice-error'], 'sluice_queue_timeout');
    t.match(JSON.parse(late.text), { error: { type: 'api_error', code: 'sluice_queue_timeout' } });
    t.equal(seen.current, 1, 'the slot holder was still there');

    // A waiter whose client leaves is taken out of the queue and never reaches the upstream.
    const controller = new AbortController();
    const leaving = chat(sluice.url, 'leaving', {}, controller.signal).catch((e: unknown) => e);
    await until('it waits', async () => (await queueDepth(sluice, { name: 'chat' })) === 1);
    controller.abort();
    await leaving;
    await until('the queue is empty', async () => (await queueDepth(sluice, { name: 'chat' })) === 0);
    await holder.release();
    t.equal((await chat(sluice.url, 'after')).status, 200, 'the slot is free again');
    t.same(seen.arrivals, ['hold', 'after']);
    const samples = await scrape(sluice.adminUrl);
    const rejections = (reason: string) =>
      total(samples, 'sluice_concurrency_rejections_total', { name: 'chat', reason });
    t.same([rejections('queue_timeout'), rejections('aborted'), rejections('queue_full')], [1, 1, 0]);
  },
);

t.test(
  'an upstream-level limit is shared by every route to that upstream',
  { timeout: 30_000 },
  async (t) => {
    const mock = await startMockBackend(t, { latencyMs: 200 });
    const seen = observe(mock);
    const sluice = await startSluice(t, {
      upstreams: { llm: { url: mock.url, concurrency: { max_in_flight: 2, queue: { max_size: 10 } } } },
      routes: [
        { name: 'a', upstream: 'llm', protocol: 'openai', match: { path_prefix: '/a/' }, strip_prefix: '/a' },
        { name: 'b', upstream: 'llm', protocol: 'openai', match: { path_prefix: '/b/' }, strip_prefix: '/b' },
      ],
    });
    const answers = await Promise.all(
      ['a', 'b'].flatMap((route) =>
        [1, 2, 3].map((n) =>
          chat(sluice.url, `${route}${n}`, {}, undefined, `/${route}/v1/chat/completions`),
        ),
      ),
    );
    t.same(
      answers.map((a) => a.status),
      Array(6).fill(200),
    );
    t.same(new Set(seen.arrivals.map((id) => id[0])), new Set(['a', 'b']), 'both routes were served');
    t.equal(seen.peak, 2, 'two at once across both routes, never more');
    const samples = await scrape(sluice.adminUrl);
    const upstream = { scope: 'upstream', name: 'llm' };
    t.equal(total(samples, 'sluice_concurrency_limit', upstream), 2);
    t.equal(total(samples, 'sluice_concurrency_queue_wait_seconds_count', upstream), 6);
    t.equal(total(samples, 'sluice_concurrency_limit', { scope: 'route' }), 0, 'no route limiter');
  },
);

t.test(
  'a reload while requests wait keeps every waiter and applies the new limit',
  { timeout: 30_000 },
  async (t) => {
    const mock = await startMockBackend(t, { latencyMs: 300 });
    const seen = observe(mock);
    const config = (maxInFlight: number) => ({
      upstreams: { llm: { url: mock.url } },
      routes: [chatRoute({ concurrency: { max_in_flight: maxInFlight, queue: { max_size: 10 } } })],
    });
    const sluice = await startSluice(t, config(1));
    const holder = occupy(t, sluice.url, 'hold');
    await until('the slot is taken', () => seen.current === 1);
    const waiting = ['w1', 'w2', 'w3', 'w4'].map((id) => chat(sluice.url, id));
    await until('four wait', async () => (await queueDepth(sluice, { name: 'chat' })) === 4);
    t.equal(seen.peak, 1);

    await sluice.rewrite(config(3));
    t.same(await sluice.sluice.reload(), { ok: true });
    // The holder is still in flight: two waiters take the two new slots at once, the others follow.
    await until('the new slots are used', () => seen.current === 3);
    t.equal(await metric(sluice, 'sluice_concurrency_limit', { name: 'chat' }), 3);
    await holder.release();
    const answers = await Promise.all(waiting);
    t.same(
      answers.map((a) => a.status),
      [200, 200, 200, 200],
      'no waiter dropped',
    );
    t.equal(seen.peak, 3, 'the new limit, never more');
    t.same(seen.arrivals.slice(1).sort(), ['w1', 'w2', 'w3', 'w4']);
  },
);

t.test(
  'adaptive AIMD: the limit falls when upstream latency rises and recovers',
  { timeout: 60_000 },
  async (t) => {
    const mock = await startMockBackend(t);
    const start = 8;
    // Latencies far from the threshold on both sides, and few requests per second: the measured
    // latency includes this process's own event-loop lag (mock, Sluice and clients share it), which
    // must not cross the threshold on a busy CI machine.
    const fastMs = 50;
    const slowMs = 600;
    const sluice = await startSluice(t, {
      upstreams: { llm: { url: mock.url } },
      routes: [
        // Same upstream, no limit: warms connections and code paths before the adaptive route sees traffic.
        {
          name: 'warm',
          upstream: 'llm',
          protocol: 'openai',
          match: { path_prefix: '/warm/' },
          strip_prefix: '/warm',
        },
        chatRoute({
          concurrency: {
            max_in_flight: start,
            queue: { max_size: 100, timeout_ms: 30_000 },
            adaptive: {
              algorithm: 'aimd',
              min_limit: 2,
              max_limit: 64,
              latency_threshold_ms: 250,
              backoff_ratio: 0.5,
            },
          },
        }),
      ],
    });
    for (let round = 0; round < 10; round++)
      await Promise.all(
        Array.from({ length: start }, (_, i) =>
          chat(sluice.url, `warm${i}`, {}, undefined, '/warm/v1/chat/completions'),
        ),
      );
    const limit = () => metric(sluice, 'sluice_concurrency_limit', { name: 'chat' });
    let latencyMs = fastMs;
    let stop = false;
    const statuses = new Map<number, number>();
    // As many closed-loop workers as the starting limit: they use all of it (the limit only grows
    // while at least half of it is in use), and a cut leaves them queueing, not the upstream idle.
    const workers = Array.from({ length: start }, async (_, w) => {
      while (!stop) {
        const { status } = await chat(sluice.url, `w${w}`, { 'x-mock-latency-ms': String(latencyMs) });
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    });
    t.teardown(() => {
      stop = true;
    });
    const began = Date.now();
    try {
      t.equal(await limit(), start, 'starts at max_in_flight');
      await until('the limit grows on a fast upstream', async () => (await limit()) > start, 6_000);
      latencyMs = slowMs;
      await until('the limit falls below its start', async () => (await limit()) < start, 6_000);
      latencyMs = fastMs;
      // A window still holding slow answers may cut it once more; then it must climb from the bottom.
      let lowest = await limit();
      await until(
        'the limit recovers',
        async () => {
          const now = await limit();
          lowest = Math.min(lowest, now);
          return now >= lowest + 2;
        },
        8_000,
      );
      t.pass(`recovered from ${lowest} in a run of ${Date.now() - began} ms`);
    } finally {
      stop = true;
      await Promise.all(workers);
    }
    t.same([...statuses.keys()], [200], 'no request was turned away');
  },
);

/**
 * Not over HTTP, because no client can make it happen on purpose: the listener ends an exchange on
 * the response's 'close', and two 'close' events can run in one batch of nextTick callbacks (sockets
 * destroyed together). Then A's end hands its slot to the waiting B, and B's end runs before B's
 * stage has taken the permit out of its promise. That permit must go back, or the slot is lost for good.
 */
t.test('a slot granted to a request whose exchange already ended goes back to the limiter', async (t) => {
  const limiter = new ConcurrencyLimiter({
    maxInFlight: 1,
    queue: { maxSize: 10, timeoutMs: 10_000 },
    classes: ['default'],
  });
  const stage = concurrencyStage(
    {
      route: 'r',
      upstream: 'u',
      routeLimiter: () => limiter,
      upstreamLimiter: () => undefined,
      priority: undefined,
      defaultClass: 'default',
    },
    registerMetrics(new Registry()),
  );
  /** What the listener does when the client left: abort the signal, then end the exchange. */
  const exchange = () => {
    const controller = new AbortController();
    const ends: ((end: ExchangeEnd) => void)[] = [];
    const ctx = {
      req: { headers: {} },
      signal: controller.signal,
      timings: { upstreamHeaders: 0, upstreamDispatch: 0 },
      response: undefined,
      onEnd: (callback: (end: ExchangeEnd) => void) => ends.push(callback),
    } as unknown as ProxyContext;
    const close = () => {
      controller.abort();
      for (const end of ends.splice(0))
        end({ status: 499, clientAborted: true, upstreamAnswered: false, llm: undefined });
    };
    return { ctx, close };
  };
  const a = exchange();
  const b = exchange();
  let upstreamCalls = 0;
  const runA = stage.run(a.ctx, () => new Promise<void>(() => undefined));
  const runB = stage.run(b.ctx, async () => {
    upstreamCalls++;
  });
  await until('B waits', () => limiter.queued()['default'] === 1);
  process.nextTick(a.close);
  process.nextTick(b.close);
  // A's stage stays in its (never-ending) upstream call; only B's outcome matters.
  void runA;
  const [outcomeB] = await Promise.allSettled([runB]);
  t.match(outcomeB, { status: 'rejected', reason: { code: 'client_closed_request' } });
  t.equal(upstreamCalls, 0, 'B never went upstream');
  t.equal(limiter.inFlight, 0, 'no slot held by a finished exchange');
  t.same(limiter.queued(), { default: 0 });
});
