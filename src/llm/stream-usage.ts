/**
 * ensure_stream_usage: an OpenAI Chat Completions / Completions stream reports token counts only when
 * the request asks for them (`stream_options.include_usage`). Sluice asks on the client's behalf and
 * takes back out of the response what asking adds (a `"usage":null` member on every chunk and a final
 * chunk with no choices and the usage), so the client gets the bytes it would have got anyway.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { isDeepStrictEqual } from 'node:util';
import { createParser } from 'eventsource-parser';
import { type JsonObject, jsonObject } from './json.ts';

const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const TAB = 0x09;
const COMMA = 0x2c;
const COLON = 0x3a;
const USAGE_KEY = Buffer.from('"usage"');
const NULL = Buffer.from('null');
/** Fatal, so that a body that is not valid UTF-8 is left alone rather than re-encoded lossily. */
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The request body asking for usage, or undefined when there is nothing to do: not a JSON object
 * streaming, usage already asked for, or a `stream_options` that is not an object (left for the
 * upstream to reject as it would have).
 */
export function withIncludeUsage(body: Buffer): Buffer | undefined {
  let request: JsonObject | undefined;
  try {
    request = jsonObject(JSON.parse(utf8.decode(body)));
  } catch {
    return undefined;
  }
  if (request?.['stream'] !== true) return undefined;
  const options = request['stream_options'];
  if (options === undefined || options === null) {
    request['stream_options'] = { include_usage: true };
  } else {
    const existing = jsonObject(options);
    if (existing === undefined || existing['include_usage'] === true) return undefined;
    existing['include_usage'] = true;
  }
  return Buffer.from(JSON.stringify(request));
}

function skipBlanks(bytes: Buffer, index: number): number {
  while (bytes[index] === SPACE || bytes[index] === TAB) index++;
  return index;
}

/**
 * The byte range of a `"usage":null` member whose key starts at `at`, with the comma that separates
 * it from its neighbour, or undefined when no `null` follows the key. Whether it really was a
 * top-level member is for the caller to check.
 */
function nullMemberRange(bytes: Buffer, at: number): [number, number] | undefined {
  let end = skipBlanks(bytes, at + USAGE_KEY.length);
  if (bytes[end] !== COLON) return undefined;
  end = skipBlanks(bytes, end + 1);
  if (!NULL.equals(bytes.subarray(end, end + NULL.length))) return undefined;
  end += NULL.length;
  let before = at - 1;
  while (bytes[before] === SPACE || bytes[before] === TAB) before--;
  if (bytes[before] === COMMA) return [before, end];
  const after = skipBlanks(bytes, end);
  return bytes[after] === COMMA ? [at, skipBlanks(bytes, after + 1)] : [at, end];
}

/** What becomes of one event: forwarded as it came, dropped, or forwarded as these bytes. */
type Verdict = 'pass' | 'drop' | Buffer;

/**
 * Forwards an SSE response from an upstream asked for usage as if it had not been asked: usage
 * chunks are dropped and `"usage":null` members cut out of the text, everything else byte for byte.
 * `observe` sees the upstream bytes as they came, usage included. Events are cut at blank lines
 * (any of the SSE line breaks); a complete event leaves with the chunk that completed it, only an
 * unfinished one waits, and anything this is not sure about goes through untouched.
 */
export class UsageChunkStripper extends Transform {
  private readonly observe: (chunk: Buffer) => void;
  private readonly parser = createParser({
    onEvent: (event) => {
      this.data = event.data;
    },
  });
  private data: string | undefined;
  /** The start of an event not yet complete, from earlier chunks. */
  private held: Buffer[] = [];
  /** The bytes so far end with a line break, so the next byte starts a line. */
  private atLineStart = true;
  /**
   * The last chunk ended with a CR: an LF opening the next one is the rest of that line break and
   * belongs to the held event's line, or to the event it completed, kept or dropped.
   */
  private afterCr: 'line' | 'kept' | 'dropped' | undefined;

  constructor(observe: (chunk: Buffer) => void) {
    super();
    this.observe = observe;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const out = chunk.length > 0 ? this.strip(chunk) : undefined;
    if (out !== undefined) this.push(out);
    this.observe(chunk);
    callback();
  }

