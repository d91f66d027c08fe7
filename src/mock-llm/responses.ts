/**
 * OpenAI Responses API `POST /v1/responses`, JSON and SSE. The stream has the real event sequence:
 * response.created, response.in_progress, response.output_item.added, response.content_part.added,
 * response.output_text.delta × n, response.output_text.done, response.content_part.done,
 * response.output_item.done, then response.completed or response.incomplete (no `[DONE]`). The
 * official SDK checks item ids, indexes and order strictly when it accumulates a stream, so they match.
 */
import { type JsonObject, requireBodyObject, requireModel } from './body-fields.ts';
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
import type { MockHandler } from './types.ts';

/** Events around the deltas: created, in_progress, item added, part added; text done, part done, item done, the end. */
const FRAMING_EVENTS = 8;

type ResponseStatus = 'in_progress' | 'completed' | 'incomplete';

/** Unlike chat, the Responses API always sends both details objects, with zeros when nothing applies. */
interface ResponseUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

/** What stays the same in every snapshot of one response. */
interface ResponseFrame {
  readonly id: string;
  readonly messageId: string;
  readonly model: string;
  readonly createdAt: number;
  readonly instructions: string | null;
  readonly maxOutputTokens: number | null;
}

function usageOf(input: number, completion: Completion, plan: FaultPlan): ResponseUsage {
  const output = completion.tokens.length + plan.reasoningTokens;
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: Math.min(plan.cachedTokens, input) },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: plan.reasoningTokens },
    total_tokens: input + output,
  };
}

/** Input tokens by the heuristic: `instructions` plus the input string or every input item's content. */
function inputTokens(instructions: string | null, input: string | readonly unknown[]): number {
  const inputCharacters = typeof input === 'string' ? input.length : messagesCharacters(input);
  return estimateTokens(contentCharacters(instructions) + inputCharacters);
}

const finalStatus = (completion: Completion) => (completion.truncated ? 'incomplete' : 'completed');

/**
 * The response object in the real field order. Sampling and tool settings are the API's defaults;
 * `store` is false because the mock keeps nothing to retrieve later.
 */
function responseObject(
  frame: ResponseFrame,
  status: ResponseStatus,
  output: readonly object[],
  usage: ResponseUsage | null,
) {
  return {
    id: frame.id,
    object: 'response',
    created_at: frame.createdAt,
    status,
    background: false,
    error: null,
    incomplete_details: status === 'incomplete' ? { reason: 'max_output_tokens' } : null,
    instructions: frame.instructions,
    max_output_tokens: frame.maxOutputTokens,
    model: frame.model,
    output,
    parallel_tool_calls: true,
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    store: false,
    temperature: 1,
    text: { format: { type: 'text' } },
    tool_choice: 'auto',
    tools: [],
    top_p: 1,
    truncation: 'disabled',
    usage,
    user: null,
    metadata: {},
  };
}

const outputText = (text: string) => ({ type: 'output_text', annotations: [], logprobs: [], text });

function messageItem(frame: ResponseFrame, status: ResponseStatus, text: string | undefined) {
  return {
    id: frame.messageId,
    type: 'message',
    status,
    content: text === undefined ? [] : [outputText(text)],
    role: 'assistant',
  };
}

function* responseEvents(frame: ResponseFrame, completion: Completion, usage: ResponseUsage) {
  let sequence = 0;
  const event = (type: string, fields: object) =>
    `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: sequence++, ...fields })}\n\n`;
  const part = { item_id: frame.messageId, output_index: 0, content_index: 0 };

  yield event('response.created', { response: responseObject(frame, 'in_progress', [], null) });
  yield event('response.in_progress', { response: responseObject(frame, 'in_progress', [], null) });
  yield event('response.output_item.added', {
    output_index: 0,
    item: messageItem(frame, 'in_progress', undefined),
  });
  yield event('response.content_part.added', { ...part, part: outputText('') });
  // Deltas are the bulk of a stream: spliced from prebuilt pieces (ids and tokens need no escaping).
  const deltaHead =
    'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","sequence_number":';
  const deltaBody = `,"item_id":"${frame.messageId}","output_index":0,"content_index":0,"delta":"`;
  for (const token of completion.tokens) {
    yield `${deltaHead}${sequence++}${deltaBody}${token}","logprobs":[]}\n\n`;
  }
  const text = completion.tokens.join('');
  yield event('response.output_text.done', { ...part, text, logprobs: [] });
  yield event('response.content_part.done', { ...part, part: outputText(text) });
  const status = finalStatus(completion);
  const item = messageItem(frame, status, text);
  yield event('response.output_item.done', { output_index: 0, item });
  yield event(`response.${status}`, { response: responseObject(frame, status, [item], usage) });
}

/** `input` is a string or an array of input items; anything else is the 400 the real API gives. */
function readInput(body: JsonObject): string | unknown[] | undefined {
  const input = body['input'];
  return typeof input === 'string' || Array.isArray(input) ? input : undefined;
}

export const responses: MockHandler = (exchange) => {
  const body = requireBodyObject(exchange);
  if (!body) return;
  const model = requireModel(exchange, body);
  if (model === undefined) return;
  const input = readInput(body);
  if (input === undefined) {
    return rejectRequest(exchange, 400, "Missing required parameter: 'input' (a string or an array).");
  }
  const instructions = typeof body['instructions'] === 'string' ? body['instructions'] : null;
  const maxOutputTokens = requestedMaxTokens(body, ['max_output_tokens']);
  const { info, plan } = exchange;
  const completion = generateCompletion(info.body, plan.tokens, maxOutputTokens, exchange.json);
  const usage = usageOf(inputTokens(instructions, input), completion, plan);
  const frame: ResponseFrame = {
    id: `resp_mock_${info.id}`,
    messageId: `msg_mock_${info.id}`,
    model,
    createdAt: Math.floor(Date.now() / 1000),
    instructions,
    maxOutputTokens: maxOutputTokens ?? null,
  };
  if (body['stream'] === true) {
    return sendSse(
      exchange,
      responseEvents(frame, completion, usage),
      completion.tokens.length + FRAMING_EVENTS,
    );
  }
  const status = finalStatus(completion);
  const item = messageItem(frame, status, completion.tokens.join(''));
  sendJsonValue(exchange, responseObject(frame, status, [item], usage));
};
