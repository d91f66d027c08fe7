import { createServer, request as nodeRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { request } from 'undici';
import { startEchoUpstream } from '../support/echo-upstream.ts';
import { singleRoute, startSluice } from '../support/sluice.ts';

interface NodeHttpAnswer {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: { json(): Promise<unknown> };
}

function sendWithNodeHttp(
  url: string,
  options: { method: string; headers: Record<string, string>; body: string },
): Promise<NodeHttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = nodeRequest(url, { method: options.method, headers: options.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () =>
        resolve({
          statusCode: res.statusCode ?? 0,
          headers: res.headers,
          body: { json: async () => JSON.parse(Buffer.concat(chunks).toString('utf8')) },
        }),
      );
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

interface Echoed {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

t.test(
  'forwards method, path, query, body and end-to-end headers; strips hop-by-hop both ways',
  async (t) => {
    const upstream = await startEchoUpstream(t);
    const { url, logs } = await startSluice(
      t,
      singleRoute(`${upstream.url}/base/`, 'passthrough', {
        route: { strip_prefix: '/api' },
        upstream: { api_key: 'sk-upstream-secret', headers: { 'x-team': 'core' } },
      }),
    );
    // node:http, because undici refuses to send the hop-by-hop headers this test is about.
    const res = await sendWithNodeHttp(`${url}/api/v1/items?x=1&y=2`, {
      method: 'POST',
      headers: {
        'content-type': 'text/plain',
        authorization: 'Bearer client-key',
        'x-custom': 'kept',
        connection: 'keep-alive, x-hop',
        'x-hop': 'dropped',
        'keep-alive': 'timeout=5',
        te: 'trailers',
        'x-request-id': 'req-123',
        traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
        'x-forwarded-for': '203.0.113.9',
      },
      body: 'hello',
    });
    const echoed = (await res.body.json()) as Echoed;
    t.equal(res.statusCode, 200);
    t.equal(echoed.method, 'POST');
    t.equal(
      echoed.url,
      '/base/v1/items?x=1&y=2',
      'strip_prefix removed, upstream base path added, query kept',
    );
    t.equal(echoed.body, 'hello');
    t.equal(echoed.headers['x-custom'], 'kept');
    t.equal(echoed.headers['x-team'], 'core', 'upstream headers added');
    t.equal(
      echoed.headers.authorization,
      'Bearer sk-upstream-secret',
      'configured api key replaces the client credential',
    );
    t.notOk(echoed.headers['x-hop'], 'header named in Connection is not forwarded');
    t.notOk(echoed.headers['keep-alive'], 'keep-alive is hop-by-hop');
    t.notOk(echoed.headers.te, 'te is hop-by-hop');
    t.equal(echoed.headers.host, new URL(upstream.url).host, 'Host is the upstream');
    t.equal(echoed.headers['x-request-id'], 'req-123', 'request id propagated');
    t.equal(
      echoed.headers.traceparent,
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      'traceparent propagated',
    );
    t.equal(
      echoed.headers['x-forwarded-for'],
      '127.0.0.1',
      'with no trusted hops, the client-sent XFF is replaced by the peer',
    );
    t.equal(echoed.headers['x-forwarded-proto'], 'http');
    t.equal(echoed.headers['x-forwarded-host'], new URL(url).host);
    t.equal(res.headers['x-request-id'], 'req-123', 'request id returned');
    t.equal(res.headers['x-upstream'], 'echo', 'end-to-end response headers pass back');
    t.notMatch(String(res.headers['keep-alive']), /max=977/, 'upstream keep-alive header is not passed back');
    t.match(
      String(res.headers['server-timing']),
      /^sluice;dur=\d+(\.\d{1,3})?, upstream;dur=\d+(\.\d{1,3})?$/,
    );

    const line = logs.find((l) => l['msg'] === 'request');
    t.ok(line, 'one access-log line');
    t.match(line, {
      request_id: 'req-123',
      route: 'main',
      upstream: 'backend',
      status: 200,
      method: 'POST',
      path: '/api/v1/items',
      client_ip: '127.0.0.1',
    });
    t.type(line?.['duration_ms'], 'number');
    t.type(line?.['overhead_ms'], 'number');
    t.equal(line?.['bytes_in'], 5);
    t.notMatch(JSON.stringify(logs), /sk-upstream-secret|client-key/, 'no secret in any log line');
  },
);

t.test('a request id is generated when the client sends none (or a bad one)', async (t) => {
  const upstream = await startEchoUpstream(t);
  const { url } = await startSluice(t, singleRoute(upstream.url));
  for (const sent of [undefined, 'bad id with spaces']) {
    const res = await request(`${url}/x`, { headers: sent ? { 'x-request-id': sent } : {} });
    const echoed = (await res.body.json()) as Echoed;
    t.match(String(res.headers['x-request-id']), /^[0-9a-f-]{36}$/);
    t.equal(echoed.headers['x-request-id'], res.headers['x-request-id']);
  }
});

t.test('trusted hops: the client IP is the right-most untrusted X-Forwarded-For entry', async (t) => {
  const upstream = await startEchoUpstream(t);
  const { url, logs } = await startSluice(
    t,
    singleRoute(upstream.url, 'passthrough', { top: { listener: { trusted_hops: 2 } } }),
  );
  const res = await request(`${url}/x`, {
    headers: { 'x-forwarded-for': '6.6.6.6, 198.51.100.7, 10.0.0.2' },
  });
  const echoed = (await res.body.json()) as Echoed;
  t.equal(echoed.headers['x-forwarded-for'], '6.6.6.6, 198.51.100.7, 10.0.0.2, 127.0.0.1', 'peer appended');
  t.equal(logs.find((l) => l['msg'] === 'request')?.['client_ip'], '198.51.100.7');
});

t.test('no route: 404 in the route protocol style with a stable code', async (t) => {
  const upstream = await startEchoUpstream(t);
  const { url } = await startSluice(
    t,
    singleRoute(upstream.url, 'openai', { route: { match: { path_prefix: '/v1' } } }),
  );
  const res = await request(`${url}/other`);
  t.equal(res.statusCode, 404);
  t.equal(res.headers['x-sluice-error'], 'sluice_route_not_found');
  const body = (await res.body.json()) as { error: { code: string; type: string; message: string } };
  t.equal(body.error.code, 'sluice_route_not_found');
  t.match(body.error.message, /routes/);
  t.equal(upstream.started, 0);
});

t.test('upstream failures map to 502/504 in the protocol shape', async (t) => {
  const refused = await new Promise<number>((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
  const openai = await startSluice(t, singleRoute(`http://127.0.0.1:${refused}`, 'openai'));
  let res = await request(`${openai.url}/v1/chat/completions`, { method: 'POST', body: '{}' });
  t.equal(res.statusCode, 502);
  t.match(await res.body.json(), { error: { code: 'sluice_upstream_connect_failed', type: 'api_error' } });

  const anthropic = await startSluice(t, singleRoute(`http://127.0.0.1:${refused}`, 'anthropic'));
  res = await request(`${anthropic.url}/v1/messages`, { method: 'POST', body: '{}' });
  t.equal(res.statusCode, 502);
  t.match(await res.body.json(), {
    type: 'error',
    error: { type: 'api_error', code: 'sluice_upstream_connect_failed' },
  });

  const slow = createServer((_req, res) => setTimeout(() => res.end('late'), 1500));
  await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    slow.closeAllConnections();
    slow.close();
  });
  const timeouts = await startSluice(
    t,
    singleRoute(`http://127.0.0.1:${(slow.address() as AddressInfo).port}`, 'openai', {
      upstream: { timeouts: { headers_ms: 200 } },
    }),
  );
  res = await request(`${timeouts.url}/v1/models`);
  t.equal(res.statusCode, 504);
  t.match(await res.body.json(), { error: { code: 'sluice_upstream_headers_timeout' } });

  const resetting = createServer((req) => req.socket.destroy());
  await new Promise<void>((resolve) => resetting.listen(0, '127.0.0.1', resolve));
  t.teardown(() => resetting.close());
  const resets = await startSluice(
    t,
    singleRoute(`http://127.0.0.1:${(resetting.address() as AddressInfo).port}`, 'openai'),
  );
  res = await request(`${resets.url}/v1/models`);
  t.equal(res.statusCode, 502);
  t.match(await res.body.json(), { error: { code: 'sluice_upstream_connection_reset' } });
});
