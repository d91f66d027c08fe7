/**
 * A target at run time: one backend URL of an upstream group, with its undici Pool (keep-alive
 * connections, the forwarding hot path), the headers it adds and its model-name mapping. Pools are
 * shared across reloads by their connection settings alone, so a reload that changes a weight, a
 * key or a mapping does not drop warm connections.
 *
 * An upstream with a single `url` is a group of one target named after the upstream.
 */
import { readFileSync } from 'node:fs';
import { Pool } from 'undici';
import type { UpstreamConfig, UpstreamTarget } from '../config/types.generated.ts';

export interface TargetRuntime {
  /** The upstream (group) this target belongs to: the `upstream` label. */
  readonly upstream: string;
  /** Unique within the upstream: the `target` label. */
  readonly name: string;
  readonly config: Readonly<UpstreamConfig>;
  readonly weight: number;
  readonly priority: number;
  /** `scheme://host:port` the pool connects to. */
  readonly origin: string;
  /** The URL's path without a trailing slash, prefixed to every forwarded path ('' for none). */
  readonly basePath: string;
  readonly pool: Pool;
  /** Headers set on every request, api key included; lower-case names. */
  readonly addedHeaders: Readonly<Record<string, string>>;
  /** Client credential headers dropped because this target sends its own key in another one. */
  readonly removedHeaders: readonly string[];
  /** Request `model` → the name this target knows it by; undefined when nothing is mapped. */
  readonly models: ReadonlyMap<string, string> | undefined;
  /** Identifies the config this runtime was built from (active checks restart when it changes). */
  readonly fingerprint: string;
  /** Identifies the pool's connection settings: runtimes with equal keys share one pool. */
  readonly poolKey: string;
}

/** The target list of an upstream: its `targets`, or its `url` as one target named after it. */
export function targetsOf(upstream: string, config: Readonly<UpstreamConfig>): readonly UpstreamTarget[] {
  if (config.targets !== undefined) return config.targets;
  return [
    {
      name: upstream,
      url: config.url ?? '',
      weight: 1,
      priority: 0,
      api_key: '',
      headers: {},
      models: {},
      prices: [],
    },
  ];
}

function addedHeaders(config: Readonly<UpstreamConfig>, target: Readonly<UpstreamTarget>) {
  const headers: Record<string, string> = {};
  const put = (from: Readonly<Record<string, string | undefined>>) => {
    for (const [name, value] of Object.entries(from))
      if (value !== undefined) headers[name.toLowerCase()] = value;
  };
  put(config.headers);
  put(target.headers);
  const { key, header } = apiKeyOf(config, target);
  if (key !== '') headers[header] = header === 'authorization' ? `Bearer ${key}` : key;
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

const credentialHeaders = ['authorization', 'x-api-key', 'api-key'] as const;

function apiKeyOf(config: Readonly<UpstreamConfig>, target: Readonly<UpstreamTarget>) {
  return {
    key: target.api_key !== '' ? target.api_key : config.api_key,
    header: target.api_key_header ?? config.api_key_header,
  };
}

/**
 * Which pool a target uses: its own (one per target, so `pool.connections` and the pool gauges stay
 * per target and upstream), kept while what the pool is built from is unchanged; everything else
 * may change without dropping its connections.
 */
export function poolKey(
  upstream: string,
  target: string,
  config: Readonly<UpstreamConfig>,
  resolvedUrl: string,
): string {
  const { timeouts, pool, tls } = config;
  return JSON.stringify({ upstream, target, origin: new URL(resolvedUrl).origin, timeouts, pool, tls });
}

export function createPool(config: Readonly<UpstreamConfig>, resolvedUrl: string): Pool {
  const url = new URL(resolvedUrl);
  return new Pool(url.origin, {
    connections: config.pool.connections,
    keepAliveTimeout: config.pool.keep_alive_timeout_ms,
    headersTimeout: config.timeouts.headers_ms,
    bodyTimeout: config.timeouts.body_idle_ms,
    connect: {
      timeout: config.timeouts.connect_ms,
      ...(url.protocol === 'https:' ? tlsOptions(config) : {}),
    },
  });
}

/** `resolvedUrl` is the target's `url`, or the built-in mock's address for `mock://` URLs. */
export function createTarget(
  upstream: string,
  config: Readonly<UpstreamConfig>,
  target: Readonly<UpstreamTarget>,
  resolvedUrl: string,
  pool: Pool,
): TargetRuntime {
  const url = new URL(resolvedUrl);
  const mapped = Object.entries(target.models);
  const { key, header } = apiKeyOf(config, target);
  const { headers, api_key, api_key_header } = config;
  return {
    upstream,
    name: target.name,
    config,
    weight: target.weight,
    priority: target.priority,
    origin: url.origin,
    basePath: url.pathname.replace(/\/+$/, ''),
    pool,
    addedHeaders: addedHeaders(config, target),
    // A key meant for one provider must not reach another in a header this target does not set.
    removedHeaders: key === '' ? [] : credentialHeaders.filter((name) => name !== header),
    models: mapped.length > 0 ? new Map(mapped) : undefined,
    fingerprint: JSON.stringify({
      upstream,
      shared: { headers, api_key, api_key_header },
      target,
      url: resolvedUrl,
    }),
    poolKey: poolKey(upstream, target.name, config, resolvedUrl),
  };
}
