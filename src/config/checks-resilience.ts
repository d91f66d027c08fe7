/**
 * Checks of the resilience settings the schema cannot make: an upstream has a `url` or `targets`
 * (not both, not neither), target names are unique and their URLs usable, a failover chain names
 * known upstreams other than the route's own, and ranges whose two ends are separate keys hold.
 */
import type { ConfigIssue } from './errors.ts';
import { isRecord, type Loose } from './loose.ts';
import type { ConfigSource } from './source.ts';
import { didYouMean } from './suggest.ts';

type Path = (string | number)[];

export const NOT_A_URL = 'is not a valid URL';

/** A base URL's problem, or undefined when it is usable. */
export function baseUrlProblem(url: string): string | undefined {
  if (url.startsWith('mock://')) return undefined;
  if (!URL.canParse(url)) return NOT_A_URL;
  const parsed = new URL(url);
  if (parsed.search || parsed.hash) return 'must not have a query or fragment (it is a base URL for paths)';
  return undefined;
}

/** `low` must not exceed `high` when both are numbers; the issue goes on `high`. */
function ordered(source: ConfigSource, owner: unknown, at: Path, low: string, high: string): ConfigIssue[] {
  if (!isRecord(owner)) return [];
  const a = owner[low];
  const b = owner[high];
  if (typeof a !== 'number' || typeof b !== 'number' || b >= a) return [];
  return [source.valueIssue([...at, high], `must be at least ${low} (${a})`)];
}

function checkTargets(source: ConfigSource, name: string, upstream: Loose): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const at = ['upstreams', name];
  const { targets, url } = upstream;
  if (targets !== undefined && url !== undefined) {
    issues.push(source.keyIssue([...at, 'targets'], 'give either url or targets, not both'));
  } else if (targets === undefined && url === undefined) {
    issues.push(source.keyIssue(at, 'needs url (one backend) or targets (several)'));
  }
  if (!Array.isArray(targets)) return issues;
  const seen = new Map<string, number>();
  targets.forEach((target: unknown, index) => {
    if (!isRecord(target)) return;
    const path = [...at, 'targets', index];
    const targetName = target['name'];
    if (typeof targetName === 'string') {
      const first = seen.get(targetName);
      if (first !== undefined)
        issues.push(source.valueIssue([...path, 'name'], `duplicate target name (also targets[${first}])`));
      else seen.set(targetName, index);
    }
    const targetUrl = target['url'];
    const problem = typeof targetUrl === 'string' ? baseUrlProblem(targetUrl) : undefined;
    // Without the value: it may come from the environment, and this check cannot tell.
    if (problem !== undefined) issues.push(source.valueIssue([...path, 'url'], problem));
  });
  return issues;
}

function checkFailover(
  source: ConfigSource,
  route: Loose,
  index: number,
  upstreams: string[],
): ConfigIssue[] {
  const chain = route['failover'];
  if (!Array.isArray(chain)) return [];
  const issues: ConfigIssue[] = [];
  chain.forEach((name: unknown, position) => {
    if (typeof name !== 'string') return;
    const path = ['routes', index, 'failover', position];
    if (name === route['upstream']) {
      issues.push(
        source.valueIssue(path, `"${name}" is the route's own upstream; list the ones tried after it`),
      );
    } else if (!upstreams.includes(name)) {
      issues.push(
        source.valueIssue(
          path,
          `unknown upstream "${name}"${didYouMean(name, upstreams)}; upstreams are: ${upstreams.join(', ')}`,
        ),
      );
    }
  });
  return issues;
}

export function checkResilience(source: ConfigSource, data: Loose): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const upstreams = isRecord(data['upstreams']) ? data['upstreams'] : {};
  for (const [name, upstream] of Object.entries(upstreams)) {
    if (!isRecord(upstream)) continue;
    const at = ['upstreams', name];
    issues.push(
      ...checkTargets(source, name, upstream),
      ...ordered(source, upstream['breaker'], [...at, 'breaker'], 'window_buckets', 'window_ms'),
      ...ordered(
        source,
        upstream['outlier_detection'],
        [...at, 'outlier_detection'],
        'base_ejection_ms',
        'max_ejection_ms',
      ),
    );
  }
  const routes = Array.isArray(data['routes']) ? data['routes'] : [];
  routes.forEach((route: unknown, index) => {
    if (!isRecord(route)) return;
    const at = ['routes', index];
    issues.push(
      ...checkFailover(source, route, index, Object.keys(upstreams)),
      ...ordered(source, route['retry'], [...at, 'retry'], 'base_delay_ms', 'max_delay_ms'),
      ...ordered(source, route['hedge'], [...at, 'hedge'], 'min_delay_ms', 'max_delay_ms'),
    );
  });
  return issues;
}
