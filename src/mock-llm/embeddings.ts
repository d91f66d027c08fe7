/**
 * OpenAI-compatible `POST /v1/embeddings`: unit-length vectors seeded by each input, so the same text
 * always embeds to the same vector (whatever else is in the batch). `encoding_format: "base64"` - the
 * openai SDK's default on the wire - is little-endian float32, as the SDK decodes it.
 */
import { type JsonObject, requireBodyObject, requireModel } from './body-fields.ts';
import { rejectRequest } from './errors.ts';
import { hash32, seededRandom } from './random.ts';
import { sendJsonValue } from './respond.ts';
import { estimateTokens } from './text.ts';
import type { MockHandler } from './types.ts';

const MAX_DIMENSIONS = 65536;

type EmbeddingInput = string | readonly number[];

const isTokenIds = (value: unknown): value is number[] =>
  Array.isArray(value) && value.every((item) => typeof item === 'number');

/** The inputs of a request (a string, strings, token ids, or arrays of token ids); undefined if malformed. */
function embeddingInputs(input: unknown): EmbeddingInput[] | undefined {
  if (typeof input === 'string') return [input];
  if (!Array.isArray(input) || input.length === 0) return undefined;
  if (isTokenIds(input)) return [input];
  const inputs: EmbeddingInput[] = [];
  for (const item of input) {
    if (typeof item !== 'string' && !isTokenIds(item)) return undefined;
    inputs.push(item);
  }
  return inputs;
}

function inputTokens(input: EmbeddingInput): number {
  return typeof input === 'string' ? estimateTokens(input.length) : input.length;
}

function embed(input: EmbeddingInput, dimensions: number): Float32Array {
  const random = seededRandom(hash32(typeof input === 'string' ? input : JSON.stringify(input)));
  const vector = new Float32Array(dimensions);
  let squares = 0;
  for (let i = 0; i < dimensions; i++) {
    const value = random() * 2 - 1;
    vector[i] = value;
    squares += value * value;
  }
  const norm = Math.sqrt(squares) || 1;
  for (let i = 0; i < dimensions; i++) vector[i] = (vector[i] as number) / norm;
  return vector;
}

function requestedDimensions(body: JsonObject, fallback: number): number | undefined {
  const dimensions = body['dimensions'];
  if (dimensions === undefined) return fallback;
  return Number.isInteger(dimensions) &&
    (dimensions as number) >= 1 &&
    (dimensions as number) <= MAX_DIMENSIONS
    ? (dimensions as number)
    : undefined;
}

export const embeddings: MockHandler = (exchange) => {
  const body = requireBodyObject(exchange);
  if (!body) return;
  const model = requireModel(exchange, body);
  if (model === undefined) return;
  const inputs = embeddingInputs(body['input']);
  if (!inputs) {
    return rejectRequest(exchange, 400, "'input' must be a string, an array of strings, or token-id arrays.");
  }
  const dimensions = requestedDimensions(body, exchange.options.embeddingDimensions);
  if (dimensions === undefined) {
    return rejectRequest(exchange, 400, `'dimensions' must be an integer between 1 and ${MAX_DIMENSIONS}.`);
  }
  const format = body['encoding_format'] ?? 'float';
  if (format !== 'float' && format !== 'base64') {
    return rejectRequest(exchange, 400, "'encoding_format' must be 'float' or 'base64'.");
  }
  let promptTokens = 0;
  const data = inputs.map((input, index) => {
    promptTokens += inputTokens(input);
    const vector = embed(input, dimensions);
    const embedding =
      format === 'base64'
        ? Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64')
        : Array.from(vector);
    return { object: 'embedding', index, embedding };
  });
  sendJsonValue(exchange, {
    object: 'list',
    data,
    model,
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
  });
};
