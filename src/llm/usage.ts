/**
 * Token usage as the providers bill it, normalised to one shape. Each field is the provider's own
 * count; nothing is estimated here. Absent fields stay undefined rather than becoming 0, so "the
 * provider did not say" is never reported as "zero tokens".
 */
import { jsonObject } from './json.ts';

export interface TokenUsage {
  /**
   * All input tokens, cached ones included, as the GenAI conventions count them. OpenAI reports
   * this total; Anthropic reports the uncached rest, and `withCacheInInput` adds its cache reads
   * and writes once the whole response is in.
   */
  input?: number;
  output?: number;
  /** Input tokens read from the provider's prompt cache (a subset of `input`). */
  cachedInput?: number;
  /** Anthropic: input tokens written to the prompt cache (a subset of `input`). */
  cacheCreationInput?: number;
  /** Reasoning tokens (a subset of `output`). */
  reasoning?: number;
}

function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : undefined;
}

const usageKeys = ['input', 'output', 'cachedInput', 'cacheCreationInput', 'reasoning'] as const;

/** Only the counts the provider gave; undefined when it gave none. Per request, so no entries() round trip. */
function withoutUndefined(usage: TokenUsage): TokenUsage | undefined {
  const counts: { -readonly [K in keyof TokenUsage]: TokenUsage[K] } = {};
  let any = false;
  for (const key of usageKeys) {
    const value = usage[key];
    if (value !== undefined) {
      counts[key] = value;
      any = true;
    }
  }
  return any ? counts : undefined;
}

/**
 * An OpenAI `usage` object: Chat Completions / Completions / Embeddings (`prompt_tokens`,
 * `completion_tokens`) or the Responses API (`input_tokens`, `output_tokens`).
 */
export function openaiUsage(raw: unknown): TokenUsage | undefined {
  const usage = jsonObject(raw);
  if (!usage) return undefined;
  const inputDetails =
    jsonObject(usage['prompt_tokens_details']) ?? jsonObject(usage['input_tokens_details']);
  const outputDetails =
    jsonObject(usage['completion_tokens_details']) ?? jsonObject(usage['output_tokens_details']);
  return withoutUndefined({
    input: count(usage['prompt_tokens']) ?? count(usage['input_tokens']),
    output: count(usage['completion_tokens']) ?? count(usage['output_tokens']),
    cachedInput: count(inputDetails?.['cached_tokens']),
    reasoning: count(outputDetails?.['reasoning_tokens']),
  });
}

/** An Anthropic `usage` object (message, message_start, message_delta). */
export function anthropicUsage(raw: unknown): TokenUsage | undefined {
  const usage = jsonObject(raw);
  if (!usage) return undefined;
  return withoutUndefined({
    input: count(usage['input_tokens']),
    output: count(usage['output_tokens']),
    cachedInput: count(usage['cache_read_input_tokens']),
    cacheCreationInput: count(usage['cache_creation_input_tokens']),
  });
}

/** Later reports win field by field (Anthropic sends input at message_start and output at message_delta). */
export function mergeUsage(
  into: TokenUsage | undefined,
  next: TokenUsage | undefined,
): TokenUsage | undefined {
  if (!next) return into;
  return { ...into, ...next };
}

/**
 * Anthropic's `input_tokens` leaves out cache reads and writes, which it bills separately; adding
 * them gives the total input the conventions (and OpenAI) report, so one metric means one thing.
 */
export function withCacheInInput(usage: TokenUsage | undefined): TokenUsage | undefined {
  if (usage?.input === undefined) return usage;
  return { ...usage, input: usage.input + (usage.cachedInput ?? 0) + (usage.cacheCreationInput ?? 0) };
}
