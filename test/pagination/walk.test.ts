/**
 * The modules composed the way the pipeline's shim will compose them (`servePage` below), walked
 * end to end: every item once and in order, from one snapshot, whatever the upstream does meanwhile.
 */
import { randomInt } from 'node:crypto';
import t from 'tap';
import { cursorKey, decodeCursor, encodeCursor } from '../../src/pagination/cursor.ts';
import {
  extractList,
  linkHeader,
  pageLimit,
  pageResponse,
  paginate,
  parsePageQuery,
} from '../../src/pagination/list.ts';
import { ok } from '../../src/pagination/result.ts';
import { type PaginationSettings, resolvePaginationSettings } from '../../src/pagination/settings.ts';
import { SnapshotStore } from '../../src/pagination/snapshots.ts';

type Item = { id: string; n: number };
type Served =
  | { status: 200; unchanged: true }
  | { status: 200; body: Record<string, unknown>; link: string | undefined }
  | { status: 400 | 413 | 502; kind: string; message: string };

function shim(settings: PaginationSettings, upstream: () => unknown, now: () => number = Date.now) {
  const store = new SnapshotStore({
    maxSnapshots: settings.maxSnapshots,
    maxBytes: settings.maxSnapshotBytes,
    ttlMs: settings.snapshotTtlMs,
    now,
  });
  const key = cursorKey(settings.secret);
  const scope = 'models:tenant-hash';
  let upstreamCalls = 0;
  async function servePage(url: string): Promise<Served> {
    const query = parsePageQuery(new URL(url, 'http://sluice').searchParams, settings);
    if (!query.ok) return { status: 400, ...query.error };
    if (query.value.kind === 'unchanged') return { status: 200, unchanged: true };
    const { cursor: token, after } = query.value;
    const cursor =
      token === undefined ? undefined : decodeCursor(token, key, { scope, now, snapshots: store });
    if (cursor !== undefined && !cursor.ok) return { status: 400, ...cursor.error };
    const snapshot = await store.openWalk(cursor?.value.snapshotId, async () => {
      upstreamCalls++;
      const list = extractList(Buffer.from(JSON.stringify(upstream())), settings);
      return list.ok ? ok(list.value) : list;
    });
    if (!snapshot.ok) {
      const status =
        snapshot.error.kind === 'too_large' ? 413 : snapshot.error.kind === 'unknown_snapshot' ? 400 : 502;
      return { status, ...snapshot.error };
    }
    const limit = pageLimit(query.value, settings, cursor?.value.limit);
    const position = after !== undefined ? { afterId: after } : { offset: cursor?.value.offset ?? 0 };
    const page = paginate(snapshot.value.items, position, limit, settings.idField);
    if (!page.ok) return { status: 400, ...page.error };
    const { data, hasMore, nextOffset } = page.value;
    const nextCursor = hasMore
      ? encodeCursor(
          { snapshotId: snapshot.value.id, offset: nextOffset, limit, expiresAt: snapshot.value.expiresAt },
          key,
          scope,
        )
      : null;
    const body = pageResponse({ data, hasMore, nextCursor, template: snapshot.value.template, ...settings });
    return { status: 200, body, link: nextCursor === null ? undefined : linkHeader(url, nextCursor) };
  }
  return { servePage, store, upstreamCalls: () => upstreamCalls };
}

function bodyOf(served: Served): Record<string, unknown> {
  if (!('body' in served)) throw new Error(`not a page: ${JSON.stringify(served)}`);
  return served.body;
}

const items = (count: number, from = 0): Item[] =>
  Array.from({ length: count }, (_, i) => ({ id: `m-${from + i}`, n: from + i }));

/** Follows next_cursor (or the Link header, or after=last_id) from `first` to the end. */
async function walk(
  serve: (url: string) => Promise<Served>,
  first: string,
  follow: 'cursor' | 'link' | 'after',
  onPage = () => {},
) {
  const seen: unknown[] = [];
  let url: string | undefined = first;
  let pages = 0;
  while (url !== undefined) {
    const served = await serve(url);
    if (!('body' in served)) throw new Error(`page ${pages}: ${JSON.stringify(served)}`);
    pages++;
    const { body } = served;
    seen.push(...(body['data'] as unknown[]));
    onPage();
    if (body['has_more'] !== true) break;
    if (follow === 'link') url = /^<([^>]*)>; rel="next"$/.exec(served.link!)![1];
    else if (follow === 'cursor') url = `/v1/models?cursor=${body['next_cursor']}`;
    else
      url = `/v1/models?limit=${new URL(first, 'http://x').searchParams.get('limit')}&after=${body['last_id']}`;
  }
  return { seen, pages };
}

