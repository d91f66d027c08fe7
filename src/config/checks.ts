/**
 * Rules the JSON Schema cannot say: names that must be unique or must refer to something, and
 * combinations of settings. They run even when the schema found problems (guarding every access),
 * so one run reports everything.
 */
import { BlockList, isIP } from 'node:net';
import { checkAsCode } from './checks-ascode.ts';
import { checkCache } from './checks-cache.ts';
import { baseUrlProblem, checkResilience, NOT_A_URL } from './checks-resilience.ts';
import { checkTraffic } from './checks-traffic.ts';
import type { ConfigIssue } from './errors.ts';
import { describeValue, type InterpolatedPaths } from './interpolate.ts';
import { isRecord } from './loose.ts';
import { type ConfigSource, formatKeyPath, type KeySegment } from './source.ts';
import { didYouMean } from './suggest.ts';

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (bare === 'localhost') return true;
  const family = isIP(bare);
  // IPv4-mapped IPv6 (::ffff:127.0.0.1) is checked as IPv6; BlockList maps it to the IPv4 subnet.
  return family !== 0 && loopback.check(bare, family === 4 ? 'ipv4' : 'ipv6');
}

interface Context {
  readonly source: ConfigSource;
  readonly interpolated: InterpolatedPaths;
  readonly issues: ConfigIssue[];
}

function show(ctx: Context, path: readonly KeySegment[], value: unknown): string {
  return describeValue(ctx.interpolated, formatKeyPath(path), value);
}

function checkRoutes(ctx: Context, routes: unknown, upstreams: unknown): void {
  if (!Array.isArray(routes)) return;
  const upstreamNames = isRecord(upstreams) ? Object.keys(upstreams) : undefined;
  const firstIndexOf = new Map<string, number>();
  routes.forEach((route: unknown, index) => {
    if (!isRecord(route)) return;
    const { name, upstream } = route;
    if (typeof name === 'string') {
      const first = firstIndexOf.get(name);
      if (first === undefined) firstIndexOf.set(name, index);
      else {
        const path = ['routes', index, 'name'];
        ctx.issues.push(
          ctx.source.valueIssue(
            path,
            `duplicate route name ${show(ctx, path, name)} (also routes[${first}].name)`,
          ),
        );
      }
    }
    if (route['ensure_stream_usage'] === true && route['protocol'] !== 'openai') {
      ctx.issues.push(
        ctx.source.keyIssue(
          ['routes', index, 'ensure_stream_usage'],
          'applies to protocol: openai routes only (stream_options.include_usage is an OpenAI field)',
        ),
      );
    }
    if (typeof upstream === 'string' && upstreamNames && !upstreamNames.includes(upstream)) {
      const path = ['routes', index, 'upstream'];
      const known = upstreamNames.length > 0 ? `; upstreams are: ${upstreamNames.join(', ')}` : '';
      const hint = ctx.interpolated.has(formatKeyPath(path)) ? '' : didYouMean(upstream, upstreamNames);
      ctx.issues.push(
        ctx.source.valueIssue(path, `unknown upstream ${show(ctx, path, upstream)}${hint}${known}`),
      );
    }
  });
}

function checkUpstream(ctx: Context, name: string, upstream: unknown): void {
  if (!isRecord(upstream)) return;
  const { url, tls } = upstream;
  if (typeof url === 'string') {
    const path = ['upstreams', name, 'url'];
    const problem = baseUrlProblem(url);
    const message = problem === NOT_A_URL ? `${show(ctx, path, url)} ${problem}` : problem;
    if (message !== undefined) ctx.issues.push(ctx.source.valueIssue(path, message));
  }
  if (isRecord(tls) && (tls['cert_file'] === undefined) !== (tls['key_file'] === undefined)) {
    const given = tls['cert_file'] === undefined ? 'key_file' : 'cert_file';
    const missing = given === 'cert_file' ? 'key_file' : 'cert_file';
    ctx.issues.push(
      ctx.source.keyIssue(
        ['upstreams', name, 'tls', given],
        `needs ${missing} as well (mutual TLS takes both)`,
      ),
    );
  }
}

function checkAdmin(ctx: Context, admin: unknown): void {
  if (!isRecord(admin) || admin['enabled'] === false) return;
  const { host, token } = admin;
  if (typeof host !== 'string' || isLoopbackHost(host)) return;
  if (typeof token === 'string' && token.trim() !== '') return;
  const path = ['admin', 'host'];
  ctx.issues.push(
    ctx.source.valueIssue(
      path,
      `${show(ctx, path, host)} is not a loopback address, so admin.token must be set (or /admin/* would be open to the network)`,
    ),
  );
}

export function checkSemantics(
  data: unknown,
  source: ConfigSource,
  interpolated: InterpolatedPaths,
): ConfigIssue[] {
  const ctx: Context = { source, interpolated, issues: [] };
  if (!isRecord(data)) return ctx.issues;
  checkRoutes(ctx, data['routes'], data['upstreams']);
  if (isRecord(data['upstreams'])) {
    for (const [name, upstream] of Object.entries(data['upstreams'])) checkUpstream(ctx, name, upstream);
  }
  checkAdmin(ctx, data['admin']);
  ctx.issues.push(
    ...checkAsCode(source, data),
    ...checkCache(source, data),
    ...checkTraffic(source, data),
    ...checkResilience(source, data),
  );
  return ctx.issues;
}
