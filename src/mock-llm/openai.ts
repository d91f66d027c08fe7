/**
 * OpenAI-compatible `POST /v1/chat/completions` and `POST /v1/completions`, JSON and SSE. The chunk
 * sequence and fields follow OpenAI's own streams, so SDK stream helpers and usage accounting work.
 */
import {
  includeObfuscation,
  includeUsage,
  type JsonObject,
  requireArray,
  requireBodyObject,
  requireModel,
} from './body-fields.ts';
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

const SYSTEM_FINGERPRINT = 'fp_sluice_mock';
const DONE_EVENT = 'data: [DONE]\n\n';

interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens: number };
  completion_tokens_details?: { reasoning_tokens: number };
}

/** The details objects appear only when a test asked for cached or reasoning tokens. */
function usageOf(promptTokens: number, completion: Completion, plan: FaultPlan): Usage {
  const completionTokens = completion.tokens.length + plan.reasoningTokens;
  const usage: Usage = {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
  };
  if (plan.cachedTokens > 0 || plan.reasoningTokens > 0) {
    usage.prompt_tokens_details = { cached_tokens: Math.min(plan.cachedTokens, promptTokens) };
    usage.completion_tokens_details = { reasoning_tokens: plan.reasoningTokens };
  }
  return usage;
}

const finishReason = (completion: Completion) => (completion.truncated ? 'length' : 'stop');
const nowSeconds = () => Math.floor(Date.now() / 1000);

/** Prompt tokens of a legacy `prompt`: text by the heuristic, token-id arrays by their length. */
function promptTokens(prompt: unknown): number {
  if (typeof prompt === 'string') return estimateTokens(prompt.length);
  if (!Array.isArray(prompt)) return 0;
  let ids = 0;
  for (const item of prompt) {
    if (typeof item === 'number') ids++;
    else if (Array.isArray(item)) ids += item.length;
  }
  return ids + estimateTokens(contentCharacters(prompt));
}

const PADDING_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/**
 * OpenAI pads every delta chunk with an `obfuscation` member of random characters, so chunk sizes do
 * not give away token lengths (`stream_options.include_obfuscation: false` turns it off). The mock's
 * 1–16 characters round the choice's length up the same way, but are derived from the chunk, so
 * identical requests still get byte-identical streams.
 */
function obfuscation(choice: string): string {
  const length = 1 + ((16 - (choice.length % 16)) % 16);
  let padding = '';
  for (let i = 0; i < length; i++)
    padding +=
      PADDING_ALPHABET[(choice.charCodeAt(i % choice.length) * 7 + i * 13) % PADDING_ALPHABET.length];
  return padding;
}

/**
 * The SSE events of one stream, built lazily from one shared prefix per request: only the part that
 * changes per chunk is concatenated, and nothing is built once the client has gone.
 */
function* chunkEvents(prefix: string, tail: StreamTail, choices: Iterable<string>, usage: Usage | undefined) {
  const usageNull = tail.usageNull ? ',"usage":null' : '';
  for (const choice of choices) {
    const padding = tail.obfuscation ? `,"obfuscation":"${obfuscation(choice)}"` : '';
    yield `${prefix}[${choice}]${usageNull}${padding}}\n\n`;
  }
  if (usage) yield `${prefix}[],"usage":${JSON.stringify(usage)}}\n\n`;
  yield DONE_EVENT;
}

interface StreamTail {
  /** `"usage":null` on every chunk before the usage chunk (when usage was asked for). */
  readonly usageNull: boolean;
  readonly obfuscation: boolean;
}

function streamPrefix(id: string, object: string, model: string): string {
  return `data: {"id":"${id}","object":"${object}","created":${nowSeconds()},"model":${JSON.stringify(model)},"system_fingerprint":"${SYSTEM_FINGERPRINT}","choices":`;
}

