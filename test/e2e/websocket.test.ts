import type { AddressInfo } from 'node:net';
import t from 'tap';
import { WebSocket, WebSocketServer } from 'ws';
import { startSluice } from '../support/sluice.ts';

t.test('WebSocket upgrades pass through on routes that allow them, and only there', async (t) => {
  const upstream = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => upstream.once('listening', () => resolve()));
  const seenPaths: string[] = [];
  upstream.on('connection', (socket, req) => {
    seenPaths.push(req.url ?? '');
    socket.on('message', (data, isBinary) =>
      socket.send(isBinary ? data : `echo:${data.toString()}`, { binary: isBinary }),
    );
  });
  t.teardown(() => new Promise<void>((resolve) => upstream.close(() => resolve())));
  const { url } = await startSluice(t, {
    upstreams: { realtime: { url: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}` } },
    routes: [
      { name: 'ws', upstream: 'realtime', websocket: true, match: { path_prefix: '/v1/realtime' } },
      { name: 'plain', upstream: 'realtime', match: { path_prefix: '/' } },
    ],
  });
  const wsUrl = url.replace('http', 'ws');

  const client = new WebSocket(`${wsUrl}/v1/realtime?model=x`);
  await new Promise<void>((resolve, reject) => {
    client.once('open', () => resolve());
    client.once('error', reject);
  });
  const replies: string[] = [];
  const got = new Promise<void>((resolve) =>
    client.on('message', (data) => {
      replies.push(data.toString());
      if (replies.length === 3) resolve();
    }),
  );
  for (const text of ['one', 'two', 'three']) client.send(text);
  await got;
  t.same(replies, ['echo:one', 'echo:two', 'echo:three'], 'every message echoed in order');
  t.same(seenPaths, ['/v1/realtime?model=x'], 'path and query forwarded');
  client.close();

  const refused = new WebSocket(`${wsUrl}/other`);
  const status = await new Promise<number>((resolve) => {
    refused.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    refused.once('open', () => resolve(101));
    refused.once('error', () => undefined);
  });
  t.equal(status, 404, 'a route without websocket: true refuses the upgrade');
  t.equal(seenPaths.length, 1, 'the refused upgrade never reached the upstream');
});
