/**
 * Most events of an LLM stream are one token's delta and carry nothing accounting needs but the
 * fact that a token arrived. Parsing each as JSON was the largest cost of reading a stream (see
 * docs/benchmarks.md), so such events are recognised by their text and skipped; so is the event
 * that ends a single choice, whose finish reason is read from the text. Every event that may carry
 * a model or usage is still parsed. They cannot be fooled by a delta's own text: inside a JSON
 * string a `"` is always escaped, so `"content":"` in generated text shows up as `\"content\":\"`.
 */
import type { LlmOperation, LlmProtocol } from './request.ts';

/** OpenAI chunks that may end a choice or report usage: these are always parsed. */
const openaiNeedsParsing = /"finish_reason"\s*:\s*"|"usage"\s*:\s*\{/;
/** A non-empty content / text delta, or a tool-call delta: the same tests the parsed path makes. */
const openaiToken = /"(?:content|text)"\s*:\s*"[^"]|"tool_calls"\s*:\s*\[/;
const anthropicDelta = /^\{\s*"type"\s*:\s*"content_block_delta"/;
const responsesDelta = /^\{\s*"type"\s*:\s*"response\.(?:output_text|function_call_arguments)\.delta"/;

const FINISH_KEY = '"finish_reason":';
const USAGE_KEY = '"usage":';
const QUOTE = 0x22;
const BACKSLASH = '\\';

/** A chunk that ends its (only) choice: the reason, and whether it also carried a token. */
export interface ChoiceEnd {
  readonly finishReason: string;
  readonly token: boolean;
}

export type DeltaVerdict = 'token' | 'no-token' | 'parse' | ChoiceEnd;

/** What the request said that tells how its stream's chunks can be read. */
export interface StreamShape {
  /** The model is known (the first chunk, which names it, was parsed). */
  readonly modelKnown: boolean;
  /** The request asked for one choice (`n` absent or 1): no chunk can end a second one. */
  readonly singleChoice: boolean;
}

/** A non-empty string value under `key` (`"content":"`) before `end`, as the parsed path tests it. */
function nonEmptyBefore(data: string, key: string, end: number): boolean {
  const at = data.lastIndexOf(key, end);
  return at !== -1 && data.charCodeAt(at + key.length) !== QUOTE;
}

function carriesToken(data: string, end: number): boolean {
  return (
    nonEmptyBefore(data, '"content":"', end) ||
    nonEmptyBefore(data, '"text":"', end) ||
    data.lastIndexOf('"tool_calls":[', end) !== -1
  );
}

/**
 * A compact (no-whitespace) chat or completions chunk, read with backward substring searches from
 * its last `"finish_reason":` (which sits near the end, before members such as `"usage":null`,
 * OpenAI's `"obfuscation"` padding or vLLM's `"stop_reason"`): the regular expressions below cost
 * about three times as much per event in place. `undefined` when the chunk is not of that shape.
 */
function compactOpenaiChunk(data: string, singleChoice: boolean): DeltaVerdict | undefined {
  const at = data.lastIndexOf(FINISH_KEY);
  if (at === -1) return undefined;
  // Another choice of this chunk may have finished: only a parse can tell.
  if (!singleChoice && data.lastIndexOf('"finish_reason"', at - 1) !== -1) return undefined;
  const usage = data.lastIndexOf(USAGE_KEY);
  if (usage !== -1 && !data.startsWith('null', usage + USAGE_KEY.length)) return undefined;
  const valueAt = at + FINISH_KEY.length;
  if (data.startsWith('null', valueAt)) return carriesToken(data, at) ? 'token' : 'no-token';
  if (data.charCodeAt(valueAt) !== QUOTE) return undefined;
  const close = data.indexOf('"', valueAt + 1);
  if (close === -1) return undefined;
  const finishReason = data.slice(valueAt + 1, close);
  if (finishReason === '' || finishReason.includes(BACKSLASH)) return undefined;
  return { finishReason, token: carriesToken(data, at) };
}

/**
 * What an event's data says without parsing it: a token delta, a chunk with nothing to count, the
 * end of the only choice, or `parse` when it may carry more. OpenAI chunks are only read this way
 * once the model is known (the first chunk names it) and when they look like one JSON object.
 */
export function classifyDelta(
  protocol: LlmProtocol,
  operation: LlmOperation,
  data: string,
  shape: StreamShape,
): DeltaVerdict {
  if (protocol === 'anthropic') return anthropicDelta.test(data) ? 'token' : 'parse';
  if (operation === 'responses') return responsesDelta.test(data) ? 'token' : 'parse';
  if (!shape.modelKnown || data.charCodeAt(0) !== 0x7b || data.charCodeAt(data.length - 1) !== 0x7d)
    return 'parse';
  const compact = compactOpenaiChunk(data, shape.singleChoice);
  if (compact !== undefined) return compact;
  if (openaiNeedsParsing.test(data)) return 'parse';
  return openaiToken.test(data) ? 'token' : 'no-token';
}
