/** The `sluice` CLI as a user runs it: help, version, exit codes, and the quickstart on the example config. */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import t, { type Test } from 'tap';
import { request } from 'undici';
import { startEchoUpstream } from '../support/echo-upstream.ts';

const root = join(import.meta.dirname, '..', '..');
const cli = join(root, 'cmd', 'sluice.ts');
const exampleConfig = join(root, 'config', 'sluice.example.yaml');

const run = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8' });

t.test('help for the CLI and for every command', async (t) => {
  const overview = run(['--help']);
  t.equal(overview.status, 0);
  for (const command of ['serve', 'validate', 'mock-llm', 'version']) {
    t.match(overview.stdout, new RegExp(`^  ${command} +\\S`, 'm'), `overview lists ${command}`);
    const help = run([command, '--help']);
    t.equal(help.status, 0, `${command} --help exits 0`);
    t.match(help.stdout, new RegExp(`^Usage: sluice ${command}`), `${command} --help shows its usage`);
  }
  const bare = run([]);
  t.equal(bare.status, 2, 'no command is a usage error');
  t.match(bare.stdout, /Usage: sluice <command>/);
});

t.test('version prints the package version', async (t) => {
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  const result = run(['version']);
  t.equal(result.status, 0);
  t.equal(result.stdout, `sluice ${version} (node ${process.versions.node})\n`);
});

t.test('errors exit non-zero with a message that says what to do', async (t) => {
  const unknown = run(['serv']);
  t.equal(unknown.status, 2);
  t.match(unknown.stderr, /unknown command "serv"/);
  const badFlag = run(['serve', '--bogus']);
  t.equal(badFlag.status, 2);
  t.match(badFlag.stderr, /--bogus/);
  t.match(badFlag.stderr, /Usage: sluice serve/);
  const missing = run(['serve', '--config', '/nonexistent/sluice.yaml']);
  t.equal(missing.status, 1);
  t.match(missing.stderr, /cannot read config file \/nonexistent\/sluice\.yaml/);
  const dir = t.testdir({
    'bad.yaml': 'upstreams:\n  a:\n    url: http://127.0.0.1:1\nroutes:\n  - name: r\n    upstreem: a\n',
  });
  const invalid = run(['serve', '--config', join(dir, 'bad.yaml')]);
  t.equal(invalid.status, 1);
  t.match(invalid.stderr, /bad\.yaml:6:5: routes\[0\]\.upstreem: unknown key .*did you mean "upstream"/);
});

interface Serving {
  child: ChildProcess;
  proxyPort: number;
  adminUrl: string;
}

/** `sluice serve` on the example config with the environment variables operators use. */
async function serveExample(t: Test, env: Record<string, string>): Promise<Serving> {
  const child = spawn(process.execPath, [cli, 'serve', '--config', exampleConfig], {
    cwd: root,
    env: { ...process.env, SLUICE_PORT: '0', SLUICE_ADMIN_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  for await (const line of createInterface({ input: child.stdout! })) {
    const entry = JSON.parse(line) as { msg: string; proxy?: string; admin?: string };
    if (entry.msg === 'sluice listening') {
      return { child, proxyPort: Number(entry.proxy?.split(':').at(-1)), adminUrl: entry.admin ?? '' };
    }
  }
  throw new Error(`sluice serve exited (${child.exitCode}) before listening`);
}

async function stop(t: Test, child: ChildProcess): Promise<void> {
  child.kill('SIGTERM');
  const [code] = await once(child, 'exit');
  t.equal(code, 0, 'SIGTERM: exit 0');
}

t.test('quickstart: the example config with no backend serves the built-in mock', async (t) => {
  const { child, proxyPort, adminUrl } = await serveExample(t, { SLUICE_UPSTREAM_URL: '' });
  const chat = await request(`http://127.0.0.1:${proxyPort}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello' }] }),
  });
  t.equal(chat.statusCode, 200);
  t.match(await chat.body.json(), { object: 'chat.completion', model: 'gpt-4o-mini' });
  const messages = await request(`http://127.0.0.1:${proxyPort}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({
      model: 'claude-3-5-haiku-latest',
      max_tokens: 8,
      messages: [{ role: 'user', content: 'hi' }],
    }),
  });
  t.equal(messages.statusCode, 200);
  t.match(await messages.body.json(), { type: 'message' });
  const metrics = await request(`${adminUrl}/metrics`);
  t.match(
    await metrics.body.text(),
    /sluice_http_requests_total\{route="openai",upstream="openai",method="POST",code="200"\} 1/,
  );
  await stop(t, child);
});

t.test('SLUICE_UPSTREAM_URL and SLUICE_UPSTREAM_API_KEY point the example at a real backend', async (t) => {
  const upstream = await startEchoUpstream(t);
  const { child, proxyPort } = await serveExample(t, {
    SLUICE_UPSTREAM_URL: upstream.url,
    SLUICE_UPSTREAM_API_KEY: 'sk-from-env',
  });
  const res = await request(`http://127.0.0.1:${proxyPort}/v1/models`, {
    headers: { authorization: 'Bearer client-key' },
  });
  t.equal(res.statusCode, 200);
  const echoed = (await res.body.json()) as { url: string; headers: Record<string, string> };
  t.equal(echoed.url, '/v1/models');
  t.equal(
    echoed.headers['authorization'],
    'Bearer sk-from-env',
    'the configured key replaces the client key',
  );
  await stop(t, child);
});
