/** The built-in mock LLM backend: OpenAI- and Anthropic-compatible, deterministic, with fault injection. */
export { RESET_BEFORE_HEADERS } from './faults.ts';
export { mockModelIds, WELL_KNOWN_MODEL_IDS } from './models.ts';
export { defaultMockLlmOptions, type MockLlmOptions, resolveMockLlmOptions } from './options.ts';
export { startMockLlm } from './server.ts';
export { estimateTokens } from './text.ts';
export type {
  MockCounters,
  MockLlm,
  MockLlmEvents,
  MockOutcome,
  MockRequestInfo,
  MockStats,
} from './types.ts';
