/**
 * Reload from the outside (SIGHUP, the opt-in file watch) and what happens to requests and
 * connections of the config being replaced.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { rename, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import t, { type Test } from 'tap';
import { request } from 'undici';
import { stringify } from 'yaml';
import { startEchoUpstream } from '../support/echo-upstream.ts';
import { singleRoute, startSluice, withTestDefaults } from '../support/sluice.ts';

const cli = join(import.meta.dirname, '..', '..', 'cmd', 'sluice.ts');

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

t.test('SIGHUP and the file watch reload a running `sluice serve`', { timeout: 30_000 }, async (t) => {
  const first = await startEchoUpstream(t, (_req, res) => res.end('first'));
  const second = await startEchoUpstream(t, (_req, res) => res.end('second'));
  const dir = t.testdir({});
  const file = join(dir, 'sluice.yaml');
  const config = (upstream: string) =>
    stringify(withTestDefaults({ ...singleRoute(upstream), reload: { watch: true, debounce_ms: 50 } }));
  await writeFile(file, config(first.url));
  const child = spawn(process.execPath, [cli, 'serve', '--config', file], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const lines = createInterface({ input: child.stdout! });
  const messages: string[] = [];
  let proxy = '';
  await new Promise<void>((resolve) => {
    lines.on('line', (line) => {
      const entry = JSON.parse(line) as { msg: string; proxy?: string };
      messages.push(entry.msg);
      if (entry.msg === 'sluice listening') {
        proxy = `http://${entry.proxy}`;
        resolve();
      }
    });
  });
  const answer = async () => (await request(`${proxy}/x`)).body.text();
  t.equal(await answer(), 'first');

  // The file is untouched, so only the signal can cause this reload.
  child.kill('SIGHUP');
  await until(async () => messages.filter((m) => m === 'config reloaded').length >= 1, 'the SIGHUP reload');
  t.equal(await answer(), 'first', 'SIGHUP on an unchanged file reloads the same config');

  // Editors and ConfigMaps replace the file; the watch sees the rename.
  await writeFile(join(dir, 'next.yaml'), config(second.url));
  await rename(join(dir, 'next.yaml'), file);
  await until(async () => (await answer()) === 'second', 'the file watch to pick up the new file');
  t.pass('the file watch reloaded the replaced file');

  child.kill('SIGTERM');
  const [code] = await once(child, 'exit');
  t.equal(code, 0);
});

/** An upstream that streams slowly and reports how many client connections it holds open. */
async function startSlowStreamer(t: Test): Promise<{ url: string; server: Server; release: () => void }> {
  let release = () => {};
  const released = new Promise<void>((r) => {
    release = r;
  });
  const server = createServer(async (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: old-1\n\n');
    await released;
    res.end('data: old-2\n\n');
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, release };
}

const openConnections = (server: Server) =>
  new Promise<number>((resolve, reject) =>
    server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
  );

t.test(
  'a request in flight finishes on the config it started with; the removed upstream pool then closes',
  { timeout: 30_000 },
  async (t) => {
    const old = await startSlowStreamer(t);
    const replacement = await startEchoUpstream(t, (_req, res) => res.end('new'));
    const running = await startSluice(t, {
      upstreams: { old: { url: old.url } },
      routes: [{ name: 'main', upstream: 'old' }],
    });
    const inFlight = await request(`${running.url}/stream`);
    const body = inFlight.body.text();
    await until(async () => (await openConnections(old.server)) === 1, 'the stream to start');

    await running.rewrite({
      upstreams: { fresh: { url: replacement.url } },
      routes: [{ name: 'main', upstream: 'fresh' }],
    });
    t.ok((await running.sluice.reload()).ok, 'reloaded');
    t.equal(await (await request(`${running.url}/x`)).body.text(), 'new', 'new requests use the new config');
    t.equal(await openConnections(old.server), 1, 'the old stream is still open');

    old.release();
    t.equal(await body, 'data: old-1\n\ndata: old-2\n\n', 'the in-flight stream finished, uncut');
    await until(
      async () => (await openConnections(old.server)) === 0,
      'the removed upstream pool to close its connections',
    );
    t.pass('the removed upstream has no connection left');
  },
);
