/** The shapes shared by the mock LLM's server, handlers and callers (tests, benchmarks, the CLI). */
import type { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { FaultPlan } from './faults.ts';
import type { MockFaults, MockLlmOptions } from './options.ts';

/** Which wire protocol a path speaks: decides the error body shape. */
export type MockProtocol = 'openai' | 'anthropic';

/** How a response ended. `reset` is an injected fault; `aborted` means the client went away first. */
export type MockOutcome = 'completed' | 'aborted' | 'reset';

/** One request as the mock saw it. The same object is passed to every event of that request. */
export interface MockRequestInfo {
  /** 1, 2, 3… in arrival order; also sent back as the `x-mock-request-id` response header. */
  readonly id: number;
  readonly method: string;
  /** The path without the query string. */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** The request body as received (empty until the `request` event). */
  body: Buffer;
  /** Status code sent, once the head was written (undefined when the connection closed before). */
  status: number | undefined;
  /** Response body bytes handed to the socket (for SSE: all events written so far). */
  bytesSent: number;
  /** SSE events handed to the socket; 0 for JSON responses. */
  eventsSent: number;
  outcome: MockOutcome | undefined;
}

export interface MockLlmEvents {
  /** The request's body was read in full; the response has not started. */
  request: [MockRequestInfo];
  /** The response was written in full. */
  complete: [MockRequestInfo];
  /** The client closed the connection before the response was finished. */
  aborted: [MockRequestInfo];
  /** The mock closed the connection on purpose (`resetRate`, `x-mock-reset-after`). */
  reset: [MockRequestInfo];
}

export interface MockCounters {
  started: number;
  completed: number;
  aborted: number;
  reset: number;
}

/** Live counters; read them at any time. `byPath` keys are request paths without the query. */
export interface MockStats extends MockCounters {
  readonly byPath: Record<string, MockCounters>;
}

/** A running mock. It is an EventEmitter, so `events.once(mock, 'aborted')` works. */
export interface MockLlm extends EventEmitter<MockLlmEvents> {
  /** `http://HOST:PORT`, without a trailing slash or `/v1`. */
  readonly url: string;
  readonly port: number;
  readonly stats: MockStats;
  /** The options in force now: `setFaults` replaces this object, it never changes one handed out. */
  readonly options: Readonly<MockLlmOptions>;
  /**
   * Changes fault options for requests that arrive from now on (requests in progress keep theirs),
   * validated like at start: a bad value throws a RangeError and changes nothing. For chaos tests
   * that turn a healthy backend bad and back without restarting it (and losing its port).
   */
  setFaults(faults: MockFaults): void;
  /** Stops listening and closes every open connection, streams in progress included. */
  close(): Promise<void>;
}

/** Everything a route handler needs to answer one request. */
export interface MockExchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly info: MockRequestInfo;
  readonly plan: FaultPlan;
  readonly options: Readonly<MockLlmOptions>;
  /** The protocol of the matched route: the shape of any error this handler answers with. */
  readonly protocol: MockProtocol;
  /** The parsed JSON body for POST routes; undefined for GET routes. */
  readonly json: unknown;
  /** The path segment after the route's prefix (`/v1/models/{id}`), decoded; otherwise ''. */
  readonly pathParam: string;
}

export type MockHandler = (exchange: MockExchange) => void | Promise<void>;
