/** Picks the route for a request: routes are tried in config order, the first whose match holds wins. */
import type { RouteMatch } from '../config/types.generated.ts';

export type RouteMatcher = (method: string, host: string, path: string) => boolean;

function hostMatcher(pattern: string): (host: string) => boolean {
  const wanted = pattern.toLowerCase();
  if (wanted.startsWith('*.')) {
    const suffix = wanted.slice(1);
    return (host) => host.endsWith(suffix) && host.length > suffix.length;
  }
  return (host) => host === wanted;
}

function prefixMatcher(prefix: string): (path: string) => boolean {
  if (prefix.endsWith('/')) return (path) => path.startsWith(prefix) || path === prefix.slice(0, -1);
  return (path) => path === prefix || path.startsWith(`${prefix}/`);
}

/** Host header without port, lower case; IPv6 literals keep their brackets. */
export function hostWithoutPort(header: string | undefined): string {
  if (!header) return '';
  const host = header.toLowerCase();
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  const colon = host.indexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}

export function compileMatch(match: Readonly<RouteMatch>): RouteMatcher {
  const methods = match.methods && match.methods.length > 0 ? new Set(match.methods) : undefined;
  const host = match.host ? hostMatcher(match.host) : undefined;
  const prefix = match.path_prefix ? prefixMatcher(match.path_prefix) : undefined;
  const regex = match.path_regex ? new RegExp(match.path_regex) : undefined;
  return (method, requestHost, path) =>
    (methods === undefined || methods.has(method)) &&
    (host === undefined || host(requestHost)) &&
    (prefix === undefined || prefix(path)) &&
    (regex === undefined || regex.test(path));
}

export interface Routable {
  readonly matches: RouteMatcher;
}

export function findRoute<T extends Routable>(
  routes: readonly T[],
  method: string,
  host: string,
  path: string,
): T | undefined {
  for (const route of routes) if (route.matches(method, host, path)) return route;
  return undefined;
}
