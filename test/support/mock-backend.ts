/** The mock LLM backend for a test, stopped at teardown, and helpers to compare answers across runs. */
import type { Test } from 'tap';
import { type MockLlm, type MockLlmOptions, startMockLlm } from '../../src/mock-llm/server.ts';

export async function startMockBackend(t: Test, options: Partial<MockLlmOptions> = {}): Promise<MockLlm> {
  const mock = await startMockLlm(options);
  t.teardown(() => mock.close());
  return mock;
}

/**
 * The mock numbers every response (`chatcmpl-mock-7`, `msg_mock_7`) and stamps `created`; everything
 * else is a function of the request. Blanking those lets a response through Sluice be compared
 * byte for byte with the same request sent straight to the mock.
 */
export function withoutPerRequestFields(text: string): string {
  return text
    .replace(/(mock[-_])\d+/g, '$1N')
    .replace(/"created":\d+/g, '"created":0')
    .replace(/"created_at":\d+/g, '"created_at":0');
}
