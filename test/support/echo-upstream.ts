/** A plain node:http upstream that records what it received and answers with it as JSON. */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Test } from 'tap';

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** True when the whole body arrived; false when the request was aborted midway. */
  complete: boolean;
}

export interface EchoUpstream {
  readonly url: string;
  readonly seen: SeenRequest[];
  /** Requests whose headers arrived, complete or not. */
  started: number;
}

export type Responder = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;

const echo: Responder = (req, res, body) => {
  const payload = JSON.stringify({
    method: req.method,
    url: req.url,
    headers: req.headers,
    body: body.toString(),
  });
  res.writeHead(200, {
    'content-type': 'application/json',
    connection: 'keep-alive',
    'keep-alive': 'timeout=5, max=977',
    'x-upstream': 'echo',
  });
  res.end(payload);
};

export async function startEchoUpstream(t: Test, respond: Responder = echo): Promise<EchoUpstream> {
  const state: EchoUpstream = { url: '', seen: [], started: 0 };
  const server = createServer((req, res) => {
    state.started++;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => undefined);
    req.on('close', () => {
      if (!req.complete)
        state.seen.push({
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks),
          complete: false,
        });
    });
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      state.seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body,
        complete: true,
      });
      respond(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  (state as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return state;
}
