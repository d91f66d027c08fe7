/**
 * Anthropic `POST /v1/messages` (JSON and SSE) and `POST /v1/messages/count_tokens`. The stream has
 * the real event sequence: message_start, content_block_start, ping, content_block_delta × n,
 * content_block_stop, message_delta (stop reason, output tokens), message_stop.
 */
import { type JsonObject, requireArray, requireBodyObject, requireModel } from './body-fields.ts';
import { rejectRequest } from './errors.ts';
import type { FaultPlan } from './faults.ts';
import { sendJsonValue, sendSse } from './respond.ts';
import {
  type Completion,
  contentCharacters,
  estimateTokens,
  generateCompletion,
  messagesCharacters,
  requestedMaxTokens,
} from './text.ts';
import type { MockExchange, MockHandler } from './types.ts';

/** Events around the deltas: message_start, content_block_start, ping; content_block_stop, message_delta, message_stop. */
const FRAMING_EVENTS = 6;

const BLOCK_START_EVENT =
  'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n';
const PING_EVENT = 'event: ping\ndata: {"type": "ping"}\n\n';
const BLOCK_STOP_EVENT = 'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n';
const MESSAGE_STOP_EVENT = 'event: message_stop\ndata: {"type":"message_stop"}\n\n';

/** Input tokens by the heuristic: the text of `system` plus every message's content. */
function inputTokens(body: JsonObject, messages: readonly unknown[]): number {
  return estimateTokens(contentCharacters(body['system']) + messagesCharacters(messages));
}

const stopReason = (completion: Completion) => (completion.truncated ? 'max_tokens' : 'end_turn');

/**
 * Anthropic reports prompt-cache reads apart from `input_tokens`, which then counts only the
 * uncached rest; the cache fields appear only when a test asked for cached tokens.
 */
function usageOf(input: number, output: number, plan: FaultPlan) {
  const cached = Math.min(plan.cachedTokens, input);
  if (cached === 0) return { input_tokens: input, output_tokens: output };
  return {
    input_tokens: input - cached,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: cached,
    output_tokens: output,
  };
}

function* messageEvents(id: string, model: string, input: number, completion: Completion, plan: FaultPlan) {
  const message = {
    id,
    type: 'message',
    role: 'assistant',
    model,
    content: [],
    stop_reason: null,
    stop_sequence: null,
    usage: usageOf(input, Math.min(1, completion.tokens.length), plan),
  };
  yield `event: message_start\ndata: ${JSON.stringify({ type: 'message_start', message })}\n\n`;
  yield BLOCK_START_EVENT;
  yield PING_EVENT;
  for (const token of completion.tokens) {
    yield `event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"${token}"}}\n\n`;
  }
  yield BLOCK_STOP_EVENT;
  yield `event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"${stopReason(completion)}","stop_sequence":null},"usage":{"output_tokens":${completion.tokens.length}}}\n\n`;
  yield MESSAGE_STOP_EVENT;
}

/** The fields both endpoints need; undefined after a 400 was sent. */
function readRequest(exchange: MockExchange) {
  const body = requireBodyObject(exchange);
  if (!body) return undefined;
  const model = requireModel(exchange, body);
  if (model === undefined) return undefined;
  const messages = requireArray(exchange, body, 'messages');
  if (!messages) return undefined;
  return { body, model, input: inputTokens(body, messages) };
}

export const messages: MockHandler = (exchange) => {
  const request = readRequest(exchange);
  if (!request) return;
  const { body, model, input } = request;
  const maxTokens = requestedMaxTokens(body, ['max_tokens']);
  if (maxTokens === undefined) {
    return rejectRequest(exchange, 400, 'max_tokens: Field required (a non-negative integer).');
  }
  const completion = generateCompletion(exchange.info.body, exchange.plan.tokens, maxTokens, exchange.json);
  const id = `msg_mock_${exchange.info.id}`;
  if (body['stream'] === true) {
    return sendSse(
      exchange,
      messageEvents(id, model, input, completion, exchange.plan),
      completion.tokens.length + FRAMING_EVENTS,
    );
  }
  sendJsonValue(exchange, {
    id,
    type: 'message',
    role: 'assistant',
    model,
    content: [{ type: 'text', text: completion.tokens.join('') }],
    stop_reason: stopReason(completion),
    stop_sequence: null,
    usage: usageOf(input, completion.tokens.length, exchange.plan),
  });
};

export const countTokens: MockHandler = (exchange) => {
  const request = readRequest(exchange);
  if (request) sendJsonValue(exchange, { input_tokens: request.input });
};
