/** Shared fixtures for the config tests. */
import { ConfigError, type ConfigIssue } from '../../src/config/errors.ts';
import { parseConfig } from '../../src/config/load.ts';

/** The smallest valid config; tests append to it or replace parts. */
export const minimal = [
  'upstreams:',
  '  main:',
  '    url: http://127.0.0.1:9000',
  'routes:',
  '  - name: all',
  '    upstream: main',
  '',
].join('\n');

/** Parses `text` expecting failure; returns the issues (fails loudly if it parsed). */
export function issuesOf(text: string, env: NodeJS.ProcessEnv = {}): readonly ConfigIssue[] {
  try {
    parseConfig(text, 'test.yaml', env);
  } catch (error) {
    if (error instanceof ConfigError) return error.issues;
    throw error;
  }
  throw new Error(`expected the config to be rejected:\n${text}`);
}

/** `line:col keyPath: message`, compact enough to compare with t.same. */
export function brief(issue: ConfigIssue): string {
  return `${issue.line}:${issue.col} ${issue.keyPath}: ${issue.message}`;
}
