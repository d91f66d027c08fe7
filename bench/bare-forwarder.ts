/**
 * The reference point for Sluice's overhead: the cheapest correct forwarder, node:http in front of
 * one keep-alive undici Pool. It forwards method, path, headers (minus hop-by-hop) and body, streams
 * the answer back, and aborts the upstream request when the client goes away. No logs, no metrics.
 *
 *   node bench/bare-forwarder.ts --upstream http://127.0.0.1:PORT [--port 0] [--connections 128]
 *                                [--api stream|request]
 *
 * `--api stream` (the default, and what the benchmark compares against) uses undici's pool.stream,
 * which writes the upstream body straight into the response. `--api request` uses pool.request and
 * stream.pipeline instead: also correct; compare them with the bench's --bare-api option.
 * Prints `{"msg":"bare-forwarder listening","url":"http://127.0.0.1:PORT"}` when ready.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { pipeline } from 'node:stream';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';

/** RFC 9110 §7.6.1 connection-specific fields, plus Host (undici sets the upstream's). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
]);

type Headers = Record<string, string | string[] | undefined>;
export type ForwarderApi = 'stream' | 'request';

function endToEnd(headers: IncomingHttpHeaders | Headers): Headers {
  const kept: Headers = {};
  for (const name in headers) if (!HOP_BY_HOP.has(name)) kept[name] = headers[name];
  return kept;
}

function badGateway(res: ServerResponse): void {
  if (res.headersSent || res.destroyed) return void res.destroy();
  res.writeHead(502, { 'content-type': 'text/plain' }).end('bad gateway\n');
}

export function createBareForwarder(upstream: string, connections: number, api: ForwarderApi = 'stream') {
  const pool = new Pool(upstream, { connections, pipelining: 1 });
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const abort = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    const method = req.method ?? 'GET';
    const options = {
      method,
      path: req.url ?? '/',
      headers: endToEnd(req.headers),
      body: method === 'GET' || method === 'HEAD' ? null : req,
      signal: abort.signal,
    };
    if (api === 'stream') {
      // A client that goes away destroys `res`, which makes undici abort the upstream transfer.
      pool
        .stream(options, ({ statusCode, headers }) => res.writeHead(statusCode, endToEnd(headers)))
        .catch(() => badGateway(res));
      return;
    }
    pool.request(options).then(
      ({ statusCode, headers, body }) => {
        res.writeHead(statusCode, endToEnd(headers));
        pipeline(body, res, () => {});
      },
      () => badGateway(res),
    );
  });
  return { server, pool };
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      upstream: { type: 'string' },
      port: { type: 'string', default: '0' },
      connections: { type: 'string', default: '128' },
      api: { type: 'string', default: 'stream' },
    },
  });
  if (!values.upstream) throw new Error('--upstream URL is required');
  if (values.api !== 'stream' && values.api !== 'request') throw new Error('--api must be stream or request');
  const { server, pool } = createBareForwarder(values.upstream, Number(values.connections), values.api);
  server.listen(Number(values.port), '127.0.0.1', () => {
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    console.log(JSON.stringify({ msg: 'bare-forwarder listening', url: `http://127.0.0.1:${port}` }));
  });
  const stop = () => {
    server.close();
    server.closeAllConnections();
    void pool.close();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
