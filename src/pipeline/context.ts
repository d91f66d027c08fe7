/** The state of one request on its way through Sluice: created by the listener, passed to every stage. */

import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Span } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { CompressionSettings } from '../compression/settings.ts';
import type { LlmExchange } from '../llm/exchange.ts';
import type { JsonObject } from '../llm/json.ts';
import type { LlmSummary } from '../llm/llm-accounting.ts';
import type { Protocol } from './errors.ts';

/** Sees each chunk of a streamed response right after it was written to the client. */
export interface ChunkObserver {
  observe(chunk: Buffer): void;
}

/** The response a stage has built; the listener writes it once the stages return. */
export interface ResponseDraft {
  status: number;
  headers: OutgoingHttpHeaders;
  /** A stream is piped to the client with backpressure; stages may wrap it on the way back. */
  body: Readable | Buffer | string | null;
  /**
   * Reads a streamed body beside its way to the client. Cheaper than wrapping the body in a
   * Transform, and it cannot delay a chunk: it is called after the chunk was handed to the socket.
   */
  observer?: ChunkObserver;
}

/**
 * performance.now() marks in milliseconds (doubles, so no allocation per mark); 0 until reached.
 * Waits on the client and upstream are excluded from Sluice's overhead.
 */
export interface Timings {
  readonly start: number;
  /** Time spent waiting for the client's request body when a stage read it whole. */
  clientBodyWaitMs: number;
  upstreamDispatch: number;
  upstreamConnected: number;
  upstreamHeaders: number;
  upstreamEnd: number;
  /** Time spent on upstream attempts that did not answer, and on backoff between them. */
  upstreamRetryWaitMs: number;
  responseStart: number;
  responseEnd: number;
}

/** What a route needs at request time, compiled from its config once per config generation. */
export interface RouteRuntime {
  readonly name: string;
  readonly protocol: Protocol;
  readonly upstreamName: string;
  readonly websocket: boolean;
  readonly stripPrefix: string | undefined;
  /** Response compression and compressed request bodies; undefined when the route has none. */
  readonly compression: CompressionSettings | undefined;
}

/** How an exchange ended: what stages that hold something until then (permits, reservations) need. */
export interface ExchangeEnd {
  /** The status the client got; 499 when it went away first. */
  readonly status: number;
  readonly clientAborted: boolean;
  /** An upstream answered (headers arrived); false for cache hits and Sluice's own answers. */
  readonly upstreamAnswered: boolean;
  /** Model, tokens and cost, on openai/anthropic routes with LLM accounting. */
  readonly llm: LlmSummary | undefined;
}

export interface ProxyContext {
  readonly requestId: string;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** The method as a bounded metric label. */
  readonly methodLabel: string;
  /** Path without the query string. */
  readonly path: string;
  /** The query string including its leading `?`, or ''. */
  readonly search: string;
  readonly clientIp: string;
  /** Aborted when the client goes away, or when Sluice gives up on the request. */
  readonly signal: AbortSignal;
  /**
   * What aborts the upstream call: `signal`, unless the call is shared by several clients
   * (single-flight), where it ends only when all of them have gone.
   */
  upstreamSignal: AbortSignal;
  readonly log: Logger;
  readonly span: Span;
  readonly timings: Timings;
  route: RouteRuntime;
  /** The request body, when a stage read it whole (LLM protocol routes); otherwise the request streams. */
  requestBody: Buffer | undefined;
  requestBodyBytes: number;
  /**
   * The request body as a JSON object (undefined when it is not one), parsed once however many
   * stages ask: the cache and LLM stages both read it, and a large prompt is the most expensive
   * thing either does. A stage that replaces `requestBody` gets a parse of the new one.
   */
  requestJson(): JsonObject | undefined;
  response: ResponseDraft | undefined;
  /** The upstream that answered; '' when none was called (the `upstream` metric label). */
  upstreamName: string;
  /** The target of that upstream that answered; '' when none was called. */
  upstreamTarget: string;
  /** What the LLM stage read from the request and is reading from the response (openai/anthropic routes). */
  llm: LlmExchange | undefined;
  /**
   * Runs `callback` once the exchange ended: after the last byte reached the client (streams too),
   * or when the client went away. Later than the stage's own return, which comes before the body.
   */
  onEnd(callback: (end: ExchangeEnd) => void): void;
}
