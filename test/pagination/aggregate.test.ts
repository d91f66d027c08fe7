import t from 'tap';
import {
  aggregatePages,
  type PageRequest,
  readUpstreamPage,
  type UpstreamPage,
} from '../../src/pagination/aggregate.ts';
import { resolvePaginationSettings } from '../../src/pagination/settings.ts';

const items = (count: number, from = 0) => Array.from({ length: count }, (_, i) => ({ id: `f-${from + i}` }));
const limits = { maxPages: 100, maxItems: 10_000, maxBytes: 10_000_000 };

/** An OpenAI-style upstream: `after=<id>` pages of `size`, has_more and last_id. */
function openaiUpstream(list: { id: string }[], size: number) {
  const requests: PageRequest[] = [];
  const fetchPage = async (request: PageRequest): Promise<UpstreamPage> => {
    requests.push(request);
    const start = request.after === undefined ? 0 : list.findIndex((item) => item.id === request.after) + 1;
    const page = list.slice(start, start + size);
    return {
      items: page,
      hasMore: start + size < list.length,
      ...(page.length ? { lastId: page.at(-1)!.id } : {}),
    };
  };
  return { fetchPage, requests };
}

t.test('follows has_more + after=last_id to one list', async (t) => {
  const list = items(95);
  const upstream = openaiUpstream(list, 10);
  const result = await aggregatePages(upstream.fetchPage, limits);
  t.ok(result.ok);
  if (!result.ok) return;
  t.same(result.value.items, list);
  t.equal(result.value.pages, 10);
  t.same(upstream.requests.slice(0, 3), [{}, { after: 'f-9' }, { after: 'f-19' }]);
  t.ok(result.value.bytes > 0);
});

t.test('prefers next_cursor; falls back to the last item id', async (t) => {
  const requests: PageRequest[] = [];
  const pages: Record<string, UpstreamPage> = {
    '': { items: items(2), hasMore: true, nextCursor: 'c2', lastId: 'ignored' },
    c2: { items: items(2, 2), hasMore: true },
    'after:f-3': { items: items(1, 4), hasMore: false },
  };
  const result = await aggregatePages(async (request) => {
    requests.push(request);
    return pages[request.cursor ?? (request.after ? `after:${request.after}` : '')]!;
  }, limits);
  t.same(requests, [{}, { cursor: 'c2' }, { after: 'f-3' }]);
  t.same(result.ok && result.value.items, items(5));
});

t.test('stops at the caps with too_large', async (t) => {
  const list = items(95);
  t.match(await aggregatePages(openaiUpstream(list, 10).fetchPage, { ...limits, maxPages: 9 }), {
    ok: false,
    error: { kind: 'too_large', message: /9 pages/ },
  });
  t.match(await aggregatePages(openaiUpstream(list, 10).fetchPage, { ...limits, maxPages: 10 }), {
    ok: true,
  });
  const upstream = openaiUpstream(list, 10);
  t.match(await aggregatePages(upstream.fetchPage, { ...limits, maxItems: 50 }), {
    error: { kind: 'too_large', message: /50 items/ },
  });
  t.equal(upstream.requests.length, 6, 'stopped as soon as the cap was passed');
  t.match(await aggregatePages(openaiUpstream(list, 10).fetchPage, { ...limits, maxBytes: 500 }), {
    error: { kind: 'too_large', message: /500 bytes/ },
  });
  t.match(
    await aggregatePages(async () => ({ items: [1], hasMore: false, bytes: 501 }), {
      ...limits,
      maxBytes: 500,
    }),
    { error: { kind: 'too_large' } },
    'the page size the caller reports counts',
  );
});

t.test('detects loops and dead ends', async (t) => {
  let calls = 0;
  const looping = await aggregatePages(async (request) => {
    calls++;
    return { items: [calls], hasMore: true, nextCursor: request.cursor === 'a' ? 'b' : 'a' };
  }, limits);
  t.match(looping, { ok: false, error: { kind: 'loop' } });
  t.equal(calls, 3, '{}, a, b, then a again is refused before fetching');
  const sameAfter = await aggregatePages(async () => ({ items: [{ id: 'x' }], hasMore: true }), limits);
  t.match(sameAfter, { error: { kind: 'loop' } });
  const stuck = await aggregatePages(async () => ({ items: [], hasMore: true }), limits);
  t.match(stuck, { error: { kind: 'stuck' } });
});

t.test('an abort stops between pages with its reason', async (t) => {
  const controller = new AbortController();
  let calls = 0;
  const pending = aggregatePages(
    async () => {
      calls++;
      if (calls === 2) controller.abort(new Error('client gone'));
      return { items: [calls], hasMore: true, nextCursor: `c${calls}` };
    },
    { ...limits, signal: controller.signal },
  );
  await t.rejects(pending, { message: 'client gone' });
  t.equal(calls, 2);
});

t.test('refuses bad limits', async (t) => {
  await t.rejects(
    aggregatePages(async () => ({ items: [], hasMore: false }), { ...limits, maxPages: 0 }),
    RangeError,
  );
});

t.test('readUpstreamPage reads OpenAI / Stripe list bodies', async (t) => {
  const settings = resolvePaginationSettings();
  const body = Buffer.from(
    JSON.stringify({ object: 'list', data: items(2), has_more: true, last_id: 'f-1' }),
  );
  t.same(readUpstreamPage(body, settings), {
    ok: true,
    value: { items: items(2), hasMore: true, bytes: body.length, lastId: 'f-1' },
  });
  const stripe = Buffer.from(JSON.stringify({ data: [], has_more: 'yes', next_cursor: 'n' }));
  t.match(readUpstreamPage(stripe, settings), { ok: true, value: { hasMore: false, nextCursor: 'n' } });
  t.match(readUpstreamPage(Buffer.from('nope'), settings), { ok: false, error: { kind: 'not_json' } });
});
