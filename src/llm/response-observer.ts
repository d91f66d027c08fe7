/**
 * Reads an LLM response beside the byte stream: it is handed each chunk after (never instead of)
 * the chunk's way to the client, and reports the response model, finish reasons, usage and the
 * times of the first and last output token. SSE goes through eventsource-parser, in batches of
 * chunks (see MAX_PENDING_CHUNKS); a JSON body is kept up to a cap and parsed at the end.
 */
import { createParser, type EventSourceMessage, type EventSourceParser } from 'eventsource-parser';
import { decodeBody, utf8FromLatin1 } from './body-decoding.ts';
import { classifyDelta } from './delta-events.ts';
import { type JsonObject, jsonObject } from './json.ts';
import type { LlmOperation, LlmProtocol } from './request.ts';
import { anthropicUsage, mergeUsage, openaiUsage, type TokenUsage, withCacheInInput } from './usage.ts';

/** JSON answers larger than this are forwarded but not parsed (embeddings of long inputs can be big). */
export const MAX_OBSERVED_JSON_BYTES = 8 * 1024 * 1024;

/**
 * SSE chunks are kept (references, with their arrival times) and read in batches of this many, or
 * at the end: read one by one as they passed, between all the other work of the proxy, each chunk
 * cost more. In an A/B of 5,000 streamed requests (docs/benchmarks.md) accounting went from 11–20 %
 * to 5–8 % more CPU than without it; the bench's paired ratio moved less. A token's time is still
 * its chunk's arrival time.
 */
const MAX_PENDING_CHUNKS = 64;
/** ...or sooner when they hold this many bytes, so a stream of large chunks holds no more than this. */
const MAX_PENDING_BYTES = 256 * 1024;

export interface LlmOutcome {
  readonly responseModel: string | undefined;
  readonly finishReasons: readonly string[];
  readonly usage: TokenUsage | undefined;
  /** performance.now() when the first output token arrived (streams only). */
  readonly firstTokenAt: number | undefined;
  readonly lastTokenAt: number | undefined;
  /** A JSON body parsed, or a stream reached its protocol's terminal event. */
  readonly complete: boolean;
  /** Events or bodies that were not the JSON the protocol promises. */
  readonly malformed: number;
  /** A JSON body over MAX_OBSERVED_JSON_BYTES, forwarded but not read. */
  readonly tooLarge: boolean;
}