function* chatChoices(completion: Completion) {
  yield '{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}';
  for (const token of completion.tokens) {
    yield `{"index":0,"delta":{"content":"${token}"},"logprobs":null,"finish_reason":null}`;
  }
  yield `{"index":0,"delta":{},"logprobs":null,"finish_reason":"${finishReason(completion)}"}`;
}

function* textChoices(completion: Completion) {
  for (const token of completion.tokens) {
    yield `{"text":"${token}","index":0,"logprobs":null,"finish_reason":null}`;
  }
  yield `{"text":"","index":0,"logprobs":null,"finish_reason":"${finishReason(completion)}"}`;
}

interface StreamShape {
  readonly id: string;
  readonly object: 'chat.completion.chunk' | 'text_completion';
  readonly model: string;
  readonly choices: Iterable<string>;
  readonly choiceCount: number;
}

function stream(exchange: MockExchange, body: JsonObject, shape: StreamShape, usage: Usage): Promise<void> {
  const withUsage = includeUsage(body);
  const events = chunkEvents(
    streamPrefix(shape.id, shape.object, shape.model),
    { usageNull: withUsage, obfuscation: includeObfuscation(body) },
    shape.choices,
    withUsage ? usage : undefined,
  );
  return sendSse(exchange, events, shape.choiceCount + (withUsage ? 2 : 1));
}

export const chatCompletions: MockHandler = (exchange) => {
  const body = requireBodyObject(exchange);
  if (!body) return;
  const model = requireModel(exchange, body);
  if (model === undefined) return;
  const messages = requireArray(exchange, body, 'messages');
  if (!messages) return;
  const maxTokens = requestedMaxTokens(body, ['max_completion_tokens', 'max_tokens']);
  const completion = generateCompletion(exchange.info.body, exchange.plan.tokens, maxTokens, exchange.json);
  const usage = usageOf(estimateTokens(messagesCharacters(messages)), completion, exchange.plan);
  const id = `chatcmpl-mock-${exchange.info.id}`;
  if (body['stream'] === true) {
    const choices = chatChoices(completion);
    const shape = {
      id,
      object: 'chat.completion.chunk',
      model,
      choices,
      choiceCount: completion.tokens.length + 2,
    } as const;
    return stream(exchange, body, shape, usage);
  }
  sendJsonValue(exchange, {
    id,
    object: 'chat.completion',
    created: nowSeconds(),
    model,
    system_fingerprint: SYSTEM_FINGERPRINT,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: completion.tokens.join(''), refusal: null, annotations: [] },
        logprobs: null,
        finish_reason: finishReason(completion),
      },
    ],
    usage,
  });
};

export const completions: MockHandler = (exchange) => {
  const body = requireBodyObject(exchange);
  if (!body) return;
  const model = requireModel(exchange, body);
  if (model === undefined) return;
  const prompt = body['prompt'];
  if (typeof prompt !== 'string' && !Array.isArray(prompt)) {
    return rejectRequest(exchange, 400, "Missing required parameter: 'prompt' (a string or an array).");
  }
  const completion = generateCompletion(
    exchange.info.body,
    exchange.plan.tokens,
    requestedMaxTokens(body, ['max_tokens']),
    exchange.json,
  );
  const usage = usageOf(promptTokens(prompt), completion, exchange.plan);
  const id = `cmpl-mock-${exchange.info.id}`;
  if (body['stream'] === true) {
    const choices = textChoices(completion);
    const shape = {
      id,
      object: 'text_completion',
      model,
      choices,
      choiceCount: completion.tokens.length + 1,
    } as const;
    return stream(exchange, body, shape, usage);
  }
  sendJsonValue(exchange, {
    id,
    object: 'text_completion',
    created: nowSeconds(),
    model,
    system_fingerprint: SYSTEM_FINGERPRINT,
    choices: [
      { text: completion.tokens.join(''), index: 0, logprobs: null, finish_reason: finishReason(completion) },
    ],
    usage,
  });
};
