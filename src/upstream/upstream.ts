/**
 * An upstream at run time: its undici Pool (keep-alive connections, the forwarding hot path) and
 * the headers it adds. Upstreams whose config did not change are reused across reloads, so a
 * reload does not drop warm connections.
 */
import { readFileSync } from 'node:fs';
import { Pool } from 'undici';
import type { UpstreamConfig } from '../config/types.generated.ts';

export interface UpstreamRuntime {
  readonly name: string;
  readonly config: Readonly<UpstreamConfig>;
  /** `scheme://host:port` the pool connects to. */
  readonly origin: string;
  /** The URL's path without a trailing slash, prefixed to every forwarded path ('' for none). */
  readonly basePath: string;
  readonly pool: Pool;
  /** Headers set on every request, api key included; lower-case names. */
  readonly addedHeaders: Readonly<Record<string, string>>;
  /** Identifies the config this runtime was built from; equal fingerprints share one runtime across reloads. */
  readonly fingerprint: string;
}

function addedHeaders(config: Readonly<UpstreamConfig>): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(config.headers))
    if (value !== undefined) headers[name.toLowerCase()] = value;
  if (config.api_key !== '') {
    headers[config.api_key_header] =
      config.api_key_header === 'authorization' ? `Bearer ${config.api_key}` : config.api_key;
  }
  return headers;
}

function tlsOptions(config: Readonly<UpstreamConfig>) {
  const { tls } = config;
  return {
    rejectUnauthorized: tls.reject_unauthorized,
    ...(tls.ca_file ? { ca: readFileSync(tls.ca_file) } : {}),
    ...(tls.cert_file ? { cert: readFileSync(tls.cert_file) } : {}),
    ...(tls.key_file ? { key: readFileSync(tls.key_file) } : {}),
    ...(tls.servername ? { servername: tls.servername } : {}),
  };
}

export function upstreamFingerprint(
  name: string,
  config: Readonly<UpstreamConfig>,
  resolvedUrl: string,
): string {
  return JSON.stringify({ name, ...config, url: resolvedUrl });
}

/** `resolvedUrl` is `config.url`, or the built-in mock's address for `mock://` upstreams. */
export function createUpstream(
  name: string,
  config: Readonly<UpstreamConfig>,
  resolvedUrl: string,
): UpstreamRuntime {
  const url = new URL(resolvedUrl);
  const pool = new Pool(url.origin, {
    connections: config.pool.connections,
    keepAliveTimeout: config.pool.keep_alive_timeout_ms,
    headersTimeout: config.timeouts.headers_ms,
    bodyTimeout: config.timeouts.body_idle_ms,
    connect: {
      timeout: config.timeouts.connect_ms,
      ...(url.protocol === 'https:' ? tlsOptions(config) : {}),
    },
  });
  return {
    name,
    config,
    origin: url.origin,
    basePath: url.pathname.replace(/\/+$/, ''),
    pool,
    addedHeaders: addedHeaders(config),
    fingerprint: upstreamFingerprint(name, config, resolvedUrl),
  };
}
