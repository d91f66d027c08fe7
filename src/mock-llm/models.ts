/**
 * `GET /v1/models` and `GET /v1/models/{id}` in both protocols: OpenAI's flat list, and Anthropic's
 * paginated one (chosen by the `anthropic-version` header the Anthropic SDK always sends).
 */
import { rejectRequest } from './errors.ts';
import { sendJsonText, sendJsonValue } from './respond.ts';
import type { MockExchange, MockHandler } from './types.ts';

/** Listed first whatever `models` says, so SDK examples and docs snippets work unchanged. */
export const WELL_KNOWN_MODEL_IDS = Object.freeze([
  'gpt-4o-mini',
  'claude-3-5-haiku-latest',
  'text-embedding-3-small',
]);

/** A fixed creation time keeps every response byte-identical across runs. */
const CREATED_UNIX_SECONDS = 1_700_000_000;
const CREATED_ISO = new Date(CREATED_UNIX_SECONDS * 1000).toISOString();

const ANTHROPIC_DEFAULT_PAGE = 20;
const ANTHROPIC_MAX_PAGE = 1000;

/** `count` ids: the well-known ones, then `mock-gpt-1`, `mock-gpt-2`, … */
export function mockModelIds(count: number): string[] {
  const ids = [...WELL_KNOWN_MODEL_IDS];
  for (let n = 1; ids.length < count; n++) ids.push(`mock-gpt-${n}`);
  return ids;
}

const openAiModel = (id: string) => ({
  id,
  object: 'model',
  created: CREATED_UNIX_SECONDS,
  owned_by: 'sluice-mock',
});
const anthropicModel = (id: string) => ({ type: 'model', id, display_name: id, created_at: CREATED_ISO });

function wantsAnthropic(exchange: MockExchange): boolean {
  return exchange.req.headers['anthropic-version'] !== undefined;
}

/** Anthropic's cursor pagination: `limit`, then `after_id` or `before_id` (ids outside the list give an empty page). */
function anthropicPage(exchange: MockExchange, ids: readonly string[]): void {
  const query = new URL(exchange.req.url ?? '/', 'http://mock').searchParams;
  const limitText = query.get('limit');
  const limit = limitText === null ? ANTHROPIC_DEFAULT_PAGE : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > ANTHROPIC_MAX_PAGE) {
    rejectRequest(exchange, 400, `limit must be an integer between 1 and ${ANTHROPIC_MAX_PAGE}.`);
    return;
  }
  const afterId = query.get('after_id');
  const beforeId = query.get('before_id');
  let start = 0;
  let end = ids.length;
  if (afterId !== null) start = ids.includes(afterId) ? ids.indexOf(afterId) + 1 : ids.length;
  if (beforeId !== null) end = ids.includes(beforeId) ? ids.indexOf(beforeId) : 0;
  const window = ids.slice(start, end);
  // Paging backwards (only before_id) takes the window's tail, like the real API.
  const page = beforeId !== null && afterId === null ? window.slice(-limit) : window.slice(0, limit);
  const hasMore = window.length > page.length;
  sendJsonValue(exchange, {
    data: page.map(anthropicModel),
    has_more: hasMore,
    first_id: page[0] ?? null,
    last_id: page.at(-1) ?? null,
  });
}

export function createModelHandlers(modelCount: number): { list: MockHandler; get: MockHandler } {
  const ids = mockModelIds(modelCount);
  const known = new Set(ids);
  const openAiList = JSON.stringify({ object: 'list', data: ids.map(openAiModel) });

  const list: MockHandler = (exchange) => {
    if (wantsAnthropic(exchange)) return anthropicPage(exchange, ids);
    sendJsonText(exchange, openAiList);
  };
  const get: MockHandler = (exchange) => {
    const id = exchange.pathParam;
    if (!known.has(id)) {
      return rejectRequest(
        exchange,
        404,
        `The model '${id}' does not exist (the mock lists ${ids.length} models).`,
      );
    }
    sendJsonValue(exchange, wantsAnthropic(exchange) ? anthropicModel(id) : openAiModel(id));
  };
  return { list, get };
}
