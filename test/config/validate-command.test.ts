import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { validateCommand } from '../../src/cli/validate.ts';

const root = new URL('../..', import.meta.url).pathname;
const example = join(root, 'config/sluice.example.yaml');
const broken = [
  'upstreams:',
  '  main: { url: http://x }',
  'routes:',
  '  - name: r',
  '    upstreem: main',
  '',
].join('\n');

function capture(t: Test) {
  const out = t.capture(console, 'log');
  const err = t.capture(console, 'error');
  return {
    stdout: () =>
      out()
        .map((c) => c.args.join(' '))
        .join('\n'),
    stderr: () =>
      err()
        .map((c) => c.args.join(' '))
        .join('\n'),
  };
}

t.test('a valid file: summary on stdout, exit 0', async (t) => {
  const io = capture(t);
  t.equal(await validateCommand.run([example]), 0);
  t.equal(io.stdout(), `${example}: OK (2 routes, 1 upstream)`);
  t.equal(io.stderr(), '');
});

t.test('--config works like the positional FILE', async (t) => {
  const io = capture(t);
  t.equal(await validateCommand.run(['--config', example]), 0);
  t.match(io.stdout(), /: OK \(2 routes, 1 upstream\)$/);
});

t.test('an invalid file: every issue on stderr, exit 1', async (t) => {
  const dir = t.testdir({ 'bad.yaml': broken });
  const file = join(dir, 'bad.yaml');
  const io = capture(t);
  t.equal(await validateCommand.run([file]), 1);
  t.equal(
    io.stderr(),
    [
      `${file}:4:5: routes[0]: missing required key "upstream"`,
      `${file}:5:5: routes[0].upstreem: unknown key "upstreem" (did you mean "upstream"?)`,
      `${file}: 2 problems`,
    ].join('\n'),
  );
  t.equal(io.stdout(), '');
});

t.test('a missing file: exit 1 with the reason', async (t) => {
  const io = capture(t);
  t.equal(await validateCommand.run(['/nonexistent/x.yaml']), 1);
  t.match(io.stderr(), /cannot read config file \/nonexistent\/x\.yaml/);
});

t.test('two different files is a usage error', async (t) => {
  await t.rejects(validateCommand.run(['a.yaml', '--config', 'b.yaml']), { name: 'UsageError' });
  await t.rejects(validateCommand.run(['a.yaml', 'b.yaml']), { name: 'UsageError' });
});

const run = (...args: string[]) =>
  spawnSync(process.execPath, [join(root, 'cmd/sluice.ts'), ...args], { cwd: root, encoding: 'utf8' });

t.test('through the CLI: exit codes 0 and 1', async (t) => {
  const dir = t.testdir({ 'bad.yaml': broken });
  const ok = run('validate');
  t.equal(ok.status, 0, ok.stderr);
  t.equal(ok.stdout, 'config/sluice.example.yaml: OK (2 routes, 1 upstream)\n', 'the example is the default');
  const bad = run('validate', join(dir, 'bad.yaml'));
  t.equal(bad.status, 1);
  t.match(bad.stderr, /bad\.yaml:5:5: routes\[0\]\.upstreem: unknown key/);
  const help = run('validate', '--help');
  t.equal(help.status, 0);
  t.equal(help.stdout, `${validateCommand.usage}\n`);
});
