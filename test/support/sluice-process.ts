/** Sluice as its own process (`sluice serve`), for tests where replicas must not share a process. */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Test } from 'tap';
import { stringify } from 'yaml';
import { withTestDefaults } from './sluice.ts';

const cli = join(import.meta.dirname, '..', '..', 'cmd', 'sluice.ts');
const STARTUP_TIMEOUT_MS = 20_000;

export interface SluiceProcess {
  readonly url: string;
  readonly adminUrl: string;
  readonly pid: number;
}

/** Starts `sluice serve` on `config` (ports 0), resolves once it logged `sluice listening`; killed by PID at teardown. */
export async function startSluiceProcess(t: Test, config: Record<string, unknown>): Promise<SluiceProcess> {
  // Not t.testdir: replicas of one test start together, and a second testdir call empties the first's.
  const dir = await mkdtemp(join(tmpdir(), 'sluice-process-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'sluice.yaml');
  await writeFile(file, stringify(withTestDefaults({ ...config, telemetry: { access_log: false } })));
  const child = spawn(process.execPath, [cli, 'serve', '--config', file], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const listening = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('sluice did not start in time')), STARTUP_TIMEOUT_MS);
    child.once('exit', (code) => reject(new Error(`sluice exited with ${code} before listening`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      if (parsed['msg'] !== 'sluice listening') return;
      clearTimeout(timer);
      resolve(parsed);
    });
  });
  return {
    url: `http://${String(listening['proxy'])}`,
    adminUrl: String(listening['admin']),
    pid: child.pid ?? 0,
  };
}
