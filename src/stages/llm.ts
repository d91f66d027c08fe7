/**
 * The LLM stage of openai and anthropic routes: reads what the request asks for, and on the way back
 * sets an observer that reads the response beside its way to the client. Nothing it reads changes
 * what is forwarded; the one exception is the route's opt-in `ensure_stream_usage`, which asks the
 * upstream for usage and takes the usage chunk out of the stream again before the client sees it.
 */
import { Readable } from 'node:stream';
import { canDecodeJson } from '../llm/body-decoding.ts';
import type { LlmExchange } from '../llm/exchange.ts';
import { describeLlmRequest, type LlmProtocol } from '../llm/request.ts';
import { ResponseObserver } from '../llm/response-observer.ts';
import { UsageChunkStripper, withIncludeUsage } from '../llm/stream-usage.ts';
import type { Stage } from '../pipeline/compose.ts';
import type { ProxyContext, ResponseDraft } from '../pipeline/context.ts';

function header(draft: ResponseDraft, name: string): string {
  const value = draft.headers[name];
  return typeof value === 'string' ? value.toLowerCase() : '';
}

/** Only Chat Completions and legacy Completions streams know `stream_options.include_usage`. */
function addsUsage(ctx: ProxyContext, exchange: LlmExchange): boolean {
  const { request } = exchange;
  if (!request.stream || request.includeUsage || ctx.requestBody === undefined) return false;
  if (request.operation !== 'chat' && request.operation !== 'text_completion') return false;
  const rewritten = withIncludeUsage(ctx.requestBody);
  if (rewritten === undefined) return false;
  ctx.requestBody = rewritten;
  return true;
}

/** Stripping wraps the body: the client must get the stream without the usage chunk. */
function stripUsage(draft: ResponseDraft, body: Readable, observer: ResponseObserver): void {
  const stripper = new UsageChunkStripper((chunk) => observer.observe(chunk));
  body.on('error', (error) => stripper.destroy(error));
  // The client leaving destroys the stripper; the upstream transfer must stop with it.
  stripper.once('close', () => {
    if (!body.readableEnded) body.destroy();
  });
  body.pipe(stripper);
  draft.body = stripper;
}

function observe(ctx: ProxyContext, exchange: LlmExchange, protocol: LlmProtocol, stripping: boolean): void {
  const draft = ctx.response;
  if (!draft || !(draft.body instanceof Readable) || draft.status < 200 || draft.status >= 300) return;
  const type = header(draft, 'content-type');
  const eventStream = type.startsWith('text/event-stream');
  if (!eventStream && !type.includes('json')) return;
  const encoding = header(draft, 'content-encoding');
  const encoded = encoding !== '' && encoding !== 'identity';
  if (encoded && (eventStream || !canDecodeJson(encoding))) {
    exchange.unreadable = 'encoded';
    return;
  }
  const { request } = exchange;
  const observer = new ResponseObserver(protocol, request.operation, eventStream, {
    contentEncoding: encoded ? encoding : undefined,
    singleChoice: request.parsed && (request.choices === undefined || request.choices === 1),
  });
  exchange.observer = observer;
  if (stripping && eventStream) stripUsage(draft, draft.body, observer);
  else draft.observer = observer;
}

export function llmStage(protocol: LlmProtocol, ensureStreamUsage: boolean): Stage {
  return {
    name: 'llm',
    async run(ctx, next) {
      const exchange: LlmExchange = {
        request: describeLlmRequest(protocol, ctx.path, ctx.requestJson()),
        observer: undefined,
        unreadable: undefined,
      };
      ctx.llm = exchange;
      const stripping = ensureStreamUsage && addsUsage(ctx, exchange);
      await next();
      observe(ctx, exchange, protocol, stripping);
    },
  };
}
