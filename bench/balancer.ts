/**
 * CPU a balancing decision costs: ns per `pick` for each strategy with 2, 5 and 20 targets, and per
 * request (pick + start + end, the bookkeeping around one attempt). Measured with process.cpuUsage
 * over many iterations after a warm-up, so it is CPU time, not wall time. Issue 7 budgets 5 µs for
 * balancing and breaker together.
 *
 *   node bench/balancer.ts [--iterations 1000000]
 */
import { parseArgs } from 'node:util';
import {
  type Balancer,
  createBalancer,
  type Strategy,
  strategies,
  type Target,
} from '../src/upstream/balancer.ts';

const { values } = parseArgs({ options: { iterations: { type: 'string', default: '1000000' } } });
const iterations = Number(values.iterations);

function targets(count: number): Target[] {
  return Array.from({ length: count }, (_, i) => ({
    name: `target-${i}`,
    weight: 1 + (i % 3),
    priority: i % 2,
    costPerRequest: 0.001 * (1 + (i % 4)),
  }));
}

function build(strategy: Strategy, count: number): Balancer {
  const balancer = createBalancer(targets(count), { strategy, maxOutstandingPerTarget: 64 });
  // Every target has a learned latency, as on a warm proxy.
  for (const target of balancer.targets) balancer.start(target).end({ latencyMs: 50 + target.name.length });
  return balancer;
}

/** CPU ns per call of `body`, after a warm-up so the JIT has settled. */
function measure(body: () => void): number {
  for (let i = 0; i < Math.min(iterations, 100_000); i++) body();
  const before = process.cpuUsage();
  for (let i = 0; i < iterations; i++) body();
  const used = process.cpuUsage(before);
  return ((used.user + used.system) * 1000) / iterations;
}

const exclude = new Set(['target-0']);
console.log(`iterations: ${iterations}`);
console.log('strategy               targets  pick ns  pick+exclude ns  request ns (pick+start+end)');
for (const strategy of strategies) {
  for (const count of [2, 5, 20]) {
    const balancer = build(strategy, count);
    const pick = measure(() => {
      balancer.pick();
    });
    const excluded = measure(() => {
      balancer.pick(exclude);
    });
    const request = measure(() => {
      const target = balancer.pick();
      if (target !== undefined) balancer.start(target).end({ latencyMs: 50 });
    });
    const cells = [strategy.padEnd(22), String(count).padStart(7), pick.toFixed(0).padStart(8)];
    cells.push(excluded.toFixed(0).padStart(16), request.toFixed(0).padStart(28));
    console.log(cells.join(' '));
  }
}
