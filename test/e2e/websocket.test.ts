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

t.test('upgrades go to a target the balancer picks, with its key instead of the client’s', async (t) => {
  const upstream = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => upstream.once('listening', () => resolve()));
  const seen: { authorization?: string; key?: string }[] = [];
  upstream.on('connection', (socket, req) => {
    seen.push({
      authorization: req.headers.authorization,
      key: req.headers['api-key'] as string | undefined,
    });
    socket.close();
  });
  t.teardown(() => new Promise<void>((resolve) => upstream.close(() => resolve())));
  const port = (upstream.address() as AddressInfo).port;
  const { url } = await startSluice(t, {
    upstreams: {
      realtime: {
        targets: [
          { name: 'azure', url: `http://127.0.0.1:${port}`, api_key: 'azure-key', api_key_header: 'api-key' },
        ],
      },
      down: {
        url: 'http://127.0.0.1:9',
        health_check: { path: '/', interval_ms: 20, unhealthy_threshold: 1 },
      },
    },
    routes: [
      { name: 'ws', upstream: 'realtime', websocket: true, match: { path_prefix: '/v1/realtime' } },
      { name: 'gone', upstream: 'down', websocket: true, match: { path_prefix: '/gone' } },
    ],
  });
  const wsUrl = url.replace('http', 'ws');
  const client = new WebSocket(`${wsUrl}/v1/realtime`, { headers: { authorization: 'Bearer client-key' } });
  await new Promise<void>((resolve) => client.once('close', () => resolve()));
  t.same(seen, [{ authorization: undefined, key: 'azure-key' }]);

  // The only target of `down` refuses connections: its health check takes it out.
  const refusal = async () => {
    const ws = new WebSocket(`${wsUrl}/gone`);
    return new Promise<{ status: number; retryAfter: unknown }>((resolve) => {
      ws.once('unexpected-response', (_req, res) =>
        resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] }),
      );
      ws.once('error', () => resolve({ status: 0, retryAfter: undefined }));
    });
  };
  let answer = await refusal();
  for (let i = 0; i < 100 && answer.status !== 503; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    answer = await refusal();
  }
  t.equal(answer.status, 503, 'no target may take the tunnel');
  t.ok(Number(answer.retryAfter) >= 1, 'with Retry-After');
});
