/** Starts a real Sluice on free loopback ports from a config object, with its log lines captured. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Test } from 'tap';
import { stringify } from 'yaml';
import { Sluice } from '../../src/server/sluice.ts';

export interface RunningSluice {
  readonly sluice: Sluice;
  /** http://127.0.0.1:PORT of the proxy listener. */
  readonly url: string;
  readonly adminUrl: string;
  readonly file: string;
  /** Parsed JSON log lines, in order. */
  readonly logs: Record<string, unknown>[];
  /** Rewrites the config file (for reload tests). */
  rewrite(config: Record<string, unknown>): Promise<void>;
}

/** Listener/admin on port 0, quiet logs, unless `config` says otherwise. */
export function withTestDefaults(config: Record<string, unknown>): Record<string, unknown> {
  const listener = (config['listener'] as Record<string, unknown> | undefined) ?? {};
  const admin = (config['admin'] as Record<string, unknown> | undefined) ?? {};
  return {
    ...config,
    listener: { host: '127.0.0.1', ...listener, port: 0 },
    admin: { host: '127.0.0.1', ...admin, port: 0 },
  };
}

export async function startSluice(t: Test, config: Record<string, unknown>): Promise<RunningSluice> {
  const dir = t.testdir({});
  const file = join(dir, 'sluice.yaml');
  const write = (c: Record<string, unknown>) => writeFile(file, stringify(withTestDefaults(c)));
  await write(config);
  const logs: Record<string, unknown>[] = [];
  const sluice = await Sluice.start(file, {
    logDestination: {
      write(line: string) {
        for (const part of line.split('\n')) if (part) logs.push(JSON.parse(part) as Record<string, unknown>);
      },
    },
  });
  t.teardown(() => sluice.shutdown());
  return { sluice, url: sluice.proxyUrl, adminUrl: sluice.adminUrl ?? '', file, logs, rewrite: write };
}

/** One upstream and one catch-all route of `protocol` to it. */
export function singleRoute(
  upstreamUrl: string,
  protocol: 'openai' | 'anthropic' | 'passthrough' = 'passthrough',
  extra: {
    route?: Record<string, unknown>;
    upstream?: Record<string, unknown>;
    top?: Record<string, unknown>;
  } = {},
): Record<string, unknown> {
  return {
    upstreams: { backend: { url: upstreamUrl, ...extra.upstream } },
    routes: [{ name: 'main', upstream: 'backend', protocol, ...extra.route }],
    ...extra.top,
  };
}
