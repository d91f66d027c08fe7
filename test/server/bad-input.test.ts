import { once } from 'node:events';
import { connect } from 'node:net';
import t from 'tap';
import { startEchoUpstream } from '../support/echo-upstream.ts';
import { sendRaw } from '../support/raw-http.ts';
import { singleRoute, startSluice } from '../support/sluice.ts';

const limits = {
  max_body_bytes: 1024,
  max_header_bytes: 2048,
  headers_timeout_ms: 400,
  request_timeout_ms: 2000,
};

t.test('malformed and oversized requests are answered by Sluice and never reach the upstream', async (t) => {
  const upstream = await startEchoUpstream(t);
  const openai = await startSluice(t, singleRoute(upstream.url, 'openai', { top: { listener: limits } }));
  const passthrough = await startSluice(
    t,
    singleRoute(upstream.url, 'passthrough', { top: { listener: limits } }),
  );
  const req = (headers: string) => `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n${headers}\r\n`;

  const cases: {
    name: string;
    url: string;
    chunks: string[];
    status: number;
    code?: string;
    pauseMs?: number;
  }[] = [
    {
      name: 'declared body over the limit',
      url: openai.url,
      chunks: [req('Content-Length: 5000\r\n')],
      status: 413,
      code: 'sluice_request_body_too_large',
    },
    {
      name: 'chunked body over the limit (LLM route reads it whole)',
      url: openai.url,
      chunks: [
        req('Transfer-Encoding: chunked\r\n'),
        `400\r\n${'a'.repeat(1024)}\r\n`,
        `400\r\n${'b'.repeat(1024)}\r\n`,
        '0\r\n\r\n',
      ],
      status: 413,
      code: 'sluice_request_body_too_large',
    },
    {
      name: 'Content-Length with Transfer-Encoding',
      url: openai.url,
      chunks: [req('Content-Length: 4\r\nTransfer-Encoding: chunked\r\n') + '0\r\n\r\n'],
      status: 400,
      code: 'sluice_bad_request',
    },
    {
      name: 'duplicate Content-Length',
      url: openai.url,
      chunks: [req('Content-Length: 4\r\nContent-Length: 5\r\n') + 'abcde'],
      status: 400,
      code: 'sluice_bad_request',
    },
    {
      name: 'duplicate identical Content-Length',
      url: openai.url,
      chunks: [req('Content-Length: 4\r\nContent-Length: 4\r\n') + 'abcd'],
      status: 400,
      code: 'sluice_bad_request',
    },
    {
      name: 'invalid Content-Length',
      url: openai.url,
      chunks: [req('Content-Length: 4x\r\n') + 'abcd'],
      status: 400,
      code: 'sluice_bad_request',
    },
    {
      name: 'CR inside a header value',
      url: openai.url,
      chunks: [req('X-Injected: a\rb\r\nContent-Length: 0\r\n')],
      status: 400,
      code: 'sluice_bad_request',
    },
    {
      name: 'oversized headers',
      url: openai.url,
      chunks: [req(`X-Big: ${'h'.repeat(4096)}\r\nContent-Length: 0\r\n`)],
      status: 431,
      code: 'sluice_request_headers_too_large',
    },
    {
      name: 'slow headers',
      url: openai.url,
      chunks: [
        'POST /v1/chat/completions HTTP/1.1\r\n',
        'Host: x\r\n',
        'X-Slow: 1\r\n',
        'X-Slow: 2\r\n',
        'X-Slow: 3\r\n',
      ],
      pauseMs: 300,
      status: 408,
      code: 'sluice_request_timeout',
    },
    {
      name: 'dot segments in the path',
      url: openai.url,
      chunks: ['GET /v1/../admin HTTP/1.1\r\nHost: x\r\n\r\n'],
      status: 400,
      code: 'sluice_bad_request',
    },
  ];
  for (const c of cases) {
    const answer = await sendRaw(c.url, c.chunks, { pauseMs: c.pauseMs ?? 0, timeoutMs: 5000 });
    t.equal(answer.status, c.status, `${c.name}: status`);
    if (c.code)
      t.equal(
        JSON.parse(answer.body || '{}').error?.code,
        c.code,
        `${c.name}: error code in the OpenAI shape`,
      );
    t.ok(answer.closedByServer, `${c.name}: connection closed by Sluice`);
  }
  t.equal(upstream.started, 0, 'the upstream saw none of these requests');

  // A streamed (passthrough) chunked body is cut at the limit; the upstream never gets a complete request.
  const streamed = await sendRaw(
    passthrough.url,
    [
      'POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n',
      `400\r\n${'a'.repeat(1024)}\r\n`,
      `400\r\n${'b'.repeat(1024)}\r\n`,
      '0\r\n\r\n',
    ],
    { pauseMs: 50 },
  );
  t.equal(streamed.status, 413, 'streamed body over the limit: 413');
  t.equal(upstream.seen.filter((s) => s.complete).length, 0, 'no complete request reached the upstream');
});

t.test(
  'a client that leaves in the middle of its body is logged as gone and reaches no upstream',
  async (t) => {
    const upstream = await startEchoUpstream(t);
    const { url, logs } = await startSluice(t, singleRoute(upstream.url, 'openai'));
    const { port } = new URL(url);
    const socket = connect(Number(port), '127.0.0.1');
    await once(socket, 'connect');
    socket.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"model":');
    await new Promise((r) => setTimeout(r, 100));
    socket.destroy();
    const deadline = Date.now() + 5000;
    while (!logs.some((l) => l['msg'] === 'request') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    t.match(
      logs.find((l) => l['msg'] === 'request'),
      { status: 499, error: 'client_closed_request' },
    );
    t.equal(upstream.started, 0, 'nothing was sent upstream');
    const next = await sendRaw(url, ['GET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n']);
    t.equal(next.status, 200, 'the next request is served');
  },
);
