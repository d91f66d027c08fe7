/**
 * The pure steps of serving a page of an upstream list: take the list out of the upstream body,
 * read the client's paging parameters, cut the page, and write the response body and Link header.
 * No I/O and no state: snapshots.ts holds lists between pages, cursor.ts signs positions.
 */
import { type JsonObject, jsonObject } from '../llm/json.ts';
import { fail, ok, type Result } from './result.ts';
import type { PaginationSettings } from './settings.ts';

export type ListErrorKind = 'not_json' | 'no_list_at_path' | 'too_large';

export interface UpstreamList {
  readonly items: readonly unknown[];
  /**
   * The top-level object's other fields (all but the key holding the list), the template of page
   * responses; undefined for a top-level array. Kept apart from the list so a snapshot can hold
   * it without a second reference to the whole list.
   */
  readonly template: JsonObject | undefined;
  /** The body's length, what a snapshot of this list counts against the store's budget. */
  readonly bytes: number;
}

/**
 * The array at `settings.itemsPath` in an upstream body. The byte cap is checked before parsing:
 * JSON.parse of a huge body would take the memory (several times the body) the cap exists to
 * protect, and block the event loop meanwhile.
 */
export function extractList(
  body: Buffer,
  settings: Pick<PaginationSettings, 'itemsPath' | 'maxListBytes' | 'maxItems'>,
): Result<UpstreamList, ListErrorKind> {
  if (body.length > settings.maxListBytes) {
    return fail(
      'too_large',
      `The upstream list is ${body.length} bytes, more than this route pages (max_list_bytes ${settings.maxListBytes}).`,
    );
  }
  let root: unknown;
  try {
    root = JSON.parse(body.toString('utf8'));
  } catch {
    return fail('not_json', 'The upstream list response is not valid JSON.');
  }
  let value = root;
  if (settings.itemsPath !== '') {
    for (const key of settings.itemsPath.split('.')) {
      const object = jsonObject(value);
      // Own properties only: a path like `__proto__` must not reach Object.prototype.
      value = object !== undefined && Object.hasOwn(object, key) ? object[key] : undefined;
    }
  }
  if (!Array.isArray(value)) {
    const where = settings.itemsPath === '' ? 'at the top level' : `at "${settings.itemsPath}"`;
    return fail('no_list_at_path', `The upstream response has no JSON array ${where}.`);
  }
  if (value.length > settings.maxItems) {
    return fail(
      'too_large',
      `The upstream list has ${value.length} items, more than this route pages (max_items ${settings.maxItems}).`,
    );
  }
  return ok({ items: value, template: templateOf(root, settings.itemsPath), bytes: body.length });
}

function templateOf(root: unknown, itemsPath: string): JsonObject | undefined {
  const object = jsonObject(root);
  if (object === undefined) return undefined;
  const listKey = itemsPath.split('.')[0];
  // fromEntries defines properties: a `__proto__` key from JSON stays data, never a prototype.
  return Object.fromEntries(Object.entries(object).filter(([key]) => key !== listKey));
}

export type PageQueryErrorKind = 'bad_limit' | 'limit_too_large' | 'cursor_and_after';

/**
 * What the client asked for. 'unchanged': no paging parameter and no default limit, so the
 * upstream response goes to the client as it is. 'page': `limit` is the client's own (clamped),
 * undefined when it sent none; pageLimit fills it in once the cursor is known.
 */
export type PageQuery =
  | { readonly kind: 'unchanged' }
  | { readonly kind: 'page'; readonly limit?: number; readonly cursor?: string; readonly after?: string };

/** One value of a parameter; empty counts as absent (`?cursor=` from a template with nothing in it). */
function single(params: URLSearchParams, name: string): string | undefined | null {
  const values = params.getAll(name);
  if (values.length > 1) return null;
  return values[0] === '' ? undefined : values[0];
}

export function parsePageQuery(
  params: URLSearchParams,
  settings: Pick<PaginationSettings, 'defaultLimit' | 'maxLimit' | 'overLimit'>,
): Result<PageQuery, PageQueryErrorKind> {
  const rawLimit = single(params, 'limit');
  const cursor = single(params, 'cursor');
  const after = single(params, 'after');
  const { maxLimit } = settings;
  if (cursor === null || after === null) {
    return fail('cursor_and_after', 'Send `cursor` or `after` once, not several times.');
  }
  if (cursor !== undefined && after !== undefined) {
    return fail(
      'cursor_and_after',
      'Send either `cursor` or `after`, not both: `cursor` already says where the page starts.',
    );
  }
  let limit: number | undefined;
  if (rawLimit !== undefined) {
    // Digits only: Number() would take ' 7', '0x10', '1e2' and '7.0', none of which a client means.
    if (rawLimit === null || !/^[0-9]{1,10}$/.test(rawLimit) || Number(rawLimit) < 1) {
      return fail('bad_limit', `\`limit\` must be one integer from 1 to ${maxLimit}.`);
    }
    limit = Number(rawLimit);
    if (limit > maxLimit) {
      if (settings.overLimit === 'reject') {
        return fail(
          'limit_too_large',
          `\`limit\` is ${limit}; this route serves at most ${maxLimit} items per page.`,
        );
      }
      limit = maxLimit;
    }
  }
  if (
    limit === undefined &&
    cursor === undefined &&
    after === undefined &&
    settings.defaultLimit === undefined
  ) {
    return ok({ kind: 'unchanged' });
  }
  return ok({
    kind: 'page',
    ...(limit !== undefined ? { limit } : {}),
    ...(cursor !== undefined ? { cursor } : {}),
    ...(after !== undefined ? { after } : {}),
  });
}

