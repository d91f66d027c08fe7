/**
 * The admin listener: /metrics, /healthz, /readyz and /admin/config on their own port (loopback by
 * default), so scrapes and probes never queue behind proxied traffic and the proxy port exposes
 * nothing of Sluice itself. /metrics and the health endpoints are open; /admin/* needs the token.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { ResponseCache } from '../cache/response-cache.ts';
import type { DeepReadonly } from '../config/freeze.ts';
import { redactConfig } from '../config/redact.ts';
import type { AdminConfig, SluiceConfig } from '../config/types.generated.ts';
import { expose } from '../telemetry/exposition.ts';
import type { Telemetry } from '../telemetry/telemetry.ts';
import { purgePrefix, readJson } from './admin-cache.ts';

export interface AdminDeps {
  telemetry: Telemetry;
  /** Config loaded and not draining. */
  isReady(): boolean;
  /** When given, /readyz tells draining apart from not ready yet. */
  isDraining?(): boolean;
  /** The current (reloadable) admin settings. */
  adminConfig(): Readonly<AdminConfig>;
  /** The current effective config; redacted here before it is sent. */
  effectiveConfig(): unknown;
  /** The response cache and the config that names its routes, for /admin/cache. */
  cache?: { readonly cache: ResponseCache; config(): DeepReadonly<SluiceConfig> };
}

export interface AdminServer {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

interface Answer {
  status: number;
  headers?: Record<string, string>;
  contentType: string;
  body: string;
}

type Handler = (req: IncomingMessage, deps: AdminDeps, log: Logger) => Promise<Answer> | Answer;

interface Endpoint {
  readonly methods: readonly string[];
  readonly handler: Handler;
  /** Scrapes come every few seconds; logging them would drown the log. */
  readonly quiet?: boolean;
}

const jsonType = 'application/json; charset=utf-8';

function json(status: number, value: unknown, headers?: Record<string, string>): Answer {
  return {
    status,
    contentType: jsonType,
    body: `${JSON.stringify(value, null, 2)}\n`,
    ...(headers && { headers }),
  };
}

function adminError(
  status: number,
  type: string,
  code: string,
  message: string,
  headers?: Record<string, string>,
) {
  return json(status, { error: { message, type, code } }, headers);
}

async function metrics(req: IncomingMessage, deps: AdminDeps, log: Logger): Promise<Answer> {
  for (const hook of deps.telemetry.beforeScrape) {
    try {
      hook();
    } catch (error) {
      // One broken gauge refresher must not cost the whole scrape.
      log.warn({ err: error }, 'a beforeScrape hook failed; its gauges may be stale');
    }
  }
  const { contentType, body } = await expose(deps.telemetry.registry, req.headers.accept);
  return { status: 200, contentType, body };
}

function readyz(_req: IncomingMessage, deps: AdminDeps): Answer {
  if (deps.isReady()) return json(200, { status: 'ready' });
  return json(503, { status: deps.isDraining?.() ? 'draining' : 'not_ready' });
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Hashing first gives equal-length inputs, so the comparison time says nothing about the token's length. */
function tokenMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? '');
  return match !== null && timingSafeEqual(digest(match[1]!), digest(token));
}

/** The 401 for a request to /admin/* without the admin token, or undefined when it may go on. */
function unauthorized(req: IncomingMessage, deps: AdminDeps, log: Logger): Answer | undefined {
  const { token } = deps.adminConfig();
  if (token === '' || tokenMatches(req.headers.authorization, token)) return undefined;
  log.warn({ client_ip: req.socket.remoteAddress, path: req.url }, 'admin request without a valid token');
  return adminError(
    401,
    'authentication_error',
    'sluice_admin_unauthorized',
    'This admin endpoint needs `Authorization: Bearer <admin.token>`.',
    { 'www-authenticate': 'Bearer realm="sluice-admin"' },
  );
}

function adminConfig(req: IncomingMessage, deps: AdminDeps, log: Logger): Answer {
  return unauthorized(req, deps, log) ?? json(200, redactConfig(deps.effectiveConfig()));
}

function cacheStats(req: IncomingMessage, deps: AdminDeps, log: Logger): Answer {
  const denied = unauthorized(req, deps, log);
  if (denied) return denied;
  if (!deps.cache)
    return adminError(404, 'not_found_error', 'sluice_admin_not_found', 'No cache in this process.');
  return json(200, deps.cache.cache.stats());
}

