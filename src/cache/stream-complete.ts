/**
 * Whether a whole upstream answer may be stored: a cached answer is replayed for its whole TTL, so
 * one cut short (a dropped connection, an upstream that died mid-stream) must never be kept.
 *
 * An SSE answer is whole when its last event is its protocol's terminal event, dispatched (followed
 * by a blank line, as the SSE spec requires before an event counts). Only the end of the stream is
 * read: the last ~64 KiB from an event boundary, stretched back only as far as the start of the
 * last two events when those are larger (a Responses API `response.completed` event carries the
 * whole response and can be bigger than the window).
 */
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { jsonObject } from '../llm/json.ts';
import type { LlmProtocol } from '../llm/request.ts';

const LF = 0x0a;
const CR = 0x0d;
const TAIL_BYTES = 64 * 1024;
/** Fatal, so that bytes that are not UTF-8 are not JSON either (RFC 8259 §8.1). */
const utf8 = new TextDecoder('utf-8', { fatal: true });

const isLineBreak = (byte: number | undefined): boolean => byte === LF || byte === CR;

/** Whether the run of line-break bytes [start, end) is at least two line ends, a CRLF being one. */
function holdsBlankLine(body: Buffer, start: number, end: number): boolean {
  const length = end - start;
  return length >= 3 || (length === 2 && !(body[start] === CR && body[start + 1] === LF));
}

/** The first position at or after `from` where an event may begin: just past a blank line. */
function eventStartAtOrAfter(body: Buffer, from: number): number {
  if (from <= 0) return 0;
  let at = from;
  // Back to the start of a run of line breaks `from` may have landed in, so a CRLF is not split.
  while (at > 0 && isLineBreak(body[at - 1])) at--;
  while (at < body.length) {
    if (!isLineBreak(body[at])) {
      at++;
      continue;
    }
    let runEnd = at;
    while (isLineBreak(body[runEnd])) runEnd++;
    if (holdsBlankLine(body, at, runEnd)) return runEnd;
    at = runEnd;
  }
  return body.length;
}

/** The last line break before `before`, or -1: native searches, as the last event may be megabytes. */
function lineBreakBefore(body: Buffer, before: number): number {
  if (before <= 0) return -1;
  const lf = body.lastIndexOf(LF, before - 1);
  // Only a CR after that LF matters; bounding the search keeps an LF-only stream from being
  // searched end to start for a CR it does not have.
  const cr = body.subarray(lf + 1, before).lastIndexOf(CR);
  return cr === -1 ? lf : lf + 1 + cr;
}

/** Where the block of lines that ends before `end` begins: just past the blank line before it, or 0. */
function blockStartBefore(body: Buffer, end: number): number {
  let at = end;
  while (at > 0 && isLineBreak(body[at - 1])) at--;
  for (let lineBreak = lineBreakBefore(body, at); lineBreak !== -1; lineBreak = lineBreakBefore(body, at)) {
    let runStart = lineBreak;
    while (runStart > 0 && isLineBreak(body[runStart - 1])) runStart--;
    if (holdsBlankLine(body, runStart, lineBreak + 1)) return lineBreak + 1;
    at = runStart;
  }
  return 0;
}

/** The last event of the stream that was dispatched, and the one before it (when read). */
function lastEvents(body: Buffer): { last?: EventSourceMessage; previous?: EventSourceMessage } {
  const lastTwoStart = blockStartBefore(body, blockStartBefore(body, body.length));
  const windowStart = eventStartAtOrAfter(body, Math.max(0, body.length - TAIL_BYTES));
  let last: EventSourceMessage | undefined;
  let previous: EventSourceMessage | undefined;
  const parser = createParser({
    onEvent: (event) => {
      previous = last;
      last = event;
    },
  });
  // latin1: one character per byte and no decoding failures; every value compared below is ASCII.
  parser.feed(body.toString('latin1', Math.min(lastTwoStart, windowStart)));
  return { last, previous };
}

/** The `type` member of an event's JSON data, if it has one. */
function dataType(data: string): unknown {
  try {
    return jsonObject(JSON.parse(data))?.['type'];
  } catch {
    return undefined;
  }
}

/**
 * An error reported in-stream. vLLM and other OpenAI-compatible servers that fail mid-answer send
 * `data: {"error": …}` (older vLLM: `{"object":"error", …}`) and then still `data: [DONE]`.
 */
function isErrorEvent(event: EventSourceMessage): boolean {
  if (event.event === 'error') return true;
  if (!event.data.includes('error')) return false;
  try {
    const payload = jsonObject(JSON.parse(event.data));
    return payload !== undefined && ((payload['error'] ?? null) !== null || payload['object'] === 'error');
  } catch {
    return false;
  }
}

/**
 * `response.incomplete` is stored only when the request's own `max_output_tokens` cut it: that is
 * the answer this request asks for, as Chat Completions' `finish_reason: "length"` is (and that one
 * ends with `[DONE]` and is stored). Any other reason (`content_filter`, or one added later) is not:
 * it says something went wrong with this attempt, not what the request deserves every time.
 */
function cutByOwnLimit(data: string): boolean {
  try {
    const response = jsonObject(jsonObject(JSON.parse(data))?.['response']);
    return jsonObject(response?.['incomplete_details'])?.['reason'] === 'max_output_tokens';
  } catch {
    return false;
  }
}

/**
 * For a Responses API terminal event, whether it ends an answer worth storing; undefined for any
 * other event. The API names its events; servers that omit `event:` still give the data a `type`.
 */
function responsesVerdict(event: EventSourceMessage): boolean | undefined {
  const type = event.event ?? dataType(event.data);
  if (type === 'response.completed') return true;
  if (type === 'response.incomplete') return cutByOwnLimit(event.data);
  // A failed answer is not worth replaying.
  if (type === 'response.failed') return false;
  return undefined;
}

function openaiStreamEnded(last: EventSourceMessage, previous: EventSourceMessage | undefined): boolean {
  if (last.data.trim() === '[DONE]') {
    // Chat Completions and Completions end with `[DONE]`; so do gateways that append one to a
    // Responses stream, whose own terminal event then decides. `[DONE]` alone is no answer.
    return previous !== undefined && !isErrorEvent(previous) && responsesVerdict(previous) !== false;
  }
  // `error`, a delta, or anything else that is not a Responses terminal event: cut short.
  return responsesVerdict(last) === true;
}

/** Whether an SSE answer ended with its protocol's terminal event and may be stored. */
export function streamIsComplete(protocol: LlmProtocol, body: Buffer): boolean {
  const { last, previous } = lastEvents(body);
  if (last === undefined) return false;
  // Anthropic's SDK reads `message_stop` by its event name; data-only events are not dispatched.
  return protocol === 'anthropic' ? last.event === 'message_stop' : openaiStreamEnded(last, previous);
}

/** Whether a JSON answer is whole: one JSON value, UTF-8, surrounding whitespace allowed. */
export function jsonIsComplete(body: Buffer): boolean {
  try {
    JSON.parse(utf8.decode(body));
    return true;
  } catch {
    return false;
  }
}
