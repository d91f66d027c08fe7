import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import t from 'tap';
import { UsageError } from '../../src/cli/command.ts';
import { mockLlmCommand, mockLlmOptionsFromArgs } from '../../src/cli/mock-llm.ts';

t.test('flags map onto options', async (t) => {
  t.match(
    mockLlmOptionsFromArgs([
      '--port=0',
      '--models=12',
      '--latency-ms=5',
      '--gap-ms=2',
      '--tokens=40',
      '--error-rate=0.1',
      '--error-status=502, 529',
      '--reset-rate=0.05',
      '--slow-headers-ms=7',
      '--seed=9',
    ]),
    {
      port: 0,
      models: 12,
      latencyMs: 5,
      gapMs: 2,
      tokens: 40,
      errorRate: 0.1,
      errorStatuses: [502, 529],
      resetRate: 0.05,
      slowHeadersMs: 7,
      seed: 9,
    },
  );
  t.equal(mockLlmOptionsFromArgs([]).seed, undefined);
});

t.test('bad flags are usage errors', async (t) => {
  await t.rejects(mockLlmCommand.run(['--error-rate', '1.5']), UsageError);
  await t.rejects(mockLlmCommand.run(['--tokens', 'many']), UsageError);
  await t.rejects(mockLlmCommand.run(['--error-status', '200']), UsageError);
  await t.rejects(mockLlmCommand.run(['--port', '99999']), UsageError);
  await t.rejects(mockLlmCommand.run(['--frobnicate']), UsageError);
});

t.test('--help text documents every flag', async (t) => {
  const flags = ['host', 'port', 'models', 'latency-ms', 'gap-ms', 'tokens', 'error-rate', 'error-status'];
  for (const flag of [...flags, 'reset-rate', 'slow-headers-ms', 'seed'])
    t.match(mockLlmCommand.usage, `--${flag} `);
});

t.test('runs until SIGTERM: prints the listening line, serves, exits 0', async (t) => {
  const script =
    "import { mockLlmCommand } from './src/cli/mock-llm.ts'; process.exitCode = await mockLlmCommand.run(process.argv.slice(1));";
  const child = spawn(
    process.execPath,
    ['--input-type=module', '-e', script, '--', '--port', '0', '--tokens', '3'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  t.teardown(() => child.kill('SIGKILL'));
  const lines = createInterface({ input: child.stdout });
  const [line] = (await once(lines, 'line')) as [string];
  const ready = JSON.parse(line) as { msg: string; url: string };
  t.equal(ready.msg, 'mock-llm listening');
  t.match(ready.url, /^http:\/\/127\.0\.0\.1:\d+$/);

  const response = await fetch(`${ready.url}/v1/chat/completions`, {
    method: 'POST',
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
  });
  const completion = (await response.json()) as { usage: { completion_tokens: number } };
  t.equal(completion.usage.completion_tokens, 3, '--tokens applies');

  child.kill('SIGTERM');
  const [code] = await once(child, 'exit');
  t.equal(code, 0);
});
