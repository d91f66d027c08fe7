/**
 * A validated config with the resilience keys added afterwards: the generators only ask whether
 * `breaker`, `outlier_detection`, `health_check`, `retry`, `hedge` and `failover` are set, so the
 * as-code tests do not depend on what the config schema accepts inside those sections.
 */
import type { DeepReadonly } from '../../src/config/freeze.ts';
import type { SluiceConfig } from '../../src/config/types.generated.ts';

type Config = DeepReadonly<SluiceConfig>;

export interface ResilienceKeys {
  /** Upstreams given a breaker and outlier detection, with the names of their targets (none: a single `url`). */
  readonly upstreams?: Readonly<Record<string, readonly string[]>>;
  /** Routes given `retry` (and `hedge` when `hedge` is true), and a failover chain when listed. */
  readonly routes?: Readonly<
    Record<string, { readonly hedge?: boolean; readonly failover?: readonly string[] }>
  >;
}

export function withResilience(config: Config, keys: ResilienceKeys): Config {
  const upstreams = Object.fromEntries(
    Object.entries(config.upstreams).map(([name, upstream]) => {
      const targets = keys.upstreams?.[name];
      if (targets === undefined) return [name, upstream];
      return [
        name,
        {
          ...upstream,
          breaker: {},
          outlier_detection: {},
          ...(targets.length > 0
            ? { targets: targets.map((target, i) => ({ name: target, url: `http://127.0.0.1:${9100 + i}` })) }
            : {}),
        },
      ];
    }),
  );
  const routes = config.routes.map((route) => {
    const added = keys.routes?.[route.name];
    if (added === undefined) return route;
    return {
      ...route,
      retry: {},
      ...(added.hedge ? { hedge: {} } : {}),
      ...(added.failover ? { failover: added.failover } : {}),
    };
  });
  return { ...config, upstreams, routes } as unknown as Config;
}
