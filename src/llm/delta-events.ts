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

export type DeltaVerdict = 'token' | 'no-token' | 'parse';

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
  if (openaiNeedsParsing.test(data)) return 'parse';
  return openaiToken.test(data) ? 'token' : 'no-token';
}
