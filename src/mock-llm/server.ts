/** Starting and stopping the mock LLM server (node:http, no framework). */
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { handleMockRequest, type MockServerState } from './exchange.ts';
import { type MockFaults, type MockLlmOptions, resolveMockLlmOptions, withFaults } from './options.ts';
import { seededRandom } from './random.ts';
import { createRouter } from './router.ts';
import { createStats } from './stats.ts';
import type { MockLlm, MockLlmEvents, MockStats } from './types.ts';

export type { MockFaults, MockLlmOptions } from './options.ts';
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
  readonly #server: Server;
  readonly #state: MockServerState;
  #closing: Promise<void> | undefined;

  constructor(server: Server, options: Readonly<MockLlmOptions>) {
    super();
    this.#server = server;
    this.#state = {
      options,
      router: createRouter(options.models),
      random: options.seed === undefined ? Math.random : seededRandom(options.seed),
      stats: this.stats,
      events: this,
      requestCount: 0,
    };
  }

  get options(): Readonly<MockLlmOptions> {
    return this.#state.options;
  }

  setFaults(faults: MockFaults): void {
    this.#state.options = withFaults(this.#state.options, faults);
  }

  handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    return handleMockRequest(this.#state, req, res);
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
  server.on('request', (req, res) => {
    mock.handle(req, res).catch((error: unknown) => {
      // A bug in a handler must not take the mock down mid-benchmark; the client sees a plain 500.
      if (res.headersSent) res.destroy();
      else
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`mock-llm internal error: ${String(error)}`);
    });
  });
  await mock.listen();
  return mock;
}