export interface ObserverOptions {
  /** A compressed JSON body is decompressed at its end (see canDecodeJson). */
  readonly contentEncoding?: string | undefined;
  /** The request asked for one choice: a stream's chunks can be read more cheaply (see delta-events.ts). */
  readonly singleChoice?: boolean | undefined;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export class ResponseObserver {
  private readonly protocol: LlmProtocol;
  private readonly operation: LlmOperation;
  private readonly parser: EventSourceParser | undefined;
  private jsonChunks: Buffer[] | undefined = [];
  private jsonBytes = 0;
  private responseModel: string | undefined;
  private readonly finishReasons: string[] = [];
  private usage: TokenUsage | undefined;
  private firstTokenAt: number | undefined;
  private lastTokenAt: number | undefined;
  private complete = false;
  private malformed = 0;
  private tooLarge = false;
  /** SSE chunks not read yet, and when each arrived (performance.now()). */
  private pending: Buffer[] = [];
  private pendingAt: number[] = [];
  private pendingBytes = 0;
  /** The arrival time of the chunk being read: a token's time is its chunk's. */
  private chunkAt = 0;
  /** The parser threw (a bug, not bad input): observation stops, the stream goes on. */
  private failed = false;
  private readonly contentEncoding: string | undefined;
  private readonly shape: { modelKnown: boolean; singleChoice: boolean };

  constructor(
    protocol: LlmProtocol,
    operation: LlmOperation,
    eventStream: boolean,
    options: ObserverOptions = {},
  ) {
    this.protocol = protocol;
    this.operation = operation;
    this.contentEncoding = options.contentEncoding;
    this.shape = { modelKnown: false, singleChoice: options.singleChoice ?? false };
    if (eventStream) {
      this.jsonChunks = undefined;
      this.parser = createParser({ onEvent: (event) => this.onEvent(event) });
    }
  }

  /** Never throws: it runs inside the response's data handler, where a throw would take the process down. */
  observe(chunk: Buffer): void {
    if (this.parser) {
      if (this.failed) return;
      this.pending.push(chunk);
      this.pendingAt.push(performance.now());
      this.pendingBytes += chunk.length;
      if (this.pending.length >= MAX_PENDING_CHUNKS || this.pendingBytes >= MAX_PENDING_BYTES)
        this.readPending();
      return;
    }
    if (!this.jsonChunks) return;
    this.jsonBytes += chunk.length;
    if (this.jsonBytes > MAX_OBSERVED_JSON_BYTES) {
      this.jsonChunks = undefined;
      this.tooLarge = true;
    } else this.jsonChunks.push(chunk);
  }

  /** Feeds the chunks held so far to the parser, each with the time it arrived. */
  private readPending(): void {
    const chunks = this.pending;
    const times = this.pendingAt;
    this.pending = [];
    this.pendingAt = [];
    this.pendingBytes = 0;
    try {
      for (let i = 0; i < chunks.length; i++) {
        this.chunkAt = times[i]!;
        this.parser!.feed(chunks[i]!.toString('latin1'));
      }
    } catch {
      this.failed = true;
      this.malformed++;
    }
  }

  /** Call once the body ended (or broke off); what the stream said until then. */
  finish(): LlmOutcome {
    if (this.parser) {
      if (!this.failed) this.readPending();
      if (this.responseModel !== undefined) this.responseModel = utf8FromLatin1(this.responseModel);
      for (let i = 0; i < this.finishReasons.length; i++)
        this.finishReasons[i] = utf8FromLatin1(this.finishReasons[i]!);
    } else this.parseJson();
    return {
      responseModel: this.responseModel,
      finishReasons: this.finishReasons,
      usage: this.protocol === 'anthropic' ? withCacheInInput(this.usage) : this.usage,
      firstTokenAt: this.firstTokenAt,
      lastTokenAt: this.lastTokenAt,
      complete: this.complete,
      malformed: this.malformed,
      tooLarge: this.tooLarge,
    };
  }

  private parseJson(): void {
    const chunks = this.jsonChunks;
    this.jsonChunks = undefined;
    if (!chunks) return;
    let body: JsonObject | undefined;
    try {
      // Most answers arrive in one chunk: no copy then.
      let raw: Buffer = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.jsonBytes);
      raw = decodeBody(raw, this.contentEncoding, MAX_OBSERVED_JSON_BYTES);
      body = jsonObject(JSON.parse(raw.toString('utf8')));
    } catch (error) {
      if ((error as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') {
        this.tooLarge = true;
        return;
      }
      body = undefined;
    }
    if (!body) {
      this.malformed++;
      return;
    }
    this.complete = true;
    this.responseModel = text(body['model']);
    if (this.protocol === 'anthropic') {
      this.usage = anthropicUsage(body['usage']) ?? this.inputTokensOnly(body);
      const stop = text(body['stop_reason']);
      if (stop) this.finishReasons.push(stop);
      return;
    }
    this.usage = openaiUsage(body['usage']);
    if (this.operation === 'responses') {
      const reason = this.responsesFinishReason(body);
      if (reason) this.finishReasons.push(reason);
      return;
    }
    for (const choice of Array.isArray(body['choices']) ? body['choices'] : []) {
      const reason = text(jsonObject(choice)?.['finish_reason']);
      if (reason) this.finishReasons.push(reason);
    }
  }

  /** Anthropic count_tokens answers `{"input_tokens": N}` without a usage object. */
  private inputTokensOnly(body: JsonObject): TokenUsage | undefined {
    const input = body['input_tokens'];
    return typeof input === 'number' ? { input } : undefined;
  }

  private responsesFinishReason(response: JsonObject): string | undefined {
    const status = text(response['status']);
    const incomplete = text(jsonObject(response['incomplete_details'])?.['reason']);
    return incomplete ?? status;
  }

  private onEvent(event: EventSourceMessage): void {
    if (event.data === '[DONE]') {
      this.complete = true;
      return;
    }
    this.shape.modelKnown = this.responseModel !== undefined;
    const verdict = classifyDelta(this.protocol, this.operation, event.data, this.shape);
    if (verdict === 'token') this.token();
    else if (typeof verdict === 'object') {
      if (verdict.token) this.token();
      this.finishReasons.push(verdict.finishReason);
    }
    if (verdict !== 'parse') return;
    let data: JsonObject | undefined;
    try {
      data = jsonObject(JSON.parse(event.data));
    } catch {
      data = undefined;
    }
    if (!data) {
      this.malformed++;
      return;
    }
    if (this.protocol === 'anthropic') this.onAnthropicEvent(data);
    else if (this.operation === 'responses') this.onResponsesEvent(data);
    else this.onOpenaiChunk(data);
  }

  private token(): void {
    this.firstTokenAt ??= this.chunkAt;
    this.lastTokenAt = this.chunkAt;
  }

  private onOpenaiChunk(chunk: JsonObject): void {
    this.responseModel ??= text(chunk['model']);
    for (const choice of Array.isArray(chunk['choices']) ? chunk['choices'] : []) {
      const c = jsonObject(choice);
      const delta = jsonObject(c?.['delta']);
      if (text(delta?.['content']) || text(c?.['text']) || Array.isArray(delta?.['tool_calls'])) this.token();
      const reason = text(c?.['finish_reason']);
      if (reason) this.finishReasons.push(reason);
    }
    this.usage = mergeUsage(this.usage, openaiUsage(chunk['usage']));
  }

  private onResponsesEvent(event: JsonObject): void {
    const type = text(event['type']);
    if (type === 'response.output_text.delta' || type === 'response.function_call_arguments.delta') {
      this.token();
      return;
    }
    const response = jsonObject(event['response']);
    if (!response) return;
    this.responseModel = text(response['model']) ?? this.responseModel;
    if (type === 'response.completed' || type === 'response.incomplete' || type === 'response.failed') {
      this.complete = true;
      this.usage = openaiUsage(response['usage']);
      const reason = this.responsesFinishReason(response);
      if (reason) this.finishReasons.push(reason);
    }
  }

  private onAnthropicEvent(event: JsonObject): void {
    switch (text(event['type'])) {
      case 'message_start': {
        const message = jsonObject(event['message']);
        this.responseModel = text(message?.['model']);
        this.usage = mergeUsage(this.usage, anthropicUsage(message?.['usage']));
        return;
      }
      case 'content_block_delta':
        this.token();
        return;
      case 'message_delta': {
        const reason = text(jsonObject(event['delta'])?.['stop_reason']);
        if (reason) this.finishReasons.push(reason);
        this.usage = mergeUsage(this.usage, anthropicUsage(event['usage']));
        return;
      }
      case 'message_stop':
        this.complete = true;
        return;
    }
  }
}
