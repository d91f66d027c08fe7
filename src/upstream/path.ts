/** The path an upstream receives: the route's `strip_prefix` removed, the upstream URL's base path in front. */
export function forwardedPath(path: string, stripPrefix: string | undefined): string {
  if (stripPrefix === undefined || !path.startsWith(stripPrefix)) return path;
  // A prefix ending in `/` keeps that slash as the start of the remaining path.
  return path.slice(stripPrefix.endsWith('/') ? stripPrefix.length - 1 : stripPrefix.length) || '/';
}
