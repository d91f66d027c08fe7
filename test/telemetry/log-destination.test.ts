import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { BatchedDestination } from '../../src/telemetry/log-destination.ts';

function fileDestination(t: Test, flushIntervalMs = 60_000) {
  const file = join(t.testdir({}), 'log');
  const fd = openSync(file, 'w');
  const dropped = { lines: 0 };
  const destination = new BatchedDestination({
    fd,
    flushIntervalMs,
    onDrop: (n) => {
      dropped.lines += n;
    },
  });
  t.teardown(() => {
    destination.close();
    closeSync(fd);
  });
  return { destination, read: () => readFileSync(file, 'utf8'), dropped };
}

t.test('lines wait for the batch and come out whole and in order on flush', async (t) => {
  const { destination, read } = fileDestination(t);
  for (let i = 0; i < 100; i++) destination.write(`{"n":${i}}\n`);
  t.equal(read(), '', 'nothing written before the batch is full or flushed');
  await new Promise<void>((resolve, reject) => destination.flush((e) => (e ? reject(e) : resolve())));
  const lines = read().trimEnd().split('\n');
  t.same(
    lines.map((l) => (JSON.parse(l) as { n: number }).n),
    Array.from({ length: 100 }, (_, i) => i),
  );
});

t.test('a full batch is written without waiting for the timer; lines written during it follow', async (t) => {
  const { destination, read } = fileDestination(t);
  const line = `${'x'.repeat(1023)}\n`;
  for (let i = 0; i < 200; i++) destination.write(line);
  await new Promise<void>((resolve) => destination.flush(() => resolve()));
  t.equal(read().length, 200 * 1024, 'every byte of every line');
});

t.test('the timer writes a quiet logger out', async (t) => {
  const { destination, read } = fileDestination(t, 30);
  destination.write('{"quiet":true}\n');
  const deadline = Date.now() + 5000;
  while (read() === '' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  t.equal(read(), '{"quiet":true}\n');
});

t.test('past the pending limit lines are dropped and counted, not buffered', async (t) => {
  const { destination, dropped } = fileDestination(t);
  const line = `${'y'.repeat(1024 * 1024 - 1)}\n`;
  // The first line starts a write; the rest pile up behind it (its callback cannot run in this loop).
  let accepted = 0;
  for (let i = 0; i < 40; i++) if (destination.write(line)) accepted++;
  t.ok(accepted >= 16 && accepted < 40, `accepted ${accepted} of 40 one-MiB lines`);
  t.ok(dropped.lines > 0, `dropped ${dropped.lines}`);
});

t.test('pending lines are written when the process exits', async (t) => {
  const dir = t.testdir({});
  const script = join(dir, 'exit.ts');
  const module = join(import.meta.dirname, '..', '..', 'src', 'telemetry', 'log-destination.ts');
  writeFileSync(
    script,
    `import { BatchedDestination } from ${JSON.stringify(module)};\n` +
      'const d = new BatchedDestination({ fd: 1, flushIntervalMs: 60000 });\n' +
      'd.write("first\\n"); d.write("second\\n");\n',
  );
  const run = spawnSync(process.execPath, [script], { encoding: 'utf8' });
  t.equal(run.status, 0, run.stderr);
  t.equal(run.stdout, 'first\nsecond\n');
});
