/**
 * Checks of the traffic-control settings the schema cannot make: unique policy names, Redis for the
 * policies that need it, LLM routes for what reads the request body, known priority classes, and
 * an adaptive range that holds the starting limit.
 */
import type { ConfigIssue } from './errors.ts';
import { isRecord, type Loose } from './loose.ts';
import type { ConfigSource } from './source.ts';

type Path = (string | number)[];

const DEFAULT_CLASSES = ['interactive', 'default', 'batch'];

function checkPolicies(source: ConfigSource, route: Loose, at: Path, hasRedis: boolean, llm: boolean) {
  const issues: ConfigIssue[] = [];
  const policies = route['rate_limits'];
  if (!Array.isArray(policies)) return issues;
  const seen = new Set<string>();
  policies.forEach((policy: unknown, index) => {
    if (!isRecord(policy)) return;
    const path = [...at, 'rate_limits', index];
    const name = policy['name'];
    if (typeof name === 'string') {
      if (seen.has(name))
        issues.push(source.keyIssue([...path, 'name'], `"${name}" is already a policy of this route`));
      seen.add(name);
    }
    if (policy['store'] === 'redis' && !hasRedis)
      issues.push(source.keyIssue([...path, 'store'], 'redis needs limits.redis: the replicas share it'));
    if (policy['unit'] === 'tokens' && !llm)
      issues.push(
        source.keyIssue(
          [...path, 'unit'],
          'tokens are read from the request and the usage the provider reports: they need protocol openai or anthropic and llm.accounting',
        ),
      );
    const keys = policy['key'];
    if (Array.isArray(keys) && keys.includes('model') && !llm)
      issues.push(
        source.keyIssue(
          [...path, 'key'],
          'model is read from the request body: it needs protocol openai or anthropic',
        ),
      );
    if (policy['burst'] !== undefined && policy['algorithm'] !== 'token_bucket')
      issues.push(source.keyIssue([...path, 'burst'], 'applies to algorithm: token_bucket only'));
  });
  return issues;
}

function checkPriority(source: ConfigSource, route: Loose, at: Path, classes: readonly string[]) {
  const issues: ConfigIssue[] = [];
  const priority = route['priority'];
  if (!isRecord(priority)) return issues;
  const unknown = (value: unknown, path: Path) => {
    if (typeof value === 'string' && !classes.includes(value))
      issues.push(
        source.valueIssue(
          path,
          `"${value}" is not a priority class (limits.priority_classes: ${classes.join(', ')})`,
        ),
      );
  };
  unknown(priority['class'], [...at, 'priority', 'class']);
  const mapped = priority['header_classes'];
  if (isRecord(mapped) && Object.keys(mapped).length > 0 && priority['header'] === undefined)
    issues.push(
      source.keyIssue(
        [...at, 'priority', 'header_classes'],
        'needs priority.header: the header whose values it maps',
      ),
    );
  if (isRecord(mapped))
    for (const [value, name] of Object.entries(mapped))
      unknown(name, [...at, 'priority', 'header_classes', value]);
  return issues;
}

function checkConcurrency(source: ConfigSource, owner: Loose, at: Path) {
  const concurrency = owner['concurrency'];
  if (!isRecord(concurrency) || !isRecord(concurrency['adaptive'])) return [];
  const adaptive = concurrency['adaptive'];
  const min = typeof adaptive['min_limit'] === 'number' ? adaptive['min_limit'] : 1;
  const max = typeof adaptive['max_limit'] === 'number' ? adaptive['max_limit'] : 1000;
  const start = concurrency['max_in_flight'];
  if (min > max)
    return [
      source.keyIssue([...at, 'concurrency', 'adaptive', 'min_limit'], `${min} is above max_limit (${max})`),
    ];
  if (typeof start === 'number' && (start < min || start > max))
    return [
      source.keyIssue(
        [...at, 'concurrency', 'max_in_flight'],
        `the adaptive limit starts here, so it must lie within min_limit..max_limit (${min}..${max})`,
      ),
    ];
  return [];
}

export function checkTraffic(source: ConfigSource, data: Loose): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const limits = isRecord(data['limits']) ? data['limits'] : {};
  const hasRedis = limits['redis'] !== undefined;
  const configured = limits['priority_classes'];
  const classes = Array.isArray(configured)
    ? configured.filter((c) => typeof c === 'string')
    : DEFAULT_CLASSES;
  const accounting = !isRecord(data['llm']) || data['llm']['accounting'] !== false;
  const routes = data['routes'];
  if (Array.isArray(routes))
    routes.forEach((route: unknown, index) => {
      if (!isRecord(route)) return;
      const at = ['routes', index];
      const protocol = route['protocol'] ?? 'passthrough';
      const llm = protocol !== 'passthrough' && accounting;
      issues.push(...checkPolicies(source, route, at, hasRedis, llm));
      issues.push(...checkPriority(source, route, at, classes));
      issues.push(...checkConcurrency(source, route, at));
      const upstreams = isRecord(data['upstreams']) ? data['upstreams'] : {};
      const upstream = typeof route['upstream'] === 'string' ? upstreams[route['upstream']] : undefined;
      if (
        route['priority'] !== undefined &&
        route['concurrency'] === undefined &&
        !(isRecord(upstream) && upstream['concurrency'] !== undefined)
      )
        issues.push(
          source.keyIssue(
            [...at, 'priority'],
            'orders concurrency queues, but neither this route nor its upstream has concurrency',
          ),
        );
      if (route['max_tokens'] !== undefined && protocol === 'passthrough')
        issues.push(source.keyIssue([...at, 'max_tokens'], 'needs protocol openai or anthropic'));
    });
  const upstreams = data['upstreams'];
  if (isRecord(upstreams))
    for (const [name, upstream] of Object.entries(upstreams))
      if (isRecord(upstream)) issues.push(...checkConcurrency(source, upstream, ['upstreams', name]));
  return issues;
}