async function cachePurge(req: IncomingMessage, deps: AdminDeps, log: Logger): Promise<Answer> {
  const denied = unauthorized(req, deps, log);
  if (denied) return denied;
  if (!deps.cache)
    return adminError(404, 'not_found_error', 'sluice_admin_not_found', 'No cache in this process.');
  let request: unknown;
  try {
    request = await readJson(req);
  } catch (error) {
    return adminError(
      400,
      'invalid_request_error',
      'sluice_admin_bad_request',
      `Not JSON: ${(error as Error).message}`,
    );
  }
  const target = purgePrefix(request, deps.cache.config());
  if (!target.ok) return adminError(400, 'invalid_request_error', 'sluice_admin_bad_request', target.message);
  try {
    const purged = await deps.cache.cache.purge(target.prefix);
    log.info({ prefix: target.prefix, purged }, 'cache purged');
    return json(200, { purged });
  } catch (error) {
    // L1 is purged before L2 is asked: say that the shared tier still holds the entries.
    log.warn({ err: error, prefix: target.prefix }, 'cache purge: L1 purged, Redis (L2) failed');
    return adminError(
      503,
      'api_error',
      'sluice_admin_cache_unavailable',
      'The in-process cache was purged, but Redis (L2) could not be: its entries remain until they expire or a purge succeeds.',
    );
  }
}

const endpoints: ReadonlyMap<string, Endpoint> = new Map<string, Endpoint>([
  ['/metrics', { methods: ['GET'], handler: metrics, quiet: true }],
  ['/healthz', { methods: ['GET', 'HEAD'], handler: () => json(200, { status: 'ok' }) }],
  ['/readyz', { methods: ['GET', 'HEAD'], handler: readyz }],
  ['/admin/config', { methods: ['GET'], handler: adminConfig }],
  ['/admin/cache', { methods: ['GET'], handler: cacheStats }],
  ['/admin/cache/purge', { methods: ['POST'], handler: cachePurge }],
]);

async function answer(req: IncomingMessage, endpoint: Endpoint | undefined, deps: AdminDeps, log: Logger) {
  if (endpoint === undefined) {
    return adminError(404, 'not_found_error', 'sluice_admin_not_found', 'No admin endpoint at this path.');
  }
  if (!endpoint.methods.includes(req.method ?? '')) {
    const allow = endpoint.methods.join(', ');
    return adminError(405, 'invalid_request_error', 'sluice_admin_method_not_allowed', `Use ${allow}.`, {
      allow,
    });
  }
  return endpoint.handler(req, deps, log);
}

function send(req: IncomingMessage, res: ServerResponse, reply: Answer): void {
  res.writeHead(reply.status, {
    'content-type': reply.contentType,
    'content-length': Buffer.byteLength(reply.body),
    'cache-control': 'no-store',
    ...reply.headers,
  });
  res.end(req.method === 'HEAD' ? undefined : reply.body);
}

async function handle(req: IncomingMessage, res: ServerResponse, deps: AdminDeps, log: Logger) {
  req.resume(); // no endpoint reads a body; drain it so keep-alive works
  const path = (req.url ?? '/').split('?', 1)[0]!;
  const endpoint = endpoints.get(path);
  let reply: Answer;
  try {
    reply = await answer(req, endpoint, deps, log);
  } catch (error) {
    log.error({ err: error, path }, 'admin endpoint failed');
    reply = adminError(
      500,
      'api_error',
      'sluice_admin_internal_error',
      'The admin endpoint failed; see the log.',
    );
  }
  send(req, res, reply);
  if (!endpoint?.quiet) log.debug({ method: req.method, path, status: reply.status }, 'admin request');
}

function urlOf(address: AddressInfo): string {
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    // Scrapers keep connections alive between scrapes; without this close() waits for their timeout.
    server.closeIdleConnections();
  });
}

export function startAdminServer(
  listen: { host: string; port: number },
  deps: AdminDeps,
): Promise<AdminServer> {
  const log = deps.telemetry.logger.child({ component: 'admin' });
  // Admin requests are tiny; the keep-alive outlasts a 60 s scrape interval so scrapes reuse a connection.
  const timeouts = { requestTimeout: 30_000, headersTimeout: 10_000, keepAliveTimeout: 65_000 };
  const server = createServer(timeouts, (req, res) => {
    handle(req, res, deps, log).catch((error: unknown) => {
      log.error({ err: error }, 'admin response failed');
      res.destroy();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      server.on('error', (error) => log.error({ err: error }, 'admin listener error'));
      const address = server.address() as AddressInfo;
      resolve({ port: address.port, url: urlOf(address), close: () => closeServer(server) });
      log.info({ url: urlOf(address) }, 'admin listener started');
    });
  });
}
