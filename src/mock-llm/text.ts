/**
 * The deterministic completion text and the token heuristic. One token is one word from a fixed list,
 * so token counts are exact and texts are cheap: no tokenizer, no string building beyond a join.
 */
import { hash32, seededRandom } from './random.ts';

/** Plain lowercase ASCII on purpose: the SSE builders splice tokens into JSON without escaping. */
const WORDS = (
  'the river flows through a quiet valley where light falls on stone and water each morning brings new ' +
  'sound to old trees that stand near open fields of grass under clear sky while small birds sing about ' +
  'wind rain summer roads lead far beyond hills into towns with bright windows people walk slowly ' +
  'talking in warm evening air until night sluice gate holds back'
).split(' ');

/** The same words with the separating space in front, so streaming deltas concatenate to the text. */
const SPACED_WORDS = WORDS.map((word) => ` ${word}`);

/**
 * `count` tokens drawn from a PRNG seeded with `seed`. Joining them gives the completion text; each
 * element is also one streaming delta. The first token has no leading space.
 */
export function completionTokens(seed: number, count: number): string[] {
  const random = seededRandom(seed);
  const tokens = new Array<string>(count);
  for (let i = 0; i < count; i++) {
    const index = Math.floor(random() * WORDS.length);
    tokens[i] = (i === 0 ? WORDS[index] : SPACED_WORDS[index]) as string;
  }
  return tokens;
}

export interface Completion {
  /** The generated tokens; `join('')` is the text. */
  readonly tokens: string[];
  /** True when `max_tokens` stopped the generation early (finish reason `length` / `max_tokens`). */
  readonly truncated: boolean;
}

const STREAM_OPTIONS_KEY = '"stream_options"';

/**
 * The text seed. A real model's answer does not depend on whether usage is reported (and Sluice may
 * add `stream_options` upstream), so that field is left out and the rest re-serialized compactly: the
 * same bytes an SDK sends without it, since SDKs write compact JSON. Bodies without the key, the common
 * case, are hashed as received with no second parse; one that has it only inside a string keeps its
 * raw hash too, after a parse.
 */
function textSeed(body: Buffer, json: unknown): number {
  if (!body.includes(STREAM_OPTIONS_KEY)) return hash32(body);
  let parsed = json;
  if (parsed === undefined) {
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      return hash32(body);
    }
  }
  if (!isRecord(parsed) || Array.isArray(parsed) || !Object.hasOwn(parsed, 'stream_options')) {
    return hash32(body);
  }
  const { stream_options: _streamOptions, ...rest } = parsed;
  return hash32(JSON.stringify(rest));
}

/**
 * The completion for a request: text seeded by the body bytes (less `stream_options`), so equal bodies
 * get equal text. `json` is the parsed body when the caller has it, sparing a second parse.
 */
export function generateCompletion(
  body: Buffer,
  plannedTokens: number,
  maxTokens: number | undefined,
  json?: unknown,
): Completion {
  const count = maxTokens === undefined ? plannedTokens : Math.min(plannedTokens, maxTokens);
  return { tokens: completionTokens(textSeed(body, json), count), truncated: count < plannedTokens };
}

/** The documented prompt-token heuristic: one token per 4 characters of prompt text, rounded up. */
export function estimateTokens(characters: number): number {
  return Math.ceil(characters / 4);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** Characters of text in a content value: a string, or an array of strings / parts with a `text` field. */
export function contentCharacters(content: unknown): number {
  if (typeof content === 'string') return content.length;
  if (!Array.isArray(content)) return 0;
  let characters = 0;
  for (const part of content) {
    if (typeof part === 'string') characters += part.length;
    else if (isRecord(part) && typeof part['text'] === 'string') characters += part['text'].length;
  }
  return characters;
}

/** Characters of text over all `messages[].content` (OpenAI chat and Anthropic messages alike). */
export function messagesCharacters(messages: readonly unknown[]): number {
  let characters = 0;
  for (const message of messages) {
    if (isRecord(message)) characters += contentCharacters(message['content']);
  }
  return characters;
}

/** The token budget the request allows, from the first of `fields` that holds a non-negative integer. */
export function requestedMaxTokens(
  body: Record<string, unknown>,
  fields: readonly string[],
): number | undefined {
  for (const field of fields) {
    const value = body[field];
    if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
  }
  return undefined;
}
