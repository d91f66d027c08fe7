/**
 * WebSocket upgrades pass through http-proxy-3 on routes that allow them (`websocket: true`);
 * other routes answer the upgrade request with the catalog's 404 and close.
 */
import { type IncomingMessage, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { createProxyServer } from 'http-proxy-3';
import { renderError, SluiceError } from '../pipeline/errors.ts';
import type { Generation } from '../server/generation.ts';
import { splitTarget } from '../server/proxy-handler.ts';
import { findRoute, hostWithoutPort } from '../server/router.ts';
import type { Telemetry } from '../telemetry/telemetry.ts';
import { unavailable } from './attempt-outcome.ts';
import { forwardedPath } from './path.ts';
import type { TargetRuntime } from './target.ts';

function refuse(socket: Duplex, error: SluiceError, protocol: 'openai' | 'anthropic' | 'passthrough'): void {
  const rendered = renderError(error, protocol, 'none');
  const retryAfter = rendered.headers['retry-after'];
  socket.end(
    `HTTP/1.1 ${rendered.status} ${STATUS_CODES[rendered.status]}\r\ncontent-type: application/json\r\n` +
      `content-length: ${Buffer.byteLength(rendered.body)}\r\nx-sluice-error: ${rendered.headers['x-sluice-error']}\r\n` +
      (retryAfter === undefined ? '' : `retry-after: ${retryAfter}\r\n`) +
      `connection: close\r\n\r\n${rendered.body}`,
  );
}

export function createUpgradeHandler(current: () => Generation, telemetry: Telemetry) {
  const proxy = createProxyServer({ ws: true, xfwd: true });
  proxy.on('error', (error, _req, socket) => {
    telemetry.logger.warn({ err: error }, 'websocket proxy error');
    if ('destroy' in socket) socket.destroy();
  });
  const upgrades = telemetry.metrics.websocketUpgrades;
  return function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const generation = current();
    const { path, search } = splitTarget(req.url ?? '/');
    const route = findRoute(generation.routes, req.method ?? 'GET', hostWithoutPort(req.headers.host), path);
    if (!route?.runtime.websocket) {
      upgrades.labels(route?.runtime.name ?? 'unmatched', 'rejected').inc();
      refuse(
        socket,
        new SluiceError(route ? 'websocket_not_allowed' : 'route_not_found'),
        route?.runtime.protocol ?? 'passthrough',
      );
      return;
    }
    const { runtime } = route;
    let upstream: TargetRuntime | undefined;
    for (const group of route.chain) {
      upstream = group.pickForTunnel();
      if (upstream !== undefined) break;
    }
    if (upstream === undefined) {
      upgrades.labels(runtime.name, 'rejected').inc();
      refuse(socket, unavailable(route.chain), runtime.protocol);
      return;
    }
    req.url = `${forwardedPath(path, runtime.stripPrefix)}${search}`;
    // As on HTTP requests: a key meant for one provider must not reach another.
    for (const name of upstream.removedHeaders) delete req.headers[name];
    generation.enter();
    socket.once('close', () => generation.leave());
    upgrades.labels(runtime.name, 'proxied').inc();
    const target = `${upstream.origin.replace(/^http/, 'ws')}${upstream.basePath}`;
    proxy.ws(req, socket, head, { target, headers: { ...upstream.addedHeaders } }, (error) => {
      upgrades.labels(runtime.name, 'failed').inc();
      telemetry.logger.warn({ err: error, route: runtime.name }, 'websocket upstream failed');
      socket.destroy();
    });
  };
}
