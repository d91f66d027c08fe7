/** The mock's routes: exact paths in a map, plus the one parameterised path, `/v1/models/{id}`. */
import type { IncomingHttpHeaders } from 'node:http';
import { countTokens, messages } from './anthropic.ts';
import { embeddings } from './embeddings.ts';
import { createModelHandlers } from './models.ts';
import { chatCompletions, completions } from './openai.ts';
import { responses } from './responses.ts';
import type { MockHandler, MockProtocol } from './types.ts';

const MODEL_PATH_PREFIX = '/v1/models/';

export type RouteMatch =
  | {
      readonly kind: 'handler';
      readonly handler: MockHandler;
      readonly readsJson: boolean;
      readonly pathParam: string;
    }
  | { readonly kind: 'not-found' }
  | { readonly kind: 'method-not-allowed'; readonly allow: string };

type MethodTable = Readonly<Record<string, MockHandler>>;

export type Router = (method: string, path: string) => RouteMatch;

export function createRouter(modelCount: number): Router {
  const models = createModelHandlers(modelCount);
  const routes = new Map<string, MethodTable>([
    ['/v1/chat/completions', { POST: chatCompletions }],
    ['/v1/completions', { POST: completions }],
    ['/v1/responses', { POST: responses }],
    ['/v1/embeddings', { POST: embeddings }],
    ['/v1/models', { GET: models.list }],
    ['/v1/messages', { POST: messages }],
    ['/v1/messages/count_tokens', { POST: countTokens }],
  ]);
  const modelTable: MethodTable = { GET: models.get };

  return (method, path) => {
    let table = routes.get(path);
    let pathParam = '';
    if (!table && path.startsWith(MODEL_PATH_PREFIX) && path.length > MODEL_PATH_PREFIX.length) {
      table = modelTable;
      try {
        pathParam = decodeURIComponent(path.slice(MODEL_PATH_PREFIX.length));
      } catch {
        return { kind: 'not-found' };
      }
    }
    if (!table) return { kind: 'not-found' };
    const handler = table[method];
    if (!handler) return { kind: 'method-not-allowed', allow: Object.keys(table).join(', ') };
    return { kind: 'handler', handler, readsJson: method === 'POST', pathParam };
  };
}

/** Anthropic paths, or any request carrying the Anthropic SDK's version header, get Anthropic errors. */
export function protocolFor(path: string, headers: IncomingHttpHeaders): MockProtocol {
  return path.startsWith('/v1/messages') || headers['anthropic-version'] !== undefined
    ? 'anthropic'
    : 'openai';
}
