/** An upstream group's choices: cost-aware picks by the request model's price, health gates targets. */
import t from 'tap';
import { parseConfig } from '../../src/config/load.ts';
import type { UpstreamConfig } from '../../src/config/types.generated.ts';
import { UpstreamGroup } from '../../src/upstream/group.ts';
import type { TargetRuntime } from '../../src/upstream/target.ts';

function upstreamConfig(yaml: string[]): UpstreamConfig {
  const text = [
    'upstreams:',
    '  g:',
    ...yaml.map((line) => `    ${line}`),
    'routes:',
    '  - { name: r, upstream: g }',
  ];
  return parseConfig(text.join('\n'), 'test.yaml', {}).config.upstreams['g'] as UpstreamConfig;
}

/** Runtimes without pools: the group never sends anything. */
function runtimes(config: UpstreamConfig): TargetRuntime[] {
  return (config.targets ?? []).map(
    (target) =>
      ({
        upstream: 'g',
        name: target.name,
        weight: target.weight,
        priority: target.priority,
        models: Object.keys(target.models).length > 0 ? new Map(Object.entries(target.models)) : undefined,
        fingerprint: target.name,
        poolKey: target.name,
      }) as unknown as TargetRuntime,
  );
}

const noEvents = {
  onTransition: () => undefined,
  onEjection: () => undefined,
  onHealthCheck: () => undefined,
};

t.test('cost-aware: the cheapest target for the request model, by target then upstream prices', async (t) => {
  const config = upstreamConfig([
    'balance: { strategy: cost-aware }',
    'prices: [{ model: "gpt-4o*", input: 2.5, output: 10 }]',
    'targets:',
    '  - { name: list-price, url: "http://a" }',
    '  - name: discounted',
    '    url: "http://b"',
    '    prices: [{ model: "gpt-4o", input: 1, output: 4 }]',
    '  - name: mapped',
    '    url: "http://c"',
    '    models: { gpt-4o-mini: small }',
    '    prices: [{ model: small, input: 0.1, output: 0.4 }]',
  ]);
  const group = new UpstreamGroup('g', config, noEvents);
  t.teardown(() => group.dispose());
  group.setTargets(config, runtimes(config), []);
  const pick = (model: string) => group.admit(undefined, model)?.target.name;
  t.equal(pick('gpt-4o'), 'discounted', 'its own price beats the upstream table');
  t.equal(pick('gpt-4o-mini'), 'mapped', 'priced under the name the target knows the model by');
  t.equal(pick('gpt-4o'), 'discounted', 'the per-model balancer is kept');
  t.equal(
    group.admit(new Set(['discounted']), 'gpt-4o')?.target.name,
    'list-price',
    'exclusions still apply',
  );
});

t.test('a target whose breaker is open is not admitted; the group says when one may be', async (t) => {
  const config = upstreamConfig([
    'breaker: { volume_threshold: 2, error_threshold_percent: 50, reset_timeout_ms: 60000 }',
    'targets: [{ name: a, url: "http://a" }, { name: b, url: "http://b" }]',
  ]);
  const transitions: string[] = [];
  const group = new UpstreamGroup('g', config, {
    ...noEvents,
    onTransition: (_upstream, transition) => transitions.push(`${transition.target}:${transition.to}`),
  });
  t.teardown(() => group.dispose());
  group.setTargets(config, runtimes(config), []);
  for (let i = 0; i < 2; i++) {
    const admitted = group.admit(new Set(['b']), undefined)!;
    group.health!.get(admitted.target.name)!.record(admitted.admission!, 503, 5);
  }
  t.same(transitions, ['a:open']);
  t.equal(group.availableCount(), 1);
  for (let i = 0; i < 4; i++) t.equal(group.admit(undefined, undefined)?.target.name, 'b');
  t.equal(group.admit(new Set(['b']), undefined), undefined, 'only the open target is left: none');
  t.equal(group.retryInMs(), 0, 'b may take traffic now');
});