  /** An event cut off by the end of the stream goes out as it came. */
  override _flush(callback: TransformCallback): void {
    if (this.held.length > 0) this.push(Buffer.concat(this.held));
    this.held = [];
    callback();
  }

  /** What of `chunk` (and of the held bytes) can go to the client now. */
  private strip(chunk: Buffer): Buffer | undefined {
    const pieces: Buffer[] = [];
    // Events in this chunk start at segmentStart; bytes from runStart to it are forwarded as they are.
    let position = 0;
    let segmentStart = 0;
    let runStart = 0;
    let lineStart = this.atLineStart ? 0 : -1;
    if (this.afterCr !== undefined && chunk[0] === LF) {
      position = lineStart = 1;
      if (this.afterCr !== 'line') segmentStart = 1;
      if (this.afterCr === 'dropped') runStart = 1;
    }
    this.afterCr = undefined;
    let cr = chunk.indexOf(CR, position);
    let lf = chunk.indexOf(LF, position);
    for (;;) {
      if (cr !== -1 && cr < position) cr = chunk.indexOf(CR, position);
      if (lf !== -1 && lf < position) lf = chunk.indexOf(LF, position);
      const end = cr === -1 ? lf : lf === -1 || cr < lf ? cr : lf;
      if (end === -1) break;
      let next = end + 1;
      if (chunk[end] === CR && chunk[next] === LF) next++;
      const crLast = next === chunk.length && chunk[end] === CR;
      const blank = end === lineStart;
      position = lineStart = next;
      if (!blank) {
        if (crLast) this.afterCr = 'line';
        continue;
      }
      const bytes = chunk.subarray(segmentStart, next);
      const verdict = this.judge(this.held.length === 0 ? bytes : Buffer.concat([...this.held, bytes]));
      if (verdict === 'pass') {
        pieces.push(...this.held);
      } else {
        if (runStart < segmentStart) pieces.push(chunk.subarray(runStart, segmentStart));
        if (verdict !== 'drop') pieces.push(verdict);
        runStart = next;
      }
      this.held = [];
      segmentStart = next;
      if (crLast) this.afterCr = verdict === 'drop' ? 'dropped' : 'kept';
    }
    if (runStart < segmentStart) pieces.push(chunk.subarray(runStart, segmentStart));
    if (segmentStart < chunk.length) this.held.push(chunk.subarray(segmentStart));
    this.atLineStart = lineStart === chunk.length;
    return pieces.length < 2 ? pieces[0] : Buffer.concat(pieces);
  }

  /** `event` is one whole event, up to and including the blank line that ends it. */
  private judge(event: Buffer): Verdict {
    if (event.indexOf(USAGE_KEY) === -1) return 'pass';
    const chunk = this.json(event);
    if (chunk === undefined || !Object.hasOwn(chunk, 'usage')) return 'pass';
    const usage = chunk['usage'];
    if (usage === null) return this.withoutNullUsage(event, chunk) ?? 'pass';
    const choices = chunk['choices'];
    return jsonObject(usage) && Array.isArray(choices) && choices.length === 0 ? 'drop' : 'pass';
  }

  /** The data of a whole event as a JSON object, if it is one. */
  private json(event: Buffer): JsonObject | undefined {
    this.data = undefined;
    this.parser.feed(event.toString('utf8'));
    this.parser.reset();
    if (this.data === undefined) return undefined;
    try {
      return jsonObject(JSON.parse(this.data));
    } catch {
      return undefined;
    }
  }

  /**
   * The event with its top-level `"usage":null` member cut out of the text. Each candidate cut is
   * parsed again and kept only if the result is exactly the chunk without `usage`, which rules out
   * nested members, keys written twice and text in other fields.
   */
  private withoutNullUsage(event: Buffer, chunk: JsonObject): Buffer | undefined {
    const expected = { ...chunk };
    delete expected['usage'];
    let at = event.lastIndexOf(USAGE_KEY);
    for (; at !== -1; at = at === 0 ? -1 : event.lastIndexOf(USAGE_KEY, at - 1)) {
      const range = nullMemberRange(event, at);
      if (range === undefined) continue;
      const cut = Buffer.concat([event.subarray(0, range[0]), event.subarray(range[1])]);
      if (isDeepStrictEqual(this.json(cut), expected)) return cut;
    }
    return undefined;
  }
}
