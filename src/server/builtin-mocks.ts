/**
 * `mock://NAME` upstream URLs: Sluice starts the built-in mock LLM backend on a free loopback port
 * (one per NAME, kept across reloads) so the quickstart works with no backend and no keys.
 */
import { type MockLlm, startMockLlm } from '../mock-llm/server.ts';
import type { EffectiveConfig } from './generation.ts';

export class BuiltinMocks {
  private readonly running = new Map<string, MockLlm>();

  async ensure(config: EffectiveConfig): Promise<void> {
    const urls = Object.values(config.upstreams).flatMap((upstream) =>
      upstream === undefined ? [] : (upstream.targets?.map((target) => target.url) ?? [upstream.url ?? '']),
    );
    for (const url of urls) {
      if (url.startsWith('mock://') && !this.running.has(url)) this.running.set(url, await startMockLlm());
    }
  }

  resolve(url: string): string {
    if (!url.startsWith('mock://')) return url;
    const mock = this.running.get(url);
    if (!mock) throw new Error(`the built-in mock for ${url} is not running`);
    return mock.url;
  }

  async close(): Promise<void> {
    await Promise.all([...this.running.values()].map((mock) => mock.close()));
    this.running.clear();
  }
}