/**
 * The page size: the client's limit, else the walk's (from its cursor), else the route's default,
 * else the maximum — never above the maximum, which a reload may have lowered since the cursor
 * was issued.
 */
export function pageLimit(
  query: { readonly limit?: number },
  settings: Pick<PaginationSettings, 'defaultLimit' | 'maxLimit'>,
  cursorLimit?: number,
): number {
  return Math.min(
    query.limit ?? cursorLimit ?? settings.defaultLimit ?? settings.maxLimit,
    settings.maxLimit,
  );
}

/** An item's id as text (ids in query strings are text), or undefined when it has none. */
export function itemId(item: unknown, idField: string): string | undefined {
  const object = jsonObject(item);
  const id = object !== undefined && Object.hasOwn(object, idField) ? object[idField] : undefined;
  return typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id)) ? String(id) : undefined;
}

export type PagePosition = { readonly offset: number } | { readonly afterId: string };

export interface Page {
  readonly data: unknown[];
  readonly hasMore: boolean;
  /** Where the next page starts: the offset to put in next_cursor when hasMore. */
  readonly nextOffset: number;
}

/**
 * `limit` items from `position`. `afterId` starts after the first item with that id (a linear
 * scan: lists are capped by maxItems, and a scan of 100 000 ids takes about a millisecond).
 */
export function paginate(
  items: readonly unknown[],
  position: PagePosition,
  limit: number,
  idField = 'id',
): Result<Page, 'unknown_after'> {
  let offset: number;
  if ('afterId' in position) {
    const index = items.findIndex((item) => itemId(item, idField) === position.afterId);
    if (index < 0) {
      return fail(
        'unknown_after',
        `No item with ${idField} "${position.afterId}" in the list; \`after\` must name one.`,
      );
    }
    offset = index + 1;
  } else {
    offset = Math.min(position.offset, items.length);
  }
  const data = items.slice(offset, offset + limit);
  const nextOffset = offset + data.length;
  return ok({ data, hasMore: nextOffset < items.length, nextOffset });
}

/** Fields the page response sets itself; an upstream's values for them describe the whole list. */
const RESERVED = new Set(['object', 'data', 'has_more', 'next_cursor', 'first_id', 'last_id']);

export interface PageResponseInput {
  readonly data: readonly unknown[];
  readonly hasMore: boolean;
  /** Null on the last page, as OpenAI and Stripe spell "no more". */
  readonly nextCursor: string | null;
  /** UpstreamList.template (or the upstream's whole top-level object), or undefined. */
  readonly template?: JsonObject | undefined;
  readonly itemsPath?: string;
  readonly idField?: string;
}

/**
 * The page body, in OpenAI's list shape: `{object: "list", data, first_id, last_id, has_more}`
 * plus `next_cursor`. The upstream's other top-level fields are kept (a vendor's extra fields keep
 * reaching the client), except the reserved ones above and the top-level key holding the list
 * (for `result.models`, all of `result`: a half-emptied envelope would mislead). first_id and
 * last_id are set when the page's items have ids (null for an empty page), omitted otherwise.
 */
export function pageResponse(input: PageResponseInput): JsonObject {
  const { data, idField = 'id', itemsPath = 'data' } = input;
  const listKey = itemsPath.split('.')[0];
  const rest = Object.fromEntries(
    Object.entries(input.template ?? {}).filter(([key]) => !RESERVED.has(key) && key !== listKey),
  );
  const body: JsonObject = { object: 'list', data, ...rest };
  if (data.length === 0) {
    body['first_id'] = null;
    body['last_id'] = null;
  } else {
    const firstId = itemId(data[0], idField);
    const lastId = itemId(data[data.length - 1], idField);
    if (firstId !== undefined && lastId !== undefined) {
      body['first_id'] = firstId;
      body['last_id'] = lastId;
    }
  }
  body['has_more'] = input.hasMore;
  body['next_cursor'] = input.nextCursor;
  return body;
}

/** Percent-encoding of one character; a lone surrogate (not valid UTF-16) becomes U+FFFD. */
function escapeChar(char: string): string {
  try {
    return encodeURIComponent(char);
  } catch {
    return '%EF%BF%BD';
  }
}

const PAGING_PARAMS = new Set(['cursor', 'after']);

function paramName(part: string): string {
  const name = part.split('=', 1)[0]!.replaceAll('+', ' ');
  try {
    return decodeURIComponent(name);
  } catch {
    return name;
  }
}

/**
 * `<path?query&cursor=…>; rel="next"` for the request's path and query (`req.url`). The other
 * parameters are kept byte for byte (no re-encoding, so the next request matches the same cache
 * keys and signatures); `cursor` and `after` are replaced by the new cursor. The reference is
 * relative, which RFC 8288 resolves against the request's URL: Sluice does not know the public
 * scheme and host behind a load balancer.
 */
export function linkHeader(pathAndQuery: string, nextCursor: string): string {
  const at = pathAndQuery.indexOf('?');
  const path = at < 0 ? pathAndQuery : pathAndQuery.slice(0, at);
  const query = at < 0 ? '' : pathAndQuery.slice(at + 1);
  const kept = query.split('&').filter((part) => part !== '' && !PAGING_PARAMS.has(paramName(part)));
  kept.push(`cursor=${encodeURIComponent(nextCursor)}`);
  // Characters that would end or break the <…> reference are escaped; well-formed URLs have none.
  const target = `${path}?${kept.join('&')}`.replace(/[^\x21-\x7e]|[<>"\\^`{|}]/gu, escapeChar);
  return `<${target}>; rel="next"`;
}
