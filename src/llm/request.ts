/**
 * What an LLM request asks for, read from its path and JSON body without changing either. A body
 * that is not a JSON object is described as `parsed: false` and forwarded untouched; this layer
 * never rejects a request.
 */
import { type JsonObject, jsonObject } from './json.ts';

export type LlmProtocol = 'openai' | 'anthropic';

/** `gen_ai.operation.name` where the OpenTelemetry GenAI conventions have one; Sluice's own name otherwise. */
export type LlmOperation =
  | 'chat'
  | 'text_completion'
  | 'embeddings'
  | 'responses'
  | 'models'
  | 'count_tokens'
  | 'other';

export interface LlmRequest {
  readonly protocol: LlmProtocol;
  readonly operation: LlmOperation;
  /** The body was a JSON object (false for invalid JSON, other JSON values, and no body). */
  readonly parsed: boolean;
  readonly model: string | undefined;
  readonly stream: boolean;
  readonly maxTokens: number | undefined;
  /** `n`: how many choices were asked for (Chat Completions, Completions). */
  readonly choices: number | undefined;
  /** OpenAI streams: `stream_options.include_usage` was true. */
  readonly includeUsage: boolean;
}

const openaiOperations: readonly (readonly [string, LlmOperation])[] = [
  ['/chat/completions', 'chat'],
  ['/completions', 'text_completion'],
  ['/embeddings', 'embeddings'],
  ['/responses', 'responses'],
  ['/models', 'models'],
];

const anthropicOperations: readonly (readonly [string, LlmOperation])[] = [
  ['/messages/count_tokens', 'count_tokens'],
  ['/messages', 'chat'],
  ['/models', 'models'],
];

/** Matches on the path's end, so base paths (`/v1`, `/openai/deployments/x`) do not matter. */
export function operationFor(protocol: LlmProtocol, path: string): LlmOperation {
  const table = protocol === 'openai' ? openaiOperations : anthropicOperations;
  const trimmed = path.endsWith('/') ? path.slice(0, -1) : path;
  for (const [suffix, operation] of table) {
    if (trimmed.endsWith(suffix)) return operation;
    // `/v1/models/{id}` and `/v1/responses/{id}` are reads of one item of the same kind.
    if (operation === 'models' && trimmed.includes(`${suffix}/`)) return operation;
  }
  return 'other';
}

function maxTokensOf(body: JsonObject): number | undefined {
  for (const field of ['max_completion_tokens', 'max_output_tokens', 'max_tokens']) {
    const value = body[field];
    if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
  }
  return undefined;
}

export function describeLlmRequest(
  protocol: LlmProtocol,
  path: string,
  json: JsonObject | undefined,
): LlmRequest {
  const operation = operationFor(protocol, path);
  if (!json) {
    return {
      protocol,
      operation,
      parsed: false,
      model: undefined,
      stream: false,
      maxTokens: undefined,
      choices: undefined,
      includeUsage: false,
    };
  }
  const options = json['stream_options'];
  return {
    protocol,
    operation,
    parsed: true,
    model: typeof json['model'] === 'string' ? json['model'] : undefined,
    stream: json['stream'] === true,
    maxTokens: maxTokensOf(json),
    choices: Number.isInteger(json['n']) ? (json['n'] as number) : undefined,
    includeUsage: jsonObject(options)?.['include_usage'] === true,
  };
}
