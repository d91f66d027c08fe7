import t from 'tap';
import {
  extractList,
  itemId,
  linkHeader,
  pageLimit,
  pageResponse,
  paginate,
  parsePageQuery,
} from '../../src/pagination/list.ts';
import { resolvePaginationSettings } from '../../src/pagination/settings.ts';

const settings = resolvePaginationSettings();
const json = (value: unknown) => Buffer.from(JSON.stringify(value));
const query = (text: string, over = {}) =>
  parsePageQuery(new URLSearchParams(text), resolvePaginationSettings(over));

t.test('extractList: the array at the path, and the other fields as template', async (t) => {
  const body = json({ object: 'list', data: [{ id: 'a' }], total: 1 });
  t.same(extractList(body, settings), {
    ok: true,
    value: { items: [{ id: 'a' }], template: { object: 'list', total: 1 }, bytes: body.length },
  });
  const nested = extractList(json({ result: { models: [1, 2] }, ok: true }), {
    ...settings,
    itemsPath: 'result.models',
  });
  t.same(nested.ok && nested.value.items, [1, 2]);
  t.same(nested.ok && nested.value.template, { ok: true });
  const proto = extractList(Buffer.from('{"data":[],"__proto__":{"polluted":1}}'), settings);
  const template = proto.ok ? proto.value.template! : {};
  t.equal(Object.getPrototypeOf(template), Object.prototype, 'a __proto__ key stays a plain field');
  t.same(Object.keys(pageResponse({ data: [], hasMore: false, nextCursor: null, template })), [
    'object',
    'data',
    '__proto__',
    'first_id',
    'last_id',
    'has_more',
    'next_cursor',
  ]);
  const root = extractList(json([1, 2, 3]), { ...settings, itemsPath: '' });
  t.same(root.ok && root.value, { items: [1, 2, 3], template: undefined, bytes: 7 });
});

t.test('extractList errors', async (t) => {
  t.match(extractList(Buffer.from('{"data": ['), settings), { ok: false, error: { kind: 'not_json' } });
  t.match(extractList(json({ models: [] }), settings), {
    error: { kind: 'no_list_at_path', message: /at "data"/ },
  });
  t.match(extractList(json({ data: { id: 1 } }), settings), { error: { kind: 'no_list_at_path' } });
  t.match(extractList(json([1]), settings), { error: { kind: 'no_list_at_path' } });
  t.match(extractList(json({}), { ...settings, itemsPath: '__proto__' }), {
    error: { kind: 'no_list_at_path' },
  });
  t.match(extractList(json({ data: [1, 2, 3] }), { ...settings, maxItems: 2 }), {
    error: { kind: 'too_large', message: /3 items.*max_items 2/ },
  });
});

t.test('extractList checks bytes before parsing', async (t) => {
  const body = Buffer.from(`{"data":[${'1,'.repeat(100)}1]}`);
  const { parse } = JSON;
  let parsed = 0;
  JSON.parse = (...args: Parameters<typeof parse>) => {
    parsed++;
    return parse(...args);
  };
  t.teardown(() => {
    JSON.parse = parse;
  });
  t.match(extractList(body, { ...settings, maxListBytes: body.length - 1 }), {
    error: { kind: 'too_large', message: new RegExp(`${body.length} bytes`) },
  });
  t.equal(parsed, 0, 'JSON.parse not called');
  // Not even valid JSON: still too_large, proving no parse was attempted.
  t.match(extractList(Buffer.alloc(200, '{'), { ...settings, maxListBytes: 100 }), {
    error: { kind: 'too_large' },
  });
  t.match(extractList(body, { ...settings, maxListBytes: body.length }), { ok: true });
  t.equal(parsed, 1);
});

t.test('parsePageQuery', async (t) => {
  t.same(query(''), { ok: true, value: { kind: 'unchanged' } }, 'no params, no default: unchanged');
  t.same(query('order=asc&model=x'), { ok: true, value: { kind: 'unchanged' } }, 'other params do not page');
  t.same(query('', { defaultLimit: 20 }), { ok: true, value: { kind: 'page' } }, 'a default limit pages');
  t.same(query('limit=7'), { ok: true, value: { kind: 'page', limit: 7 } });
  t.same(query('cursor=abc'), { ok: true, value: { kind: 'page', cursor: 'abc' } });
  t.same(query('after=m-1&limit=2'), { ok: true, value: { kind: 'page', limit: 2, after: 'm-1' } });
  t.same(
    query('cursor=&after=&limit='),
    { ok: true, value: { kind: 'unchanged' } },
    'empty values are absent',
  );
  for (const bad of [
    'limit=0',
    'limit=-1',
    'limit=abc',
    'limit=1.5',
    'limit=1e2',
    'limit=0x10',
    'limit=%207',
    'limit=1&limit=2',
    'limit=99999999999',
  ]) {
    t.match(query(bad), { ok: false, error: { kind: 'bad_limit', message: /from 1 to 100/ } }, bad);
  }
  t.match(query('cursor=a&after=b'), { ok: false, error: { kind: 'cursor_and_after' } });
  t.match(query('cursor=a&cursor=b'), { ok: false, error: { kind: 'cursor_and_after' } });
});

t.test('limit over the maximum: clamp or reject', async (t) => {
  t.same(query('limit=500', { maxLimit: 50 }), { ok: true, value: { kind: 'page', limit: 50 } });
  t.same(query('limit=50', { maxLimit: 50, overLimit: 'reject' }), {
    ok: true,
    value: { kind: 'page', limit: 50 },
  });
  t.match(query('limit=51', { maxLimit: 50, overLimit: 'reject' }), {
    ok: false,
    error: { kind: 'limit_too_large', message: /51.*at most 50/ },
  });
});

