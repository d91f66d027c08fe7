/**
 * Most events of an LLM stream are one token's delta and carry nothing accounting needs but the
 * fact that a token arrived. Parsing each as JSON was the largest cost of reading a stream (see
 * docs/benchmarks.md), so such events are recognised by their text and skipped; every event that
 * may carry a model, a finish reason or usage is still parsed. The patterns allow the whitespace
 * that other JSON writers (Python's json.dumps) put after `:` and `,`. They cannot be fooled by a
 * delta's own text: inside a JSON string a `"` is always escaped, so `"content":"` in generated
 * text shows up as `\"content\":\"`.
 */
import type { LlmOperation, LlmProtocol } from './request.ts';

/** OpenAI chunks that may end a choice or report usage: these are always parsed. */
const openaiNeedsParsing = /"finish_reason"\s*:\s*"|"usage"\s*:\s*\{/;
/** A non-empty content / text delta, or a tool-call delta: the same tests the parsed path makes. */
const openaiToken = /"(?:content|text)"\s*:\s*"[^"]|"tool_calls"\s*:\s*\[/;
const anthropicDelta = /^\{\s*"type"\s*:\s*"content_block_delta"/;
const responsesDelta = /^\{\s*"type"\s*:\s*"response\.(?:output_text|function_call_arguments)\.delta"/;

/** How a compact (no-whitespace) chat or completions chunk that ends no choice and reports no usage ends. */
const plainChunkEnd = '"finish_reason":null}]}';
const plainChunkEndWithNullUsage = '"finish_reason":null}],"usage":null}';

export type DeltaVerdict = 'token' | 'no-token' | 'parse';

/** A non-empty string value under `key` (`"content":"`) before `end`, as the parsed path tests it. */
function nonEmptyBefore(data: string, key: string, end: number): boolean {
  const at = data.lastIndexOf(key, end);
  return at !== -1 && data.charCodeAt(at + key.length) !== 0x22;
}

/**
 * The common compact OpenAI delta, told by its ending and a few substring searches (the content
 * sits near the end, so they search backwards from there): the regular expressions below cost
 * about three times as much per event in place.
 */
function plainOpenaiDelta(data: string): DeltaVerdict | undefined {
  let end: number;
  if (data.endsWith(plainChunkEnd)) end = data.length - plainChunkEnd.length;
  else if (data.endsWith(plainChunkEndWithNullUsage)) end = data.length - plainChunkEndWithNullUsage.length;
  else return undefined;
  // The null finish reason at the end is the only one: no other choice of this chunk finished.
  if (data.indexOf('"finish_reason"') !== end) return undefined;
  const token =
    nonEmptyBefore(data, '"content":"', end) ||
    nonEmptyBefore(data, '"text":"', end) ||
    data.lastIndexOf('"tool_calls":[', end) !== -1;
  return token ? 'token' : 'no-token';
}

/**
 * What an event's data says without parsing it: a token delta, a chunk with nothing to count, or
 * `parse` when it may carry more. OpenAI chunks are only skipped once the model is known (the first
 * chunk names it) and when they look like one JSON object.
 */
export function classifyDelta(
  protocol: LlmProtocol,
  operation: LlmOperation,
  data: string,
  modelKnown: boolean,
): DeltaVerdict {
  if (protocol === 'anthropic') return anthropicDelta.test(data) ? 'token' : 'parse';
  if (operation === 'responses') return responsesDelta.test(data) ? 'token' : 'parse';
  if (!modelKnown || data.charCodeAt(0) !== 0x7b || data.charCodeAt(data.length - 1) !== 0x7d) return 'parse';
  const plain = plainOpenaiDelta(data);
  if (plain !== undefined) return plain;
  if (openaiNeedsParsing.test(data)) return 'parse';
  return openaiToken.test(data) ? 'token' : 'no-token';
}
