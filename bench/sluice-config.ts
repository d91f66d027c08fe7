/**
 * The config Sluice runs with in the benchmark: the example config unchanged (telemetry, pools,
 * timeouts, routes) except loopback listeners on free ports and every upstream pointed at the mock.
 */
import { writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { parseDocument, stringify } from 'yaml';
import { Sluice } from '../src/server/sluice.ts';

export const exampleConfig = 'config/sluice.example.yaml';

/** Ports that were free a moment ago, all different: the bench knows the admin port, so it can probe /readyz. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer());
  const ports = await Promise.all(
    servers.map(
      (server) =>
        new Promise<number>((resolve, reject) => {
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => {
            const address = server.address();
            resolve(typeof address === 'object' && address ? address.port : 0);
          });
        }),
    ),
  );
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

export interface BenchPorts {
  readonly proxy: number;
  readonly admin: number;
}

export async function writeBenchConfig(
  source: string,
  mockUrl: string,
  ports: BenchPorts,
  target: string,
  llmAccounting = true,
) {
  const doc = parseDocument(await readFile(source, 'utf8'));
  if (!llmAccounting) doc.setIn(['llm', 'accounting'], false);
  doc.setIn(['listener', 'host'], '127.0.0.1');
  doc.setIn(['listener', 'port'], ports.proxy);
  doc.setIn(['admin', 'host'], '127.0.0.1');
  doc.setIn(['admin', 'port'], ports.admin);
  const { upstreams } = doc.toJS() as { upstreams?: Record<string, unknown> };
  for (const name of Object.keys(upstreams ?? {})) doc.setIn(['upstreams', name, 'url'], mockUrl);
  writeFileSync(target, doc.toString());
}

/** The child's environment without SLUICE_* variables, so the example's ${...} take their defaults. */
export function benchEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('SLUICE_')));
}

/**
 * Sluice in this process from `config`, on loopback ports picked by the OS, with quiet logs and no
 * access log; its config file goes in `dir`, which the caller removes.
 */
export function startInProcessSluice(dir: string, config: Record<string, unknown>): Promise<Sluice> {
  const file = join(dir, `sluice-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(
    file,
    stringify({
      ...config,
      listener: { host: '127.0.0.1', port: 0 },
      admin: { host: '127.0.0.1', port: 0 },
      telemetry: { log_level: 'warn', access_log: false },
    }),
  );
  return Sluice.start(file, { logDestination: { write: () => undefined } });
}
