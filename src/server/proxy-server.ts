/** The client-facing node:http server with Sluice's limits and timeouts. */
import { createServer, type Server } from 'node:http';
import type { ListenerConfig } from '../config/types.generated.ts';
import { createUpgradeHandler } from '../upstream/websocket.ts';
import { createClientErrorHandler } from './client-errors.ts';
import type { Generation } from './generation.ts';
import { createProxyHandler, type ProxyState } from './proxy-handler.ts';

export function createProxyServer(listener: Readonly<ListenerConfig>, state: ProxyState): Server {
  const server = createServer(
    {
      maxHeaderSize: listener.max_header_bytes,
      headersTimeout: listener.headers_timeout_ms,
      requestTimeout: listener.request_timeout_ms,
      keepAliveTimeout: listener.keep_alive_timeout_ms,
      // Node checks the two timeouts above on this interval; its 30 s default would let slow headers linger.
      connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(listener.headers_timeout_ms / 4))),
      requireHostHeader: true,
      noDelay: true,
    },
    createProxyHandler(state),
  );
  server.on('clientError', createClientErrorHandler(state.telemetry.metrics, state.telemetry.logger));
  server.on(
    'upgrade',
    createUpgradeHandler((): Generation => state.current(), state.telemetry),
  );
  return server;
}

export function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}
