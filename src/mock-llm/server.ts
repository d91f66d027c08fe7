/** Starting and stopping the mock LLM server (node:http, no framework). */
import { EventEmitter } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { handleMockRequest, type MockServerState } from './exchange.ts';
import { type MockLlmOptions, resolveMockLlmOptions } from './options.ts';
import { seededRandom } from './random.ts';
import { createRouter } from './router.ts';
import { createStats } from './stats.ts';
import type { MockLlm, MockLlmEvents, MockStats } from './types.ts';

export type { MockLlmOptions } from './options.ts';
export type { MockLlm, MockRequestInfo, MockStats } from './types.ts';

/**
 * Longer than the usual client pool idle timeouts (undici: 4 s), so under load the client, not the
 * mock, retires idle connections and benchmarks do not pay for reconnects.
 */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;

class RunningMockLlm extends EventEmitter<MockLlmEvents> implements MockLlm {
  url = '';
  port = 0;
  readonly stats: MockStats = createStats();
  readonly options: Readonly<MockLlmOptions>;
  readonly #server: Server;
  #closing: Promise<void> | undefined;

  constructor(server: Server, options: Readonly<MockLlmOptions>) {
    super();
    this.options = options;
    this.#server = server;
  }

  async listen(): Promise<void> {
    const server = this.#server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const { port } = server.address() as AddressInfo;
    const host = this.options.host.includes(':') ? `[${this.options.host}]` : this.options.host;
    this.url = `http://${host}:${port}`;
    this.port = port;
  }

  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve, reject) => {
      this.#server.close((error) => (error ? reject(error) : resolve()));
      this.#server.closeAllConnections();
    });
    return this.#closing;
  }
}

/** Starts a mock LLM backend; resolves once it listens. Options not given take their defaults. */
export async function startMockLlm(options: Partial<MockLlmOptions> = {}): Promise<MockLlm> {
  const resolved = resolveMockLlmOptions(options);
  const server = createServer();
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  const mock = new RunningMockLlm(server, resolved);
  const state: MockServerState = {
    options: resolved,
    router: createRouter(resolved.models),
    random: resolved.seed === undefined ? Math.random : seededRandom(resolved.seed),
    stats: mock.stats,
    events: mock,
    requestCount: 0,
  };
  server.on('request', (req, res) => {
    handleMockRequest(state, req, res).catch((error: unknown) => {
      // A bug in a handler must not take the mock down mid-benchmark; the client sees a plain 500.
      if (res.headersSent) res.destroy();
      else
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`mock-llm internal error: ${String(error)}`);
    });
  });
  await mock.listen();
  return mock;
}
