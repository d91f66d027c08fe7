/**
 * What a request will cost in LLM tokens, estimated before it is sent, so a token limit can reserve
 * it at admission and reconcile with the real usage afterwards. No tokenizer: a byte heuristic
 * (UTF-8 bytes / 4, rounded up, plus 4 tokens per message) costs 0.3–1.3 µs per KiB of prompt,
 * while a BPE tokenizer (gpt-tokenizer) costs 0.16–0.36 ms per KiB on the event loop, loads 1–2.4 MB
 * of ranks per encoding, and still would not know the Anthropic or self-hosted models' vocabularies.
 * What the heuristic gets wrong, measured, is in docs/traffic-control.md.
 */
import { type JsonObject, jsonObject } from '../llm/json.ts';

export interface TokenEstimate {
  readonly input: number;
  readonly output: number;
  readonly total: number;
}

export const BYTES_PER_TOKEN = 4;
/** Role markers and separators the model sees around each message (OpenAI documents 3–4). */
export const MESSAGE_OVERHEAD_TOKENS = 4;
/**
 * An image, audio clip or file part, whose bytes (base64, or a URL) say nothing about its tokens:
 * OpenAI bills a 1024×1024 high-detail image 765 tokens, Anthropic up to ~1,600. An order of
 * magnitude for the reservation; the real usage settles it afterwards.
 */
export const MEDIA_PART_TOKENS = 1000;

/** The body fields that hold what the model reads, across OpenAI chat, Responses, completions, embeddings and Anthropic. */
const PROMPT_FIELDS = [
  'system',
  'instructions',
  'messages',
  'input',
  'prompt',
  'tools',
  'functions',
] as const;

/** Fields whose values are protocol plumbing, not text the model reads. */
const PLUMBING_KEYS = new Set([
  'role',
  'type',
  'id',
  'call_id',
  'tool_call_id',
  'tool_use_id',
  'cache_control',
  'detail',
  'media_type',
  'format',
  'status',
]);

const MEDIA_PART_TYPES = new Set([
  'image',
  'image_url',
  'input_image',
  'audio',
  'input_audio',
  'file',
  'input_file',
  'document',
]);

/**
 * Bytes the model reads in `root`: strings by their UTF-8 length; a number or boolean as one
 * token (a token id in an embeddings `input`, a value in a tool input); media parts and data URLs
 * as MEDIA_PART_TOKENS. Object keys count only where the model reads them as JSON text (tool
 * definitions). Iterative, so a deeply nested body cannot overflow the stack.
 */
function promptBytes(root: unknown, withKeys: boolean): number {
  let bytes = 0;
  const pending: unknown[] = [root];
  while (pending.length > 0) {
    const value = pending.pop();
    if (typeof value === 'string') {
      bytes += value.startsWith('data:') ? MEDIA_PART_TOKENS * BYTES_PER_TOKEN : Buffer.byteLength(value);
    } else if (typeof value === 'number' || typeof value === 'boolean') {
      bytes += BYTES_PER_TOKEN;
    } else if (Array.isArray(value)) {
      for (const item of value) pending.push(item);
    } else if (value !== null && typeof value === 'object') {
      const part = value as JsonObject;
      if (typeof part['type'] === 'string' && MEDIA_PART_TYPES.has(part['type'])) {
        bytes += MEDIA_PART_TOKENS * BYTES_PER_TOKEN;
        continue;
      }
      for (const key in part) {
        if (PLUMBING_KEYS.has(key) && !withKeys) continue;
        if (withKeys) bytes += Buffer.byteLength(key);
        pending.push(part[key]);
      }
    }
  }
  return bytes;
}

/** Messages the model sees framed: chat and Anthropic `messages`, Responses `input` items, and a system prompt. */
function messageCount(body: JsonObject): number {
  let count = 0;
  for (const field of ['messages', 'input'] as const) {
    const items = body[field];
    // Objects only: an array of strings or token ids is one prompt per item, not a conversation.
    if (Array.isArray(items)) count += items.filter((item) => jsonObject(item) !== undefined).length;
  }
  if (body['system'] !== undefined || body['instructions'] !== undefined) count += 1;
  return count;
}

/** The first of max_completion_tokens, max_output_tokens, max_tokens that is a positive integer. */
export function requestedOutputTokens(body: JsonObject | undefined): number | undefined {
  if (body === undefined) return undefined;
  for (const field of ['max_completion_tokens', 'max_output_tokens', 'max_tokens'] as const) {
    const value = body[field];
    if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) return value;
  }
  return undefined;
}

/**
 * Input from the prompt fields (or, when the body is not JSON or has none, from its raw size);
 * output from the request's own cap or `defaults.outputTokens`, times `n` choices when asked for
 * several. Whole tokens, never negative.
 */
export function estimateRequestTokens(
  body: JsonObject | undefined,
  rawBytes: number,
  defaults: { readonly outputTokens: number },
): TokenEstimate {
  const fields = body === undefined ? [] : PROMPT_FIELDS.filter((field) => body[field] !== undefined);
  let input: number;
  if (body === undefined || fields.length === 0) {
    input = Math.ceil(Math.max(0, rawBytes) / BYTES_PER_TOKEN);
  } else {
    let bytes = 0;
    for (const field of fields) bytes += promptBytes(body[field], field === 'tools' || field === 'functions');
    input = Math.ceil(bytes / BYTES_PER_TOKEN) + MESSAGE_OVERHEAD_TOKENS * messageCount(body);
  }
  const choices = body?.['n'];
  const perChoice = requestedOutputTokens(body) ?? Math.max(0, Math.ceil(defaults.outputTokens));
  const output =
    typeof choices === 'number' && Number.isSafeInteger(choices) && choices > 1
      ? perChoice * choices
      : perChoice;
  return { input, output, total: input + output };
}
