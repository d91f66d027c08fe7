/**
 * The reverse shim, opt-in per route (`aggregate: true`): the upstream paginates, the client wants
 * one list. Sluice follows the upstream's pages — OpenAI style, `has_more` then `after=<last_id>`,
 * or the upstream's `next_cursor` when it sends one — and joins them. Bounded by pages, items and
 * bytes, since an upstream list can be arbitrarily long, and guarded against an upstream that
 * points back to a page already read, which would otherwise loop until the deadline.
 */
import { extractList, itemId, type ListErrorKind } from './list.ts';
import { fail, ok, type Result } from './result.ts';
import type { PaginationSettings } from './settings.ts';

/** Where the next upstream page starts; the first request has neither. */
export interface PageRequest {
  readonly after?: string;
  readonly cursor?: string;
}

export interface UpstreamPage {
  readonly items: readonly unknown[];
  readonly hasMore: boolean;
  readonly nextCursor?: string;
  /** The upstream's `last_id`; when absent, the last item's id is used. */
  readonly lastId?: string;
  /** The page body's length; when absent, the items' JSON length is counted. */
  readonly bytes?: number;
}

export interface AggregateLimits {
  readonly maxPages: number;
  readonly maxItems: number;
  readonly maxBytes: number;
  /** The item field `after` names, for pages without `last_id` (default 'id'). */
  readonly idField?: string;
  /** The request's signal: an abort stops between pages and rethrows its reason. */
  readonly signal?: AbortSignal;
}

export type AggregateErrorKind = 'too_large' | 'loop' | 'stuck';

export interface Aggregated {
  readonly items: unknown[];
  readonly pages: number;
  readonly bytes: number;
}

/** A stable text for a page request, to recognise one asked for twice. */
const requestKey = (request: PageRequest) =>
  request.cursor !== undefined ? `cursor:${request.cursor}` : `after:${request.after ?? ''}`;

export async function aggregatePages(
  fetchPage: (request: PageRequest) => Promise<UpstreamPage>,
  limits: AggregateLimits,
): Promise<Result<Aggregated, AggregateErrorKind>> {
  for (const name of ['maxPages', 'maxItems', 'maxBytes'] as const) {
    if (!Number.isSafeInteger(limits[name]) || limits[name] < 1) {
      throw new RangeError(`${name} must be an integer ≥ 1, got ${limits[name]}`);
    }
  }
  const idField = limits.idField ?? 'id';
  const items: unknown[] = [];
  const seen = new Set<string>();
  let request: PageRequest = {};
  let bytes = 0;
  for (let pages = 1; ; pages++) {
    limits.signal?.throwIfAborted();
    seen.add(requestKey(request));
    const page = await fetchPage(request);
    items.push(...page.items);
    bytes += page.bytes ?? Buffer.byteLength(JSON.stringify(page.items));
    if (items.length > limits.maxItems) {
      return fail(
        'too_large',
        `The upstream list has more than ${limits.maxItems} items, more than this route aggregates.`,
      );
    }
    if (bytes > limits.maxBytes) {
      return fail(
        'too_large',
        `The upstream list is more than ${limits.maxBytes} bytes, more than this route aggregates.`,
      );
    }
    if (!page.hasMore) return ok({ items, pages, bytes });
    if (pages >= limits.maxPages) {
      return fail(
        'too_large',
        `The upstream list has more than ${limits.maxPages} pages, more than this route aggregates.`,
      );
    }
    const lastId = page.lastId ?? itemId(page.items[page.items.length - 1], idField);
    if (page.nextCursor !== undefined) request = { cursor: page.nextCursor };
    else if (lastId !== undefined) request = { after: lastId };
    else
      return fail(
        'stuck',
        'The upstream says it has more items but gives no next_cursor or last item id to ask for them.',
      );
    if (seen.has(requestKey(request))) {
      return fail('loop', 'The upstream pointed back to a page already read; its pagination loops.');
    }
  }
}

/**
 * One upstream page from its body: the list at `itemsPath` (with extractList's caps) and the
 * OpenAI / Stripe fields `has_more`, `last_id` and `next_cursor` of its top-level object.
 * A missing or non-boolean `has_more` means no more pages: following guesses could loop.
 */
export function readUpstreamPage(
  body: Buffer,
  settings: Pick<PaginationSettings, 'itemsPath' | 'maxListBytes' | 'maxItems'>,
): Result<UpstreamPage, ListErrorKind> {
  const list = extractList(body, settings);
  if (!list.ok) return list;
  const envelope = list.value.template ?? {};
  const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);
  const nextCursor = text(envelope['next_cursor']);
  const lastId = text(envelope['last_id']);
  return ok({
    items: list.value.items,
    hasMore: envelope['has_more'] === true,
    bytes: list.value.bytes,
    ...(nextCursor !== undefined ? { nextCursor } : {}),
    ...(lastId !== undefined ? { lastId } : {}),
  });
}
