/** One LLM request's state between the LLM stage, which reads it, and accounting, which reports it. */
import type { LlmRequest } from './request.ts';
import type { ResponseObserver } from './response-observer.ts';

export interface LlmExchange {
  readonly request: LlmRequest;
  /** Reads a successful JSON or SSE response; undefined for errors and bodies of other types. */
  observer: ResponseObserver | undefined;
  /** A successful response Sluice could not read at all (an SSE stream compressed by the upstream). */
  unreadable: 'encoded' | undefined;
}