t.test('pageLimit: client, then cursor, then default, then max; never above max', async (t) => {
  const s = resolvePaginationSettings({ maxLimit: 50, defaultLimit: 20 });
  t.equal(pageLimit({ limit: 5 }, s, 9), 5);
  t.equal(pageLimit({}, s, 9), 9);
  t.equal(pageLimit({}, s), 20);
  t.equal(pageLimit({}, resolvePaginationSettings({ maxLimit: 50 })), 50);
  t.equal(pageLimit({}, s, 80), 50, 'a cursor from before a reload lowered the max');
});

t.test('paginate by offset and by after', async (t) => {
  const items = ['a', 'b', 'c', 'd', 'e'].map((id) => ({ id }));
  t.same(paginate(items, { offset: 0 }, 2), {
    ok: true,
    value: { data: items.slice(0, 2), hasMore: true, nextOffset: 2 },
  });
  t.same(paginate(items, { offset: 3 }, 2), {
    ok: true,
    value: { data: items.slice(3), hasMore: false, nextOffset: 5 },
  });
  t.same(paginate(items, { offset: 9 }, 2), { ok: true, value: { data: [], hasMore: false, nextOffset: 5 } });
  t.same(paginate(items, { afterId: 'b' }, 2), {
    ok: true,
    value: { data: items.slice(2, 4), hasMore: true, nextOffset: 4 },
  });
  t.same(paginate(items, { afterId: 'e' }, 2), {
    ok: true,
    value: { data: [], hasMore: false, nextOffset: 5 },
  });
  t.match(paginate(items, { afterId: 'zz' }, 2), {
    ok: false,
    error: { kind: 'unknown_after', message: /"zz"/ },
  });
  const numbered = [{ n: 1 }, { n: 2 }];
  t.same(paginate(numbered, { afterId: '1' }, 5, 'n'), {
    ok: true,
    value: { data: [{ n: 2 }], hasMore: false, nextOffset: 2 },
  });
});

t.test('itemId', async (t) => {
  t.equal(itemId({ id: 'x' }, 'id'), 'x');
  t.equal(itemId({ id: 3 }, 'id'), '3');
  t.equal(itemId({ id: null }, 'id'), undefined);
  t.equal(itemId({ id: {} }, 'id'), undefined);
  t.equal(itemId('x', 'id'), undefined);
  t.equal(itemId({}, 'constructor'), undefined, 'own fields only');
});

t.test('pageResponse', async (t) => {
  const data = [{ id: 'a' }, { id: 'b' }];
  t.same(pageResponse({ data, hasMore: true, nextCursor: 'CUR' }), {
    object: 'list',
    data,
    first_id: 'a',
    last_id: 'b',
    has_more: true,
    next_cursor: 'CUR',
  });
  const kept = pageResponse({
    data,
    hasMore: false,
    nextCursor: null,
    template: { object: 'page', total: 9, has_more: true, first_id: 'z', data: ['x'], vendor: { v: 1 } },
  });
  t.same(kept, {
    object: 'list',
    data,
    total: 9,
    vendor: { v: 1 },
    first_id: 'a',
    last_id: 'b',
    has_more: false,
    next_cursor: null,
  });
  t.same(Object.keys(kept).slice(0, 2), ['object', 'data'], 'object and data first, as OpenAI orders them');
  const nested = pageResponse({
    data,
    hasMore: false,
    nextCursor: null,
    template: { result: { n: 1 }, ok: 1 },
    itemsPath: 'result.models',
  });
  t.same(nested, {
    object: 'list',
    data,
    ok: 1,
    first_id: 'a',
    last_id: 'b',
    has_more: false,
    next_cursor: null,
  });
  t.same(pageResponse({ data: [], hasMore: false, nextCursor: null }), {
    object: 'list',
    data: [],
    first_id: null,
    last_id: null,
    has_more: false,
    next_cursor: null,
  });
  t.same(
    pageResponse({ data: [1, 2], hasMore: false, nextCursor: null }),
    {
      object: 'list',
      data: [1, 2],
      has_more: false,
      next_cursor: null,
    },
    'items without ids: no first_id / last_id',
  );
});

t.test('linkHeader keeps other params byte for byte and replaces cursor / after', async (t) => {
  t.equal(linkHeader('/v1/models', 'C1'), '</v1/models?cursor=C1>; rel="next"');
  t.equal(linkHeader('/v1/models?limit=7', 'C1'), '</v1/models?limit=7&cursor=C1>; rel="next"');
  t.equal(
    linkHeader('/v1/models?order=desc&cursor=OLD&limit=7&q=a%20b+c&flag', 'C2'),
    '</v1/models?order=desc&limit=7&q=a%20b+c&flag&cursor=C2>; rel="next"',
  );
  t.equal(
    linkHeader('/v1/files?after=file-1&purpose=fine-tune', 'C3'),
    '</v1/files?purpose=fine-tune&cursor=C3>; rel="next"',
  );
  t.equal(
    linkHeader('/x?%63ursor=old&a=1', 'C'),
    '</x?a=1&cursor=C>; rel="next"',
    'an encoded name is still cursor',
  );
  t.equal(
    linkHeader('/x?a=%E0%A4%A&b', 'C'),
    '</x?a=%E0%A4%A&b&cursor=C>; rel="next"',
    'bad encoding kept as is',
  );
  t.equal(
    linkHeader('/x?a=<b>"é', 'C'),
    '</x?a=%3Cb%3E%22%C3%A9&cursor=C>; rel="next"',
    'nothing breaks out of <…>',
  );
});