t.test('a walk sees every item once, in order, while the upstream changes', async (t) => {
  let upstream = items(1000);
  const s = shim(resolvePaginationSettings(), () => ({ object: 'list', data: upstream }));
  const original = upstream;
  let round = 0;
  const mutate = () => {
    round++;
    // Remove from the front, insert in the middle, rename, append: a list that changes under the walk.
    upstream = [
      ...upstream.slice(1, 300),
      { id: `new-${round}`, n: -1 },
      ...upstream.slice(300),
      ...items(1, 5000 + round),
    ];
    upstream[500] = { id: 'renamed', n: -2 };
  };
  const { seen, pages } = await walk(s.servePage, '/v1/models?limit=7', 'link', mutate);
  t.equal(pages, Math.ceil(1000 / 7));
  t.same(seen, original, 'exactly the snapshot, in order');
  t.equal(s.upstreamCalls(), 1, 'the upstream was asked once');
  const changed = upstream;
  t.notSame(changed, original);
  const byCursor = await walk(s.servePage, '/v1/models?limit=7', 'cursor', mutate);
  t.same(byCursor.seen, changed, 'a new walk starts from a fresh list, and holds it');
  t.equal(s.upstreamCalls(), 2);
});

t.test('an after=<id> walk equals the cursor walk (upstream not changing)', async (t) => {
  const s = shim(resolvePaginationSettings(), () => ({ object: 'list', data: items(100) }));
  const byCursor = await walk(s.servePage, '/v1/models?limit=9', 'cursor');
  const byAfter = await walk(s.servePage, '/v1/models?limit=9', 'after');
  t.same(byAfter.seen, byCursor.seen);
  t.same(byCursor.seen, items(100));
  t.equal(byAfter.pages, byCursor.pages);
});

t.test('a cursor keeps the page size; the client may change it', async (t) => {
  const s = shim(resolvePaginationSettings(), () => ({ data: items(30) }));
  const next = bodyOf(await s.servePage('/v1/models?limit=4'))['next_cursor'] as string;
  t.same(bodyOf(await s.servePage(`/v1/models?cursor=${next}`))['data'], items(4, 4));
  t.same(bodyOf(await s.servePage(`/v1/models?cursor=${next}&limit=10`))['data'], items(10, 4));
});

t.test('no paging params and no default limit: unchanged; a default limit pages', async (t) => {
  const unpaged = shim(resolvePaginationSettings(), () => ({ data: items(10) }));
  t.same(await unpaged.servePage('/v1/models'), { status: 200, unchanged: true });
  t.equal(unpaged.upstreamCalls(), 0, 'the shim did not fetch anything itself');
  const paged = shim(resolvePaginationSettings({ defaultLimit: 3 }), () => ({ data: items(10), total: 10 }));
  const served = await paged.servePage('/v1/models');
  t.match(served, {
    status: 200,
    body: { object: 'list', data: items(3), has_more: true, total: 10, first_id: 'm-0', last_id: 'm-2' },
  });
});

t.test('errors a client can cause', async (t) => {
  let now = 1_700_000_000_000;
  const s = shim(
    resolvePaginationSettings({ snapshotTtlMs: 1000, maxLimit: 5, overLimit: 'reject' }),
    () => ({ data: items(20) }),
    () => now,
  );
  t.match(await s.servePage('/v1/models?limit=6'), { status: 400, kind: 'limit_too_large' });
  t.match(await s.servePage('/v1/models?after=nope'), { status: 400, kind: 'unknown_after' });
  t.match(await s.servePage('/v1/models?cursor=garbage'), { status: 400, kind: 'malformed' });
  const cursor = bodyOf(await s.servePage('/v1/models?limit=5'))['next_cursor'] as string;
  t.match(await s.servePage(`/v1/models?cursor=${cursor}&after=m-1`), {
    status: 400,
    kind: 'cursor_and_after',
  });
  now += 1000;
  t.match(await s.servePage(`/v1/models?cursor=${cursor}`), { status: 400, kind: 'expired' });
});

t.test('an upstream list over the caps is a 413-style error', async (t) => {
  const s = shim(resolvePaginationSettings({ maxItems: 10 }), () => ({ data: items(11) }));
  t.match(await s.servePage('/v1/models?limit=2'), { status: 413, kind: 'too_large' });
  const bytes = shim(resolvePaginationSettings({ maxListBytes: 100, maxSnapshotBytes: 100 }), () => ({
    data: items(11),
  }));
  t.match(await bytes.servePage('/v1/models?limit=2'), { status: 413, kind: 'too_large', message: /bytes/ });
  const notList = shim(resolvePaginationSettings(), () => ({ error: 'x' }));
  t.match(await notList.servePage('/v1/models?limit=2'), { status: 502, kind: 'no_list_at_path' });
});

t.test('property: for random sizes and limits, the pages put together are the list', async (t) => {
  for (let run = 0; run < 200; run++) {
    const size = randomInt(0, 300);
    const limit = randomInt(1, 40);
    const list = items(size);
    const s = shim(resolvePaginationSettings({ maxLimit: 40 }), () => ({ data: list }));
    const follow = (['cursor', 'link', 'after'] as const)[run % 3]!;
    const { seen, pages } = await walk(s.servePage, `/v1/models?limit=${limit}`, follow);
    if (seen.length !== size || JSON.stringify(seen) !== JSON.stringify(list)) {
      t.fail(`size ${size}, limit ${limit}, ${follow}: got ${seen.length} items`);
      return;
    }
    t.equal(pages, Math.max(1, Math.ceil(size / limit)), `size ${size} limit ${limit}: pages`);
  }
});
