/**
 * A real Prometheus (Debian's `prometheus`) on a free loopback port, scraping given targets every
 * second and evaluating given rule files, for the end-to-end test of the generated rules and
 * dashboards. Stopped by PID when the test ends; its data lives in the test's folder.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { request } from 'undici';
import { stringify } from 'yaml';

const probe = spawnSync('prometheus', ['--version'], { encoding: 'utf8' });

/** A skip reason for tap, or false; under CI (CI=true) never a skip. */
export const prometheusMissing: string | false =
  probe.error && process.env['CI'] !== 'true'
    ? `prometheus is not installed (${probe.error.message}); .ci/run installs it`
    : false;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

export interface RunningPrometheus {
  readonly url: string;
  /** An instant query; the result vector (or matrix) as Prometheus returned it. */
  query(expr: string): Promise<PromResult[]>;
  /** The alerts Prometheus holds now (pending and firing). */
  alerts(): Promise<PromAlert[]>;
}

export interface PromResult {
  readonly metric: Record<string, string>;
  readonly value?: [number, string];
}

export interface PromAlert {
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
  readonly state: 'pending' | 'firing' | 'inactive';
  readonly value: string;
}

interface ApiAnswer<T> {
  readonly status: 'success' | 'error';
  readonly data: T;
  readonly error?: string;
}

async function api<T>(url: string): Promise<T> {
  const response = await request(url);
  const answer = (await response.body.json()) as ApiAnswer<T>;
  if (answer.status !== 'success') throw new Error(`${url}: ${answer.error ?? response.statusCode}`);
  return answer.data;
}

export async function startPrometheus(
  t: Test,
  options: {
    readonly job: string;
    readonly targets: readonly string[];
    readonly ruleFiles: readonly string[];
  },
): Promise<RunningPrometheus> {
  // Its own folder: t.testdir() would replace the test's folder, rule files and all.
  const dir = await mkdtemp(join(tmpdir(), 'sluice-prometheus-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const config = join(dir, 'prometheus.yml');
  await writeFile(
    config,
    stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: options.ruleFiles,
      scrape_configs: [{ job_name: options.job, static_configs: [{ targets: options.targets }] }],
    }),
  );
  const port = await freePort();
  const child: ChildProcess = spawn(
    'prometheus',
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  t.teardown(async () => {
    if (child.exitCode !== null || child.pid === undefined) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    process.kill(child.pid, 'SIGTERM');
    await exited;
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited (${child.exitCode}): ${stderr}`);
    const ready = await request(`${url}/-/ready`)
      .then(async (response) => {
        await response.body.dump();
        return response.statusCode === 200;
      })
      .catch(() => false);
    if (ready) break;
    if (Date.now() > deadline) throw new Error(`prometheus did not get ready: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    async query(expr) {
      const data = await api<{ result: PromResult[] }>(
        `${url}/api/v1/query?query=${encodeURIComponent(expr)}`,
      );
      return data.result;
    },
    async alerts() {
      return (await api<{ alerts: PromAlert[] }>(`${url}/api/v1/alerts`)).alerts;
    },
  };
}
