/** The mock's live counters, overall and per path, updated as requests start and end. */
import type { MockCounters, MockOutcome, MockStats } from './types.ts';

const zeroCounters = (): MockCounters => ({ started: 0, completed: 0, aborted: 0, reset: 0 });

export function createStats(): MockStats {
  return { ...zeroCounters(), byPath: {} };
}

function pathCounters(stats: MockStats, path: string): MockCounters {
  let counters = stats.byPath[path];
  if (!counters) {
    counters = zeroCounters();
    stats.byPath[path] = counters;
  }
  return counters;
}

export function countStart(stats: MockStats, path: string): void {
  stats.started++;
  pathCounters(stats, path).started++;
}

export function countOutcome(stats: MockStats, path: string, outcome: MockOutcome): void {
  stats[outcome]++;
  pathCounters(stats, path)[outcome]++;
}
