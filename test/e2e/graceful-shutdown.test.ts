import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import t from 'tap';
import { request } from 'undici';
import { stringify } from 'yaml';
import { startMockLlm } from '../../src/mock-llm/server.ts';

const cli = join(import.meta.dirname, '..', '..', 'cmd', 'sluice.ts');

t.test(
  'SIGTERM during streams: readyz turns 503, no stream is cut, new connections are refused, exit 0',
  async (t) => {
    const mock = await startMockLlm();
    t.teardown(() => mock.close());
    const dir = t.testdir({});
    const file = join(dir, 'sluice.yaml');
    await writeFile(
      file,
      stringify({
        listener: { host: '127.0.0.1', port: 0 },
        admin: { host: '127.0.0.1', port: 0 },
        upstreams: { llm: { url: mock.url } },
        routes: [{ name: 'chat', upstream: 'llm', protocol: 'openai' }],
        shutdown: { drain_timeout_ms: 15000 },
      }),
    );
    const child = spawn(process.execPath, [cli, 'serve', '--config', file], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    t.teardown(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    const lines = createInterface({ input: child.stdout });
    const logs: Record<string, unknown>[] = [];
    const ready = new Promise<Record<string, unknown>>((resolve) =>
      lines.on('line', (line) => {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        logs.push(parsed);
        if (parsed['msg'] === 'sluice listening') resolve(parsed);
      }),
    );
    const listening = await ready;
    const proxy = `http://${listening['proxy']}`;
    const admin = String(listening['admin']);

    const streams = Array.from({ length: 8 }, async (_, i) => {
      const res = await request(`${proxy}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-mock-gap-ms': '40', 'x-mock-tokens': '20' },
        body: JSON.stringify({
          model: 'gpt-4o-mini',
          stream: true,
          messages: [{ role: 'user', content: `stream ${i}` }],
        }),
      });
      let text = '';
      let first: () => void = () => undefined;
      const started = new Promise<void>((resolve) => {
        first = resolve;
      });
      const done = (async () => {
        for await (const chunk of res.body) {
          text += chunk.toString();
          first();
        }
        return { status: res.statusCode, text };
      })();
      return { started, done };
    });
    const opened = await Promise.all(streams);
    await Promise.all(opened.map((s) => s.started));

    child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 150));
    const readiness = await request(`${admin}/readyz`);
    t.equal(readiness.statusCode, 503, '/readyz is 503 while draining');
    await readiness.body.dump();
    await t.rejects(
      request(`${proxy}/v1/models`, { reset: true }),
      'new connections are refused while draining',
    );

    const results = await Promise.all(opened.map((s) => s.done));
    for (const [i, r] of results.entries()) {
      t.equal(r.status, 200, `stream ${i} status`);
      t.ok(r.text.endsWith('data: [DONE]\n\n'), `stream ${i} complete (ends with [DONE])`);
    }
    const [code] = await once(child, 'exit');
    t.equal(code, 0, 'exit code 0 after draining');
    t.ok(
      logs.some((l) => l['msg'] === 'sluice stopped' && l['drained'] === true),
      'drained before stopping',
    );
  },
);
